// Hand-vectorised kernels that need instruction sets Swift code cannot ask for per function.
// Imported only by Tensor/Activations.swift and Tensor/PackedProduct.swift.
#ifndef RNNKIT_CKERNELS_H
#define RNNKIT_CKERNELS_H

/// 1 when this CPU runs AVX2 and FMA (x86-64 only), checked once; the kernels below need both.
int rnnkit_has_avx2_fma(void);

/// x[i] ← 1 / (1 + exp(−x[i])) for i < count, eight lanes at a time (AVX2 + FMA).
void rnnkit_sigmoid_avx2(float *x, long count);
/// x[i] ← tanh(x[i]) for i < count, eight lanes at a time (AVX2 + FMA).
void rnnkit_tanh_avx2(float *x, long count);

/// Floats a packed (k, n) right operand takes: k rows of n rounded up to 16.
long rnnkit_packed_size(long k, long n);
/// Packs B (k, n) for rnnkit_sgemm_packed_avx2: B[p][j] is b[p * ldb + j] as stored, or
/// b[j * ldb + p] when `transposed` (B is then the transpose of an (n, k) row-major matrix).
/// `packed` holds rnnkit_packed_size(k, n) floats. Plain C, any CPU.
void rnnkit_pack(const float *b, long ldb, int transposed, long k, long n, float *packed);
/// C (m, n) += A (m, k) · B with B packed by rnnkit_pack; A and C row-major with row strides lda
/// and ldc (AVX2 + FMA). With `base` (n values), every row of C is set to base + its row of A · B
/// instead, without reading C.
void rnnkit_sgemm_packed_avx2(long m, long n, long k, const float *a, long lda, const float *packed,
                              const float *base, float *c, long ldc);

#endif
