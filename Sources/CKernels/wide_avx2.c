// The kernels of wide.h for AVX2 + FMA: a tile of 6 rows × 16 columns in 12 ymm accumulators.
#define SUFFIX avx2
#define TARGET "avx2,fma"
#define TILE_ROWS 6
#define TILE_PANELS 1
#define PEAK_CHAINS 6
#include "wide.h"
