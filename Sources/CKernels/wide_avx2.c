// The kernels of wide.h for AVX2 + FMA: a tile of 6 rows × 16 columns in 12 ymm accumulators.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SUFFIX avx2
#define TARGET "avx2,fma"
#define TILE_ROWS 6
#define TILE_PANELS 1
#define PEAK_CHAINS 6
#include "wide.h"
#else
#include "CKernels.h"
void rnnkit_sigmoid_avx2(float *x, long count) { (void)x; (void)count; }
void rnnkit_tanh_avx2(float *x, long count) { (void)x; (void)count; }
void rnnkit_sgemm_packed_avx2(long m, long n, long k, const float *a, long lda, const float *packed, const float *base,
                              float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)base; (void)c; (void)ldc;
}
double rnnkit_fma_peak_avx2(long iterations, float *sink) { (void)iterations; *sink = 0; return 0; }
#endif
