// Packing of a right operand used many times (the recurrent weights, which every step of a sequence
// multiplies with) for the products of wide.h. A general BLAS call repacks them on every call; for
// the per-step shapes (tens of rows, hundreds or thousands of columns) that repacking and BLAS's
// blocking for large matrices cost a sixth to a third of the time.
//
// Packed layout: the n columns of B in panels of 16; panel j holds, for p = 0..<k, the 16 values
// B[p][16j ..< 16j + 16] contiguously (zeros past n), and the panel count is even. Plain C, any CPU.
#include "CKernels.h"
#include <string.h>

long rnnkit_packed_size(long k, long n) { return (n + 31) / 32 * 32 * k; }

void rnnkit_pack(const float *b, long ldb, int transposed, long k, long n, float *packed) {
    long panels = (n + 31) / 32 * 2;  // an even number: wide.h's two-panel tiles read panels in pairs
    for (long j = 0; j < panels; j++) {
        float *panel = packed + j * k * 16;
        long cols = n - j * 16 < 16 ? n - j * 16 : 16;
        if (transposed) {
            // B[p][j] = b[j * ldb + p]: read each source row once, write it down the panel.
            for (long c = 0; c < 16; c++) {
                const float *row = b + (j * 16 + c) * ldb;
                for (long p = 0; p < k; p++) panel[p * 16 + c] = c < cols ? row[p] : 0;
            }
        } else if (cols == 16) {
            // A whole panel: 16 floats a row, one copy each.
            for (long p = 0; p < k; p++) memcpy(panel + p * 16, b + p * ldb + j * 16, 16 * sizeof(float));
        } else {
            for (long p = 0; p < k; p++)
                for (long c = 0; c < 16; c++) panel[p * 16 + c] = c < cols ? b[p * ldb + j * 16 + c] : 0;
        }
    }
}

long rnnkit_lstm_packed_size(long k, long H) {
    long blocks = (H + 15) / 16;
    return ((blocks - 1) * 4 + rnnkit_lstm_block_panels(H, blocks - 1)) * 16 * k;
}

void rnnkit_pack_lstm(const float *wih, long F, const float *whh, long H, long firstBlock, long blocks, float *packed) {
    long k = F + H;
    for (long u = firstBlock; u < firstBlock + blocks; u++) {
        long w = H - 16 * u < 16 ? H - 16 * u : 16, panels = rnnkit_lstm_block_panels(H, u);
        for (long column = 0; column < panels * 16; column++) {
            float *panel = packed + (u * 4 + column / 16) * k * 16;
            long c = column % 16, gate = column / w, unit = 16 * u + column % w;
            if (gate >= 4) {
                for (long p = 0; p < k; p++) panel[p * 16 + c] = 0;
                continue;
            }
            // Row gate·H + unit of [W_ih, W_hh]: read once, written down the panel.
            const float *ri = wih + (gate * H + unit) * F, *rh = whh + (gate * H + unit) * H;
            for (long p = 0; p < F; p++) panel[p * 16 + c] = ri[p];
            for (long p = 0; p < H; p++) panel[(F + p) * 16 + c] = rh[p];
        }
    }
}
