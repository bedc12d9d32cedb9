// Single-precision matrix product against a right operand packed once and used many times: the
// recurrent weights, which every step of a sequence multiplies with. A general BLAS call repacks
// them on every call; for the per-step shapes (tens of rows, hundreds or thousands of columns) that
// repacking and BLAS's blocking for large matrices cost a sixth to a third of the time.
//
// Packed layout: the n columns of B in panels of 16; panel j holds, for p = 0..<k, the 16 values
// B[p][16j ..< 16j + 16] contiguously (zeros past n). The kernel keeps a 6 × 16 block of C in twelve
// AVX registers and walks k, one panel load and six broadcasts of A per step. Blocks of 96 rows of A
// and 512 of k keep A in L2 while the panels stream through L1.
#include "CKernels.h"

long rnnkit_packed_size(long k, long n) { return (n + 15) / 16 * 16 * k; }

void rnnkit_pack(const float *b, long ldb, int transposed, long k, long n, float *packed) {
    long panels = (n + 15) / 16;
    for (long j = 0; j < panels; j++) {
        float *panel = packed + j * k * 16;
        long cols = n - j * 16 < 16 ? n - j * 16 : 16;
        if (transposed) {
            // B[p][j] = b[j * ldb + p]: read each source row once, write it down the panel.
            for (long c = 0; c < 16; c++) {
                const float *row = b + (j * 16 + c) * ldb;
                for (long p = 0; p < k; p++) panel[p * 16 + c] = c < cols ? row[p] : 0;
            }
        } else {
            for (long p = 0; p < k; p++)
                for (long c = 0; c < 16; c++) panel[p * 16 + c] = c < cols ? b[p * ldb + j * 16 + c] : 0;
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// C[0..<MR][0..<cols] += A[0..<MR][0..<k] · panel, A's rows lda apart; with `base`, C's rows are
// replaced by base[0..<cols] + A · panel instead (C is not read).
#define KERNEL(MR)                                                                                  \
    AVX2 static void kernel##MR(long k, const float *a, long lda, const float *panel, float *c,     \
                                long ldc, long cols, const float *base) {                           \
        __m256 lo[MR], hi[MR];                                                                      \
        for (int r = 0; r < MR; r++) { lo[r] = _mm256_setzero_ps(); hi[r] = _mm256_setzero_ps(); } \
        for (long p = 0; p < k; p++) {                                                              \
            __m256 b0 = _mm256_loadu_ps(panel + p * 16), b1 = _mm256_loadu_ps(panel + p * 16 + 8);  \
            for (int r = 0; r < MR; r++) {                                                          \
                __m256 av = _mm256_broadcast_ss(a + r * lda + p);                                   \
                lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);                                             \
                hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);                                             \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < MR; r++) {                                                              \
            float *row = c + r * ldc;                                                               \
            if (cols == 16) {                                                                       \
                const float *add = base ? base : row;                                               \
                lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(add));                                 \
                hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(add + 8));                             \
                _mm256_storeu_ps(row, lo[r]);                                                       \
                _mm256_storeu_ps(row + 8, hi[r]);                                                   \
            } else {                                                                                \
                float tile[16];                                                                     \
                _mm256_storeu_ps(tile, lo[r]);                                                      \
                _mm256_storeu_ps(tile + 8, hi[r]);                                                  \
                for (long j = 0; j < cols; j++) row[j] = (base ? base[j] : row[j]) + tile[j];       \
            }                                                                                       \
        }                                                                                           \
    }

KERNEL(1) KERNEL(2) KERNEL(3) KERNEL(4) KERNEL(5) KERNEL(6)

typedef void (*Kernel)(long, const float *, long, const float *, float *, long, long, const float *);
static const Kernel kernels[7] = {0, kernel1, kernel2, kernel3, kernel4, kernel5, kernel6};

enum { rowBlock = 96, depthBlock = 512 };

void rnnkit_sgemm_packed_avx2(long m, long n, long k, const float *a, long lda, const float *packed,
                              const float *base, float *c, long ldc) {
    long panels = (n + 15) / 16;
    for (long p0 = 0; p0 < k; p0 += depthBlock) {
        long kc = k - p0 < depthBlock ? k - p0 : depthBlock;
        for (long i0 = 0; i0 < m; i0 += rowBlock) {
            long i1 = m - i0 < rowBlock ? m : i0 + rowBlock;
            for (long j = 0; j < panels; j++) {
                long cols = n - j * 16 < 16 ? n - j * 16 : 16;
                const float *panel = packed + j * k * 16 + p0 * 16;
                // Tiles of at most 6 rows, as even as possible (32 rows: 5 5 6 5 5 6, not 6 6 6 6 6 2).
                long tiles = (i1 - i0 + 5) / 6;
                for (long t = 0; t < tiles; t++) {
                    long i = i0 + (i1 - i0) * t / tiles, rows = i0 + (i1 - i0) * (t + 1) / tiles - i;
                    kernels[rows](kc, a + i * lda + p0, lda, panel, c + i * ldc + j * 16, ldc, cols,
                                  base && p0 == 0 ? base + j * 16 : NULL);
                }
            }
        }
    }
}

#else

void rnnkit_sgemm_packed_avx2(long m, long n, long k, const float *a, long lda, const float *packed,
                              const float *base, float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)base; (void)c; (void)ldc;
}

#endif
