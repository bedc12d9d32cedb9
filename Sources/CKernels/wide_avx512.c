// The kernels of wide.h for AVX-512 (F, BW, DQ, VL): a tile of 12 rows × 32 columns in 24 zmm accumulators.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SUFFIX avx512
#define TARGET "avx512f,avx512bw,avx512dq,avx512vl,fma"
#define TILE_ROWS 12
#define TILE_PANELS 2
#define PEAK_CHAINS 12
#include "wide.h"
#else
#include "CKernels.h"
void rnnkit_sigmoid_avx512(float *x, long count) { (void)x; (void)count; }
void rnnkit_tanh_avx512(float *x, long count) { (void)x; (void)count; }
void rnnkit_sgemm_packed_avx512(long m, long n, long k, const float *a, long lda, const float *packed, const float *base,
                              float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)base; (void)c; (void)ldc;
}
double rnnkit_fma_peak_avx512(long iterations, float *sink) { (void)iterations; *sink = 0; return 0; }
#endif
