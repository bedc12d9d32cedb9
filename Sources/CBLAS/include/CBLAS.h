// The product libraries RNNKit uses: CBLAS from OpenBLAS on Linux, Accelerate on Apple platforms,
// and oneDNN's sgemm, loaded at run time where it is installed (shim.c).
#ifndef RNNKIT_CBLAS_H
#define RNNKIT_CBLAS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__APPLE__)
#define ACCELERATE_NEW_LAPACK
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

/// Loads oneDNN (`RNNKIT_ONEDNN_LIBRARY`, else Debian's libdnnl.so.2) the first time it is called,
/// from any thread; later calls return the same answer. Returns 0 when its sgemm can be called, else
/// -1 with the reason in `error`. Before loading it sets OMP_WAIT_POLICY=PASSIVE unless the variable
/// is set, so that oneDNN's OpenMP threads sleep between products instead of spinning on cores
/// RNNKit's own threads need (OpenMP reads the variable only as it loads).
int rnnkit_onednn_load(char *error, size_t capacity);

/// oneDNN's row-major sgemm, C (m, n) = alpha · op(A) · op(B) + beta · C, on `threads` OpenMP
/// threads; `transa`, `transb` are 'N' or 'T'. Returns oneDNN's status (0: success).
/// Call only after rnnkit_onednn_load returned 0.
int rnnkit_onednn_sgemm(int threads, char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
