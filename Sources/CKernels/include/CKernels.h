// Hand-vectorised kernels that need instruction sets Swift code cannot ask for per function, chosen
// at run time (Tensor/Kernels.swift). Imported by Tensor/Kernels.swift, Tensor/Activations.swift and
// Tensor/PackedProduct.swift.
#ifndef RNNKIT_CKERNELS_H
#define RNNKIT_CKERNELS_H

/// The vector instruction sets this CPU and its OS support, checked once: RNNKIT_ISA_AVX2 (AVX2 and
/// FMA) and RNNKIT_ISA_AVX512 (AVX-512 F, BW, DQ and VL, with the OS saving zmm state); 0 on other
/// CPUs.
int rnnkit_cpu_isa(void);
enum { RNNKIT_ISA_AVX2 = 1, RNNKIT_ISA_AVX512 = 2 };

/// Floats a packed (k, n) right operand takes: k rows of n rounded up to 32 (an even number of
/// 16-column panels).
long rnnkit_packed_size(long k, long n);
/// Packs B (k, n) for rnnkit_sgemm_packed_*: B[p][j] is b[p * ldb + j] as stored, or
/// b[j * ldb + p] when `transposed` (B is then the transpose of an (n, k) row-major matrix).
/// `packed` holds rnnkit_packed_size(k, n) floats. Plain C, any CPU.
void rnnkit_pack(const float *b, long ldb, int transposed, long k, long n, float *packed);

/// Floats rnnkit_pack_lstm's layout of an LSTM layer's weights takes: 4 panels of k = F + H rows
/// for every 16 units, 2 for a last block of 8 units or fewer.
long rnnkit_lstm_packed_size(long k, long H);
/// Packs [W_ih, W_hh] of an LSTM layer (W_ih (4H, F) and W_hh (4H, H), row-major, gates i f g o)
/// for rnnkit_lstm_step_*, the unit blocks [firstBlock, firstBlock + blocks) of it: for each block
/// of w = 16 units (fewer in the last, w = H − 16·u), panels of the layout of rnnkit_pack whose
/// columns are gates i, f, g, o of those units, w columns each (4 panels; 2 where w ≤ 8), so that
/// the columns of one register tile belong to the same units and a short last block costs no more
/// columns than it needs, rounded up to 32. Block u starts u · 64 · k floats in. Zeros past 4w.
/// Plain C, any CPU.
void rnnkit_pack_lstm(const float *wih, long F, const float *whh, long H, long firstBlock, long blocks, float *packed);
/// The 16-column panels rnnkit_pack_lstm writes for unit block u of an LSTM of H units.
static inline long rnnkit_lstm_block_panels(long H, long u) { return H - 16 * u <= 8 ? 2 : 4; }

// The kernels of wide.h, one set per build:
//   avx512        AVX-512 F/BW/DQ/VL (needs RNNKIT_ISA_AVX512): register tiles of 8 × 32;
//   avx2          AVX2 + FMA (needs RNNKIT_ISA_AVX2): register tiles of 6 × 16;
//   avx512_logic  the avx512 build's blocking compiled for AVX2 (needs RNNKIT_ISA_AVX2), so that the
//                 tests run its logic on CPUs without AVX-512. Slow: its accumulators spill.
//
// rnnkit_sigmoid_* / rnnkit_tanh_*: x[i] ← 1 / (1 + e^(−x[i])) or tanh(x[i]) for i < count (sigmoid
// through Cephes' expf polynomial, relative error about 1e-7; tanh a rational fit, within 3.1e-7, 5
// ulp of 1; NaN stays NaN).
// rnnkit_lstm_cell_*: one LSTM step of `units` units of one sample. g holds the pre-activations of
// the gates i, f, g, o, `stride` floats apart; c ← f·c + i·g, then h and y ← o·tanh(c). When tc is
// not NULL (training), tc ← tanh(c) and the gates are activated in place; else g is left as it is.
// rnnkit_gru_cell_*: one GRU step of `units` units of one sample. g holds the input parts of the
// pre-activations of r, z, n (b_ih + W_ih·x), `stride` apart, hw the recurrent parts (W_hh·h +
// b_hh), `hiddenStride` apart: r, z ← sigmoid(g + hw), n ← tanh(g_n + r·hw_n), h and y ←
// (1 − z)·n + z·h. When side is not NULL (training), side ← hw_n and r, z, n replace g.
// rnnkit_lstm_cell_backward_*: the gradients of one LSTM step of `units` units of one sample. g holds
// the activated gates i, f, g, o and dg receives the gradients of their pre-activations, both
// `stride` apart; tc is tanh(c) after the step, cPrev c before it. With dh_t = dh + dy and
// dc_t = dc + dh_t·o·(1 − tc²): dg ← (dc_t·g·i(1 − i), dc_t·cPrev·f(1 − f), dc_t·i(1 − g²),
// dh_t·tc·o(1 − o)), dc ← dc_t·f, dh ← 0 (for the recurrent product to add onto).
// rnnkit_gru_cell_backward_*: the same for one GRU step: g holds the activated r, z, n, `stride`
// apart, hPrev the state before the step, hn what rnnkit_gru_cell put in `side`. With
// dh_t = dh + dy, dn = dh_t(1 − z)(1 − n²), dr = dn·hn·r(1 − r), dz = dh_t(hPrev − n)·z(1 − z):
// dgi ← (dr, dz, dn) (the input pre-activations), dgh ← (dr, dz, dn·r) (the recurrent ones),
// dh ← dh_t·z.
// rnnkit_column_sums_*: sums[j] += Σ_r m[r·ldm + j] for r < rows, j < columns, each column summed
// in row order with no other rounding than the scalar loop's (bit for bit the same).
// rnnkit_sgemm_packed_*: C (m, n) += A (m, k) · B with B packed by rnnkit_pack; A and C row-major
// with row strides lda and ldc. With `base` (n values), every row of C is set to base + its row of
// A · B instead, without reading C.
// rnnkit_lstm_step_*: one step of an LSTM layer for m samples: the gates bias + A · [W_ih, W_hh]ᵀ
// (packed by rnnkit_pack_lstm, k = F + H rows; `bias` 64 values per 16 units, laid out like one row
// of that block's packed columns; with `ids`, row r's own bias row, at bias + ids[r]·ldb, which may
// hold a token's part of the product), then c ← f·c + i·g and hOut, y ← o·tanh(c), 16 units at a
// time on a register tile's results, so that the gates never leave the cache's nearest level. A's rows are
// the k1 values at a1 followed by the k − k1 at a2 (inference: x_t and h where they are; training:
// the trace's [x_t, h] rows, k1 = k). c, hOut and y are row-major with their row strides; hOut must
// not overlap what A reads. With gatesOut (training), the activated gates go there too, (m, 4H)
// in blocks i, f, g, o, and tanh(c) to tanhC, (m, H).
// rnnkit_adam_*: Adam's update of `count` parameters w with gradients g and moments m, v:
// m ← b1·m + (1 − b1)·g, v ← b2·v + (1 − b2)·g·g, w ← w − stepSize·m / (√v / rootCorrection2 + eps),
// each operation rounded on its own (no fused multiply-add), as Optimizers.swift's scalar loop does.
// rnnkit_fma_peak_*: `iterations` rounds of independent register-only multiply-adds, started from
// *sink (pass 1) and summed back into it, so that none is optimised away; returns the FLOPs done.
#define RNNKIT_WIDE_KERNELS(suffix)                                                                          \
    void rnnkit_sigmoid_##suffix(float *x, long count);                                                      \
    void rnnkit_tanh_##suffix(float *x, long count);                                                         \
    void rnnkit_lstm_cell_##suffix(long units, float *g, long stride, float *c, float *h, float *y, float *tc);  \
    void rnnkit_gru_cell_##suffix(long units, float *g, long stride, const float *hw, long hiddenStride, float *h, \
                                  float *y, float *side);                                                    \
    void rnnkit_lstm_cell_backward_##suffix(long units, const float *g, long stride, const float *tc,             \
                                            const float *cPrev, const float *dy, float *dh, float *dc, float *dg); \
    void rnnkit_gru_cell_backward_##suffix(long units, const float *g, long stride, const float *hPrev,            \
                                           const float *hn, const float *dy, float *dh, float *dgi, float *dgh);  \
    void rnnkit_column_sums_##suffix(long rows, long columns, const float *m, long ldm, float *sums);           \
    void rnnkit_sgemm_packed_##suffix(long m, long n, long k, const float *a, long lda, const float *packed, \
                                      const float *base, float *c, long ldc);                               \
    void rnnkit_lstm_step_##suffix(long m, long H, long k, long k1, const float *a1, long lda1, const float *a2, \
                                   long lda2, const float *packed, const float *bias, const long *ids, long ldb, \
                                   float *c, long ldc, float *hOut, long ldo, float *y, long ldy,              \
                                   float *gatesOut, float *tanhC);                                             \
    void rnnkit_adam_##suffix(long count, float *w, const float *g, float *m, float *v, float b1, float b2,     \
                              float stepSize, float rootCorrection2, float eps);                              \
    double rnnkit_fma_peak_##suffix(long iterations, float *sink);
RNNKIT_WIDE_KERNELS(avx512)
RNNKIT_WIDE_KERNELS(avx2)
RNNKIT_WIDE_KERNELS(avx512_logic)

#endif
