// Hand-vectorised kernels that need instruction sets Swift code cannot ask for per function.
// Imported only by Tensor/Activations.swift.
#ifndef RNNKIT_CKERNELS_H
#define RNNKIT_CKERNELS_H

/// 1 when this CPU runs AVX2 and FMA (x86-64 only), checked once; the kernels below need both.
int rnnkit_has_avx2_fma(void);

/// x[i] ← 1 / (1 + exp(−x[i])) for i < count, eight lanes at a time (AVX2 + FMA).
void rnnkit_sigmoid_avx2(float *x, long count);
/// x[i] ← tanh(x[i]) for i < count, eight lanes at a time (AVX2 + FMA).
void rnnkit_tanh_avx2(float *x, long count);

#endif
