// The kernels of wide.h for AVX-512 (F, BW, DQ, VL): a tile of 8 rows × 32 columns in 16 zmm accumulators,
// depth blocks of 1024 and A read as stored (never interleaved): on AMD EPYC (Zen 5), 2 cores,
// `benchmarks/tiles.py` gave this build a geometric mean of 497.6 GFLOP/s over the step products
// of the benchmark configurations, against 444.3 for 12 × 32 tiles, depth blocks of 256 and A
// interleaved from 24 rows (the build tuned on paper before an AVX-512 machine was at hand).
#define SUFFIX avx512
#define TARGET "avx512f,avx512bw,avx512dq,avx512vl,fma"
#define TILE_ROWS 8
#define TILE_PANELS 2
#define DEPTH_BLOCK 1024
#define INTERLEAVE_FROM 9999
#define PEAK_CHAINS 12
#define MASKED_EDGES 1
#define AVX512_MATH 1
// The LSTM cell backward waited on the trace's lines (its gate loads took 60% of its samples in
// `perf annotate`); prefetched a sample ahead, LSTM 256 × 2's backward steps took 1–3% less.
#define PREFETCH_NEXT_SAMPLE 1
#include "wide.h"
