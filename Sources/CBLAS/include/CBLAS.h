// The BLAS interface RNNKit uses: CBLAS from OpenBLAS on Linux, Accelerate on Apple platforms.
#ifndef RNNKIT_CBLAS_H
#define RNNKIT_CBLAS_H

#if defined(__APPLE__)
#define ACCELERATE_NEW_LAPACK
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#endif
