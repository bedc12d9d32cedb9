// The kernels of wide.h with the AVX-512 build's logic (tiles of 8 × 32, two-panel tiles, depth
// blocks of 1024, A never interleaved) compiled for AVX2, for the tests on CPUs without AVX-512. Each v16 is split into
// two ymm registers, so it is slow (the accumulators spill), but it computes what the AVX-512 build
// computes.
#define SUFFIX avx512_logic
#define TARGET "avx2,fma"
#define TILE_ROWS 8
#define TILE_PANELS 2
#define DEPTH_BLOCK 1024
#define INTERLEAVE_FROM 9999
#define PEAK_CHAINS 6
#include "wide.h"
