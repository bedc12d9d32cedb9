// Single-precision sigmoid and tanh over buffers with AVX2 and FMA: Cephes' expf and tanhf
// polynomials (relative error about 1e-7), the same method as the portable Swift SIMD8 path in
// Tensor/Activations.swift. Built for any x86-64 CPU; the AVX2 code is only called after
// rnnkit_has_avx2_fma() said yes.
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

int rnnkit_has_avx2_fma(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 input) {
    const __m256 shifter = _mm256_set1_ps(12582912.0f);  // 1.5 · 2^23
    __m256 x = _mm256_min_ps(_mm256_max_ps(input, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shifter), shifter);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    // 2^n from the exponent bits: n ∈ [−126, 127] after the clamp. (e^88 is 1.65e38; above it only
    // sigmoid(−x) and tanh's exp(2|x|) call this, and both are then already at their limits.)
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_blendv_ps(y, input, _mm256_cmp_ps(input, input, _CMP_UNORD_Q));  // NaN stays NaN
}

AVX2 static inline __m256 sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

AVX2 static inline __m256 tanh8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one)));
    large = _mm256_or_ps(large, sign);
    __m256 y = _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#define BUFFER_LOOP(name, f)                                          \
    AVX2 void name(float *x, long count) {                            \
        long i = 0;                                                   \
        for (; i + 8 <= count; i += 8)                                \
            _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i)));       \
        if (i < count) {                                              \
            float tail[8] = {0};                                      \
            memcpy(tail, x + i, (size_t)(count - i) * sizeof(float)); \
            _mm256_storeu_ps(tail, f(_mm256_loadu_ps(tail)));         \
            memcpy(x + i, tail, (size_t)(count - i) * sizeof(float)); \
        }                                                             \
    }

BUFFER_LOOP(rnnkit_sigmoid_avx2, sigmoid8)
BUFFER_LOOP(rnnkit_tanh_avx2, tanh8)

#else

int rnnkit_has_avx2_fma(void) { return 0; }
void rnnkit_sigmoid_avx2(float *x, long count) { (void)x; (void)count; }
void rnnkit_tanh_avx2(float *x, long count) { (void)x; (void)count; }

#endif
