// The vector kernels, written once over GCC/Clang vector types of 16 floats and compiled once per
// instruction set by the files that include this one (wide_avx512.c, wide_avx2.c,
// wide_avx512_logic.c). Compiled for AVX-512 a `v16` is one zmm register; compiled for AVX2 the
// compiler splits it into two ymm registers, so the AVX-512 build's blocking, edge and packing logic
// also runs, and is tested, on a CPU without AVX-512 (wide_avx512_logic.c).
//
// The includer defines:
//   SUFFIX       the function-name suffix (avx512, avx2, avx512_logic);
//   TARGET       the instruction sets, as for __attribute__((target(...)));
//   TILE_ROWS    rows of C per register tile (at most 14);
//   TILE_PANELS  16-column panels per register tile (1 or 2);
//   PEAK_CHAINS  independent FMA chains of rnnkit_fma_peak (enough to cover latency × units).
// and may define MASKED_EDGES and AVX512_MATH (AVX-512's masked moves, vmaxps and vscalefps),
// PREFETCH_NEXT_SAMPLE (rnnkit_lstm_cell_backward prefetches the next sample's trace),
// ROW_BLOCK, DEPTH_BLOCK and INTERLEAVE_FROM (rows of a block from which A is
// interleaved; benchmarks/tiles.py sets them to compare builds).
// A tile holds TILE_ROWS × TILE_PANELS accumulators, plus TILE_PANELS panel values and one
// broadcast: 12 × 2 + 3 = 27 of AVX-512's 32 registers; 6 × 1 (12 ymm) + 3 of AVX2's 16.
//
// Packed layout (rnnkit_pack in gemm.c): B's columns in panels of 16, panel j holding
// B[p][16j ..< 16j + 16] for p = 0..<k contiguously, zeros past n, and the panel count rounded up
// to an even number so that a two-panel tile never reads past the end.
#include "CKernels.h"
#include <stddef.h>
#include <stdlib.h>
#if (MASKED_EDGES || AVX512_MATH) && defined(__x86_64__)
#include <immintrin.h>
#endif

#define PASTE2(a, b) a##_##b
#define PASTE(a, b) PASTE2(a, b)
#define NAME(base) PASTE(base, SUFFIX)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

// The helpers below take and return v16 by value; they are always inlined, so the calling
// convention the 256-bit builds would give them (and that the compiler warns about) never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

#define FN __attribute__((target(TARGET)))
#define INLINE static inline __attribute__((always_inline)) FN
#define UNROLL _Pragma("GCC unroll 16")

typedef float v16 __attribute__((vector_size(64)));
typedef int i16 __attribute__((vector_size(64)));

INLINE v16 load16(const float *p) {
    v16 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
INLINE void store16(float *p, v16 v) { __builtin_memcpy(p, &v, sizeof v); }
INLINE v16 splat(float x) { return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }  // (not 0 + x: that is an add)
/// Lanes of `a` where `mask` is set (all ones), else of `b`.
INLINE v16 select16(i16 mask, v16 a, v16 b) { return (v16)((mask & (i16)a) | (~mask & (i16)b)); }

// MARK: - Activations (exp after Cephes' expf, as Activations.swift; tanh a rational fit)

/// x clamped from below to `low` and from above to `high`; a NaN passes both. With AVX512_MATH one
/// vmaxps or vminps each (which return their second operand, x, where either is a NaN), where a
/// select may compile to a compare and a blend.
#if AVX512_MATH
INLINE v16 atLeast(v16 x, float low) { return (v16)_mm512_max_ps(_mm512_set1_ps(low), (__m512)x); }
INLINE v16 atMost(v16 x, float high) { return (v16)_mm512_min_ps(_mm512_set1_ps(high), (__m512)x); }
#else
INLINE v16 atLeast(v16 x, float low) { return select16(x < splat(low), splat(low), x); }
INLINE v16 atMost(v16 x, float high) { return select16(x > splat(high), splat(high), x); }
#endif

INLINE v16 exp16(v16 input) {
    const v16 shifter = splat(12582912.0f);  // 1.5 · 2^23
    v16 x = atMost(atLeast(input, -87.33654f), 88.0f);
    v16 n = (x * splat(1.44269504088896341f) + shifter) - shifter;
    v16 r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    v16 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = (p * (r * r) + r) + splat(1.0f);
#if AVX512_MATH
    // p · 2^n in one vscalefps, the same rounding as the product below (n ∈ [−126, 127] after the
    // clamp), where the exponent bits cost a conversion, an add, a shift, a product and the NaN
    // select: a NaN input is a NaN n and p here already. With the clamps above, the sigmoid took 9.3
    // cycles per 16 lanes instead of 11.0 on AMD EPYC (Zen 5), and an LSTM 128 step 1.5% less.
    return (v16)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
    // 2^n from the exponent bits: n ∈ [−126, 127] after the clamp.
    i16 e = (__builtin_convertvector(n, i16) + 127) << 23;
    return select16(input != input, input, p * (v16)e);  // NaN stays NaN
#endif
}

INLINE v16 sigmoid16(v16 x) { return splat(1.0f) / (splat(1.0f) + exp16(-x)); }

/// tanh(x) ≈ x·P(x²) / Q(x²) on |x| ≤ 7.905311 (past it tanh rounds to ±1): a rational fit of
/// relative error 1.5e-9 (scripts/fit_tanh.py), so that the result's error, within 3.1e-7 (5 ulp of 1),
/// is the float arithmetic's. One division and ten multiply-adds, against exp's polynomial, a
/// division and a second polynomial for small x the Cephes form needs: 30% off an LSTM cell.
INLINE v16 tanh16(v16 x) {
    v16 c = atLeast(atMost(x, 7.90531110763549805f), -7.90531110763549805f);  // (NaN passes both clamps and stays NaN)
    v16 z = c * c;
    v16 p = splat(-1.1904955140901084e-13f);
    p = p * z + splat(6.4765186363281685e-11f);
    p = p * z + splat(-2.2514188186800824e-08f);
    p = p * z + splat(1.1687007568201654e-05f);
    p = p * z + splat(0.0031534192120464821f);
    p = p * z + splat(0.13127929908923749f);
    p = p * z + splat(1.0f);
    v16 q = splat(0.0002618992288781545f);
    q = q * z + splat(0.024690985877494707f);
    q = q * z + splat(0.46461261634485224f);
    q = q * z + splat(1.0f);
    return (p * c) / q;
}

#define BUFFER_LOOP(name, f)                                            \
    FN void name(float *x, long count) {                                \
        long i = 0;                                                     \
        for (; i + 16 <= count; i += 16) store16(x + i, f(load16(x + i))); \
        if (i < count) {                                                \
            float tail[16] = {0};                                       \
            __builtin_memcpy(tail, x + i, (size_t)(count - i) * sizeof(float)); \
            store16(tail, f(load16(tail)));                             \
            __builtin_memcpy(x + i, tail, (size_t)(count - i) * sizeof(float)); \
        }                                                               \
    }

BUFFER_LOOP(NAME(rnnkit_sigmoid), sigmoid16)
BUFFER_LOOP(NAME(rnnkit_tanh), tanh16)

// MARK: - Cell updates: the gates activated and the state updated in one pass over the units

/// The first n (1 ... 16) floats at p as a vector, zeros past them; and the reverse.
#if MASKED_EDGES
// AVX-512's masked moves: one instruction each, where the copy through a stack buffer below stalls
// on store forwarding. On AMD EPYC (Zen 5), 2 cores, LSTM 100 at batch 50 (7 vectors a row, the last
// of 4 units) trained at 34,250–37,165 samples/s instead of 32,658–33,661 and inferred at
// 105,924–110,437 instead of 91,431–94,445 (rnnkit bench, old and new binaries alternating).
// (The AVX2 builds keep the copy: a change there is for an AVX2 machine to measure.)
INLINE v16 loadPart(const float *p, long n) {
    if (n >= 16) return load16(p);
    return (v16)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
}
INLINE void storePart(float *p, v16 v, long n) {
    if (n >= 16) return store16(p, v);
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
}
#else
INLINE v16 loadPart(const float *p, long n) {
    if (n >= 16) return load16(p);
    float lanes[16] = {0};
    __builtin_memcpy(lanes, p, (size_t)n * sizeof(float));
    return load16(lanes);
}
INLINE void storePart(float *p, v16 v, long n) {
    if (n >= 16) return store16(p, v);
    float lanes[16];
    store16(lanes, v);
    __builtin_memcpy(p, lanes, (size_t)n * sizeof(float));
}
#endif

/// The LSTM cell on 16 units: the gates activated in place (i, f, g, o from their pre-activations),
/// *c ← f·c + i·g, and the new h returned, with tanh(c) in *t.
INLINE v16 lstmUnits(v16 *i, v16 *f, v16 *gg, v16 *o, v16 *c, v16 *t) {
    *i = sigmoid16(*i);
    *f = sigmoid16(*f);
    *gg = tanh16(*gg);
    *o = sigmoid16(*o);
    *c = *f * *c + *i * *gg;
    *t = tanh16(*c);
    return *o * *t;
}

FN void NAME(rnnkit_lstm_cell)(long units, float *g, long stride, float *c, float *h, float *y, float *tc) {
    for (long j = 0; j < units; j += 16) {
        long n = units - j;
        v16 i = loadPart(g + j, n), f = loadPart(g + stride + j, n);
        v16 gg = loadPart(g + 2 * stride + j, n), o = loadPart(g + 3 * stride + j, n);
        v16 cNew = loadPart(c + j, n), t;
        v16 hNew = lstmUnits(&i, &f, &gg, &o, &cNew, &t);
        storePart(c + j, cNew, n);
        storePart(h + j, hNew, n);
        storePart(y + j, hNew, n);
        if (tc) {
            storePart(tc + j, t, n);
            storePart(g + j, i, n);
            storePart(g + stride + j, f, n);
            storePart(g + 2 * stride + j, gg, n);
            storePart(g + 3 * stride + j, o, n);
        }
    }
}

FN void NAME(rnnkit_gru_cell)(long units, float *g, long stride, const float *hw, long hiddenStride, float *h, float *y,
                              float *side) {
    for (long j = 0; j < units; j += 16) {
        long n = units - j;
        v16 r = sigmoid16(loadPart(g + j, n) + loadPart(hw + j, n));
        v16 z = sigmoid16(loadPart(g + stride + j, n) + loadPart(hw + hiddenStride + j, n));
        v16 hn = loadPart(hw + 2 * hiddenStride + j, n);
        v16 nGate = tanh16(loadPart(g + 2 * stride + j, n) + r * hn);
        v16 hNew = (splat(1.0f) - z) * nGate + z * loadPart(h + j, n);
        storePart(h + j, hNew, n);
        storePart(y + j, hNew, n);
        if (side) {
            storePart(side + j, hn, n);
            storePart(g + j, r, n);
            storePart(g + stride + j, z, n);
            storePart(g + 2 * stride + j, nGate, n);
        }
    }
}

/// The backward pass of rnnkit_lstm_cell over `units` units of one sample, from what the forward
/// pass recorded (gates activated, tanh(c), the cell state before the step).
FN void NAME(rnnkit_lstm_cell_backward)(long units, const float *g, long stride, const float *tc, const float *cPrev,
                                        const float *dy, float *dh, float *dc, float *dg) {
    const v16 one = splat(1.0f);
    for (long j = 0; j < units; j += 16) {
        long n = units - j;
#if PREFETCH_NEXT_SAMPLE
        // The next sample's lines of the trace, which the engine lays out (T, B, 4H) and (T, B, H):
        // its gates 4·stride on, tanh(c) and c before the step `stride` on. A hint only (never
        // faults); the trace is read once, from L3 or memory, in step order but a sample at a time.
        __builtin_prefetch(g + 4 * stride + j);
        __builtin_prefetch(g + 5 * stride + j);
        __builtin_prefetch(g + 6 * stride + j);
        __builtin_prefetch(g + 7 * stride + j);
        __builtin_prefetch(tc + stride + j);
        __builtin_prefetch(cPrev + stride + j);
#endif
        v16 i = loadPart(g + j, n), f = loadPart(g + stride + j, n);
        v16 gg = loadPart(g + 2 * stride + j, n), o = loadPart(g + 3 * stride + j, n), t = loadPart(tc + j, n);
        v16 dht = loadPart(dh + j, n) + loadPart(dy + j, n);
        v16 dct = loadPart(dc + j, n) + dht * o * (one - t * t);
        storePart(dg + j, dct * gg * i * (one - i), n);
        storePart(dg + stride + j, dct * loadPart(cPrev + j, n) * f * (one - f), n);
        storePart(dg + 2 * stride + j, dct * i * (one - gg * gg), n);
        storePart(dg + 3 * stride + j, dht * t * o * (one - o), n);
        storePart(dc + j, dct * f, n);
        storePart(dh + j, splat(0.0f), n);
    }
}

/// The backward pass of rnnkit_gru_cell over `units` units of one sample, from what the forward pass
/// recorded (r, z, n activated, the state before the step, hw_n).
FN void NAME(rnnkit_gru_cell_backward)(long units, const float *g, long stride, const float *hPrev, const float *hn,
                                       const float *dy, float *dh, float *dgi, float *dgh) {
    const v16 one = splat(1.0f);
    for (long j = 0; j < units; j += 16) {
        long n = units - j;
        v16 r = loadPart(g + j, n), z = loadPart(g + stride + j, n), nGate = loadPart(g + 2 * stride + j, n);
        v16 dht = loadPart(dh + j, n) + loadPart(dy + j, n);
        v16 dnPre = dht * (one - z) * (one - nGate * nGate);
        v16 drPre = dnPre * loadPart(hn + j, n) * r * (one - r);
        v16 dzPre = dht * (loadPart(hPrev + j, n) - nGate) * z * (one - z);
        storePart(dgi + j, drPre, n);
        storePart(dgh + j, drPre, n);
        storePart(dgi + stride + j, dzPre, n);
        storePart(dgh + stride + j, dzPre, n);
        storePart(dgi + 2 * stride + j, dnPre, n);
        storePart(dgh + 2 * stride + j, dnPre * r, n);
        storePart(dh + j, dht * z, n);
    }
}

// MARK: - Column sums

/// sums[j] += Σ_r m[r·ldm + j] for j < columns, each column summed over the rows in order (so the
/// result is the scalar loop's, bit for bit), 64 columns at a time.
FN void NAME(rnnkit_column_sums)(long rows, long columns, const float *m, long ldm, float *sums) {
    long j = 0;
    for (; j + 64 <= columns; j += 64) {
        v16 a0 = load16(sums + j), a1 = load16(sums + j + 16), a2 = load16(sums + j + 32), a3 = load16(sums + j + 48);
        for (long r = 0; r < rows; r++) {
            const float *row = m + r * ldm + j;
            a0 += load16(row);
            a1 += load16(row + 16);
            a2 += load16(row + 32);
            a3 += load16(row + 48);
        }
        store16(sums + j, a0);
        store16(sums + j + 16, a1);
        store16(sums + j + 32, a2);
        store16(sums + j + 48, a3);
    }
    for (; j < columns; j += 16) {
        long n = columns - j;
        v16 a = loadPart(sums + j, n);
        for (long r = 0; r < rows; r++) a += loadPart(m + r * ldm + j, n);
        storePart(sums + j, a, n);
    }
}

// MARK: - Products against a packed right operand

#ifndef ROW_BLOCK
#define ROW_BLOCK 96
#endif
#ifndef DEPTH_BLOCK
#define DEPTH_BLOCK (512 / TILE_PANELS)
#endif
#ifndef INTERLEAVE_FROM
#define INTERLEAVE_FROM (2 * TILE_ROWS)
#endif
enum { tileColumns = 16 * TILE_PANELS, rowBlock = ROW_BLOCK, depthBlock = DEPTH_BLOCK, interleaveFrom = INTERLEAVE_FROM };

/// C[0..<R][0..<cols] += A[0..<R][0..<k + k2] · the P ≤ TILE_PANELS panels at `panel` (`stride`
/// floats apart; P = 1 where a product's last columns fill only one); with `base`, C's rows are set
/// to base[0..<cols] + A · panels (C not read). A's element
/// (r, p) is at a[r * lda + p] for p < k, or at a[p * R + r] when `interleaved` (packRows's layout:
/// each step's R values side by side, one pointer and constant offsets for the broadcasts); and at
/// a2[r * lda2 + p − k] for the k2 after them (a second operand beside the first: an LSTM step's
/// [x_t, h] without copying the two together). R, P, `interleaved` and (where there is no a2) k2 are
/// constants at every call and the loops over rows and panels are unrolled in full (the compiler's
/// own limit leaves 11 and 12 rows rolled, with the accumulators on the stack), so the accumulators
/// live in registers.
INLINE void tile(const int R, const int P, const int interleaved, long k, const float *a, long lda, long k2,
                 const float *a2, long lda2, const float *panel, long stride, float *c, long ldc, long cols,
                 const float *base) {
    v16 acc[TILE_ROWS][TILE_PANELS];
    UNROLL for (int r = 0; r < R; r++)
        UNROLL for (int q = 0; q < P; q++) acc[r][q] = splat(0);
    for (long p = 0; p < k; p++) {
        v16 b[TILE_PANELS];
        UNROLL for (int q = 0; q < P; q++) b[q] = load16(panel + q * stride + p * 16);
        UNROLL for (int r = 0; r < R; r++) {
            v16 av = splat(interleaved ? a[p * R + r] : a[r * lda + p]);
            UNROLL for (int q = 0; q < P; q++) acc[r][q] = acc[r][q] + av * b[q];
        }
    }
    panel += k * 16;
    for (long p = 0; p < k2; p++) {
        v16 b[TILE_PANELS];
        UNROLL for (int q = 0; q < P; q++) b[q] = load16(panel + q * stride + p * 16);
        UNROLL for (int r = 0; r < R; r++) {
            v16 av = splat(a2[r * lda2 + p]);
            UNROLL for (int q = 0; q < P; q++) acc[r][q] = acc[r][q] + av * b[q];
        }
    }
    for (int r = 0; r < R; r++) {
        float *row = c + r * ldc;
        for (int q = 0; q < P; q++) {
            long first = q * 16, width = cols - first;
            if (width > 0) storePart(row + first, acc[r][q] + loadPart(base ? base + first : row + first, width), width);
        }
    }
}

/// A's rows [0, R) × steps [0, k), lda apart, interleaved for `tile`: out[p * R + r] = a[r * lda + p].
INLINE void packRows(const int R, long k, const float *a, long lda, float *out) {
    for (long p = 0; p < k; p++)
        UNROLL for (int r = 0; r < R; r++) out[p * R + r] = a[r * lda + p];
}

// `case R:` of every tile height this build has, as ROWS(1) ... ROWS(TILE_ROWS), for the switches
// below (each defines ROWS first).
#if TILE_ROWS >= 8
#define ROWS_7_8 ROWS(7) ROWS(8)
#else
#define ROWS_7_8
#endif
#if TILE_ROWS >= 10
#define ROWS_9_10 ROWS(9) ROWS(10)
#else
#define ROWS_9_10
#endif
#if TILE_ROWS >= 12
#define ROWS_11_12 ROWS(11) ROWS(12)
#else
#define ROWS_11_12
#endif
#if TILE_ROWS >= 14
#define ROWS_13_14 ROWS(13) ROWS(14)
#else
#define ROWS_13_14
#endif
#define EACH_TILE_HEIGHT ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS_7_8 ROWS_9_10 ROWS_11_12 ROWS_13_14

/// Tiles of `rows` rows of a product. Where a tile's columns fit in one panel (n = 100 ends on 4
/// columns), a two-panel build runs a one-panel tile instead of multiplying a panel of zeros.
static FN void tileOfRows(int rows, int interleaved, long k, const float *a, long lda, const float *panel, long stride,
                          float *c, long ldc, long cols, const float *base) {
#define ROWS(R)                                                                                     \
    case R:                                                                                         \
        if (TILE_PANELS > 1 && cols <= 16) {                                                        \
            if (interleaved) tile(R, 1, 1, k, a, lda, 0, 0, 0, panel, stride, c, ldc, cols, base);  \
            else tile(R, 1, 0, k, a, lda, 0, 0, 0, panel, stride, c, ldc, cols, base);              \
        } else if (interleaved) {                                                                   \
            tile(R, TILE_PANELS, 1, k, a, lda, 0, 0, 0, panel, stride, c, ldc, cols, base);         \
        } else {                                                                                    \
            tile(R, TILE_PANELS, 0, k, a, lda, 0, 0, 0, panel, stride, c, ldc, cols, base);         \
        }                                                                                           \
        return;
    switch (rows) { EACH_TILE_HEIGHT }
#undef ROWS
}

static FN void packRowsOf(int rows, long k, const float *a, long lda, float *out) {
#define ROWS(R) case R: packRows(R, k, a, lda, out); return;
    switch (rows) { EACH_TILE_HEIGHT }
#undef ROWS
}

FN void NAME(rnnkit_sgemm_packed)(long m, long n, long k, const float *a, long lda, const float *packed,
                                  const float *base, float *c, long ldc) {
    long tilesAcross = (n + tileColumns - 1) / tileColumns;
    // Row blocks of at least INTERLEAVE_FROM rows (two full tiles) run from a copy of A's block
    // interleaved tile by tile (packRows): one pointer with constant offsets for a tile's broadcasts
    // instead of a pointer sum per row, and one stream of A instead of one per row. On AMD EPYC
    // (AVX2, 2 cores) the step products of the benchmark configurations ran 0.3–6% faster (geometric
    // means, benchmarks/tiles.py --interleave-from 12 9999), and single-thread products of 16 and 32
    // rows 8% and 3%, but those of 8 rows or fewer 2–5% slower. llvm-mca's Skylake-X and Ice Lake models give the AVX-512 build's 12-row inner
    // loop 13.1 cycles instead of 14.1 (12 is the multiply-add bound): Intel's 512-bit multiply-adds
    // share their ports with the address sums. Without the memory for the copy, A is read as stored.
    long blockRows = m < rowBlock ? m : rowBlock, blockDepth = k < depthBlock ? k : depthBlock;
    float *rowsPacked = blockRows >= interleaveFrom ? malloc(sizeof(float) * (size_t)(blockRows * blockDepth)) : 0;
    for (long p0 = 0; p0 < k; p0 += depthBlock) {
        long kc = k - p0 < depthBlock ? k - p0 : depthBlock;
        for (long i0 = 0; i0 < m; i0 += rowBlock) {
            long i1 = m - i0 < rowBlock ? m : i0 + rowBlock;
            // Tiles of at most TILE_ROWS rows, as even as possible (32 rows in sixes: 5 5 6 5 5 6).
            long tiles = (i1 - i0 + TILE_ROWS - 1) / TILE_ROWS;
            int interleaved = rowsPacked && i1 - i0 >= interleaveFrom;
            if (interleaved)
                for (long t = 0; t < tiles; t++) {
                    long i = i0 + (i1 - i0) * t / tiles, rows = i0 + (i1 - i0) * (t + 1) / tiles - i;
                    packRowsOf((int)rows, kc, a + i * lda + p0, lda, rowsPacked + (i - i0) * kc);
                }
            for (long j = 0; j < tilesAcross; j++) {
                long first = j * tileColumns, cols = n - first < tileColumns ? n - first : tileColumns;
                const float *panel = packed + first * k + p0 * 16;
                for (long t = 0; t < tiles; t++) {
                    long i = i0 + (i1 - i0) * t / tiles, rows = i0 + (i1 - i0) * (t + 1) / tiles - i;
                    tileOfRows((int)rows, interleaved, kc, interleaved ? rowsPacked + (i - i0) * kc : a + i * lda + p0,
                               lda, panel, 16 * k,
                               c + i * ldc + first, ldc, cols, base && p0 == 0 ? base + first : 0);
                }
            }
        }
    }
    free(rowsPacked);
}

// MARK: - A whole LSTM step (product and cell; inference and training)

/// Tiles of `rows` rows of an LSTM step: two operands, x (k values a row) and h (k2), no interleaving,
/// `panels` (1 or TILE_PANELS) panels wide.
static FN void stepTileOfRows(int rows, int panels, long k, const float *x, long ldx, long k2, const float *h, long ldh,
                              const float *panel, long stride, float *c, long ldc, const float *base) {
#define ROWS(R)                                                                                     \
    case R:                                                                                         \
        if (TILE_PANELS > 1 && panels == 1)                                                         \
            tile(R, 1, 0, k, x, ldx, k2, h, ldh, panel, stride, c, ldc, 16, base);                  \
        else                                                                                        \
            tile(R, TILE_PANELS, 0, k, x, ldx, k2, h, ldh, panel, stride, c, ldc, 16 * TILE_PANELS, base);  \
        return;
    switch (rows) { EACH_TILE_HEIGHT }
#undef ROWS
}

FN void NAME(rnnkit_lstm_step)(long m, long H, long k, long k1, const float *a1, long lda1, const float *a2, long lda2,
                               const float *packed, const float *bias, const long *ids, long ldb, float *c, long ldc,
                               float *hOut, long ldo, float *y, long ldy, float *gatesOut, float *tanhC) {
    long blocks = (H + 15) / 16, tiles = (m + TILE_ROWS - 1) / TILE_ROWS;
    float gates[TILE_ROWS * 64];  // one tile's pre-activations of 16 units: i, f, g, o side by side (units apart)
    for (long u = 0; u < blocks; u++) {
        const float *panels = packed + u * 64 * k, *b = bias + u * 64;
        // The block's units, and the panels their 4 × units columns fill (rnnkit_pack_lstm): a last
        // block of 4 units takes one 16-column panel where a full block takes four.
        long first = 16 * u, units = H - first < 16 ? H - first : 16, used = (4 * units + 15) / 16;
        // Tiles of at most TILE_ROWS rows, as even as possible (as rnnkit_sgemm_packed).
        for (long t = 0; t < tiles; t++) {
            long i = m * t / tiles, rows = m * (t + 1) / tiles - i;
            // With ids, each row's own bias row (a token's input part folded in): the tile adds onto
            // the rows copied into `gates` instead of onto one shared base.
            if (ids)
                for (long r = 0; r < rows; r++)
                    for (int q = 0; q < used; q++)
                        store16(gates + r * 64 + q * 16, load16(bias + ids[i + r] * ldb + u * 64 + q * 16));
            for (int q = 0; q < used; q += TILE_PANELS)
                stepTileOfRows((int)rows, used - q < TILE_PANELS ? 1 : TILE_PANELS, k1, a1 + i * lda1, lda1, k - k1,
                               a2 + i * lda2, lda2, panels + q * 16 * k, 16 * k, gates + q * 16, 64,
                               ids ? 0 : b + q * 16);
            for (long r = 0; r < rows; r++) {
                const float *gr = gates + r * 64;
                float *cr = c + (i + r) * ldc + first;
                v16 gi, gf, gg, go;
                if (units == 16) {
                    gi = load16(gr), gf = load16(gr + 16), gg = load16(gr + 32), go = load16(gr + 48);
                } else {  // gates `units` apart
                    gi = loadPart(gr, units), gf = loadPart(gr + units, units);
                    gg = loadPart(gr + 2 * units, units), go = loadPart(gr + 3 * units, units);
                }
                v16 cNew = loadPart(cr, units), tc;
                v16 hNew = lstmUnits(&gi, &gf, &gg, &go, &cNew, &tc);
                storePart(cr, cNew, units);
                storePart(hOut + (i + r) * ldo + first, hNew, units);
                storePart(y + (i + r) * ldy + first, hNew, units);
                if (gatesOut) {
                    float *g = gatesOut + (i + r) * 4 * H + first;
                    storePart(g, gi, units);
                    storePart(g + H, gf, units);
                    storePart(g + 2 * H, gg, units);
                    storePart(g + 3 * H, go, units);
                    storePart(tanhC + (i + r) * H + first, tc, units);
                }
            }
        }
    }
}

// MARK: - Adam

#if __has_builtin(__builtin_elementwise_sqrt)
INLINE v16 sqrt16(v16 x) { return __builtin_elementwise_sqrt(x); }
#else
INLINE v16 sqrt16(v16 x) {
    UNROLL for (int j = 0; j < 16; j++) x[j] = __builtin_sqrtf(x[j]);
    return x;
}
#endif

/// Adam's update of 16 parameters (a vector of them, or one lane of a scalar tail).
#define ADAM_UPDATE(T, SQRT, W, G, M, V)                                                      \
    {                                                                                         \
        T g_ = (G), m_ = (M), v_ = (V);                                                      \
        m_ = vb1 * m_ + vc1 * g_;                                                             \
        v_ = vb2 * v_ + vc2 * g_ * g_;                                                        \
        (M) = m_;                                                                             \
        (V) = v_;                                                                             \
        (W) = (W) - vStep * m_ / (SQRT(v_) / vRoot + vEps);                                   \
    }

FN void NAME(rnnkit_adam)(long count, float *w, const float *g, float *m, float *v, float b1, float b2,
                          float stepSize, float rootCorrection2, float eps) {
    // Every operation rounds on its own, so that this path and the portable one agree bit for bit.
#pragma STDC FP_CONTRACT OFF
    long i = 0;
    {
        const v16 vb1 = splat(b1), vc1 = splat(1 - b1), vb2 = splat(b2), vc2 = splat(1 - b2);
        const v16 vStep = splat(stepSize), vRoot = splat(rootCorrection2), vEps = splat(eps);
        for (; i + 16 <= count; i += 16) {
            v16 wi = load16(w + i), mi = load16(m + i), vi = load16(v + i);
            ADAM_UPDATE(v16, sqrt16, wi, load16(g + i), mi, vi)
            store16(w + i, wi);
            store16(m + i, mi);
            store16(v + i, vi);
        }
    }
    const float vb1 = b1, vc1 = 1 - b1, vb2 = b2, vc2 = 1 - b2, vStep = stepSize, vRoot = rootCorrection2, vEps = eps;
    for (; i < count; i++) ADAM_UPDATE(float, __builtin_sqrtf, w[i], g[i], m[i], v[i])
}
#undef ADAM_UPDATE

// MARK: - Peak

/// `iterations` rounds of PEAK_CHAINS independent vector multiply-adds, registers only; the FLOPs done.
/// The chains start from *sink (1 is good), so that the compiler cannot fold them.
FN double NAME(rnnkit_fma_peak)(long iterations, float *sink) {
    const float start = *sink;
    v16 acc[PEAK_CHAINS];
    for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = splat(start + j * 1e-3f);
    const v16 scale = splat(start * 0.999f), shift = splat(start * 1e-3f);
    for (long i = 0; i < iterations; i++)
        for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = acc[j] * scale + shift;
    v16 sum = splat(0);
    for (int j = 0; j < PEAK_CHAINS; j++) sum = sum + acc[j];
    float lanes[16], total = 0;
    store16(lanes, sum);
    for (int j = 0; j < 16; j++) total += lanes[j];
    *sink = total;
    return (double)iterations * PEAK_CHAINS * 16 * 2;
}

#else

// Other CPUs (ARM): never called, since rnnkit_cpu_isa() reports no x86 vector extension there.
void NAME(rnnkit_sigmoid)(float *x, long count) { (void)x; (void)count; }
void NAME(rnnkit_tanh)(float *x, long count) { (void)x; (void)count; }
void NAME(rnnkit_lstm_cell)(long units, float *g, long stride, float *c, float *h, float *y, float *tc) {
    (void)units; (void)g; (void)stride; (void)c; (void)h; (void)y; (void)tc;
}
void NAME(rnnkit_gru_cell)(long units, float *g, long stride, const float *hw, long hiddenStride, float *h, float *y,
                           float *side) {
    (void)units; (void)g; (void)stride; (void)hw; (void)hiddenStride; (void)h; (void)y; (void)side;
}
void NAME(rnnkit_lstm_cell_backward)(long units, const float *g, long stride, const float *tc, const float *cPrev,
                                     const float *dy, float *dh, float *dc, float *dg) {
    (void)units; (void)g; (void)stride; (void)tc; (void)cPrev; (void)dy; (void)dh; (void)dc; (void)dg;
}
void NAME(rnnkit_gru_cell_backward)(long units, const float *g, long stride, const float *hPrev, const float *hn,
                                    const float *dy, float *dh, float *dgi, float *dgh) {
    (void)units; (void)g; (void)stride; (void)hPrev; (void)hn; (void)dy; (void)dh; (void)dgi; (void)dgh;
}
void NAME(rnnkit_column_sums)(long rows, long columns, const float *m, long ldm, float *sums) {
    (void)rows; (void)columns; (void)m; (void)ldm; (void)sums;
}
void NAME(rnnkit_sgemm_packed)(long m, long n, long k, const float *a, long lda, const float *packed, const float *base,
                               float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)base; (void)c; (void)ldc;
}
void NAME(rnnkit_lstm_step)(long m, long H, long k, long k1, const float *a1, long lda1, const float *a2, long lda2,
                            const float *packed, const float *bias, const long *ids, long ldb, float *c, long ldc,
                            float *hOut, long ldo, float *y, long ldy, float *gatesOut, float *tanhC) {
    (void)m; (void)H; (void)k; (void)k1; (void)a1; (void)lda1; (void)a2; (void)lda2; (void)packed; (void)bias; (void)c;
    (void)ids; (void)ldb;
    (void)ldc; (void)hOut; (void)ldo; (void)y; (void)ldy; (void)gatesOut; (void)tanhC;
}
void NAME(rnnkit_adam)(long count, float *w, const float *g, float *m, float *v, float b1, float b2, float stepSize,
                       float rootCorrection2, float eps) {
    (void)count; (void)w; (void)g; (void)m; (void)v; (void)b1; (void)b2; (void)stepSize; (void)rootCorrection2;
    (void)eps;
}
double NAME(rnnkit_fma_peak)(long iterations, float *sink) {
    (void)iterations;
    *sink = 0;
    return 0;
}

#endif
