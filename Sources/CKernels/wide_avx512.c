// The kernels of wide.h for AVX-512 (F, BW, DQ, VL): a tile of 12 rows × 32 columns in 24 zmm accumulators.
#define SUFFIX avx512
#define TARGET "avx512f,avx512bw,avx512dq,avx512vl,fma"
#define TILE_ROWS 12
#define TILE_PANELS 2
#define PEAK_CHAINS 12
#include "wide.h"
