// The kernels of wide.h with the AVX-512 build's logic (tiles of 12 × 32, two-panel tiles, depth
// blocks of 256) compiled for AVX2, for the tests on CPUs without AVX-512. Each v16 is split into
// two ymm registers, so it is slow (the accumulators spill), but it computes what the AVX-512 build
// computes.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SUFFIX avx512_logic
#define TARGET "avx2,fma"
#define TILE_ROWS 12
#define TILE_PANELS 2
#define PEAK_CHAINS 6
#include "wide.h"
#else
#include "CKernels.h"
void rnnkit_sigmoid_avx512_logic(float *x, long count) { (void)x; (void)count; }
void rnnkit_tanh_avx512_logic(float *x, long count) { (void)x; (void)count; }
void rnnkit_sgemm_packed_avx512_logic(long m, long n, long k, const float *a, long lda, const float *packed, const float *base,
                              float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)base; (void)c; (void)ldc;
}
double rnnkit_fma_peak_avx512_logic(long iterations, float *sink) { (void)iterations; *sink = 0; return 0; }
#endif
