// The large products of a training step, three ways: OpenBLAS (with the core it chose or was told
// through OPENBLAS_CORETYPE), RNNKit's own packed kernel (Sources/CKernels, the widest build this
// CPU runs, B packed and, for a transposed A, A transposed inside the timing), and oneDNN's sgemm
// (when built with -DWITH_DNNL against Debian's libdnnl-dev). benchmarks/products.py builds it and
// feeds it the shapes of each benchmark configuration; the tests never need it.
//
//   products THREADS SECONDS M N K TRANSA [M N K TRANSA ...]
//
// C (M, N) = op(A) · B, row-major, op(A) = Aᵀ when TRANSA is 1 (A stored (K, M): the weight
// gradient dGᵀ · [X, H, 1] of a recurrent layer). Prints one JSON line per shape with GFLOP/s for
// "blas", "own" and "onednn" (null when not built), each the best of a few runs of about SECONDS.
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"
#ifdef WITH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef void (*product_fn)(long, long, long, const float *, long, const float *, const float *, float *, long);

typedef struct {
    long m, n, k, transA;
    const float *a, *packed;
    float *at, *c;
    product_fn product;
    int threads, part;
} shape;

// One thread's share: its rows of Aᵀ (when transposed) and of C, as RNNKit splits rows.
static void *own_part(void *argument) {
    shape *s = argument;
    long r0 = s->m * s->part / s->threads, r1 = s->m * (s->part + 1) / s->threads;
    const float *a = s->a + r0 * s->k;
    if (s->transA) {
        for (long r = r0; r < r1; r++)
            for (long p = 0; p < s->k; p++) s->at[r * s->k + p] = s->a[p * s->m + r];
        a = s->at + r0 * s->k;
    }
    s->product(r1 - r0, s->n, s->k, a, s->k, s->packed, NULL, s->c + r0 * s->n, s->n);
    return NULL;
}

static void own(const shape *s, const float *b, float *packed) {
    rnnkit_pack(b, s->n, 0, s->k, s->n, packed);
    pthread_t threads[64];
    shape parts[64];
    for (int t = 0; t < s->threads; t++) {
        parts[t] = *s;
        parts[t].part = t;
        parts[t].packed = packed;
        if (t > 0) pthread_create(&threads[t], NULL, own_part, &parts[t]);
    }
    own_part(&parts[0]);
    for (int t = 1; t < s->threads; t++) pthread_join(threads[t], NULL);
}

// GFLOP/s of `run`: the best of 3 rounds of about `seconds` / 3 each, after one call.
#define RATE(result, flops, seconds, call)                                              \
    do {                                                                                \
        call;                                                                           \
        double best = 0;                                                                \
        for (int round = 0; round < 3; round++) {                                       \
            long runs = 0;                                                              \
            double start = now(), elapsed;                                              \
            do {                                                                        \
                call;                                                                   \
                runs++;                                                                 \
            } while ((elapsed = now() - start) < (seconds) / 3);                        \
            double rate = runs * (flops) / elapsed / 1e9;                               \
            if (rate > best) best = rate;                                               \
        }                                                                               \
        result = best;                                                                  \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 7 || (argc - 3) % 4 != 0) {
        fprintf(stderr, "usage: products THREADS SECONDS M N K TRANSA [M N K TRANSA ...]\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (threads < 1 || threads > 64 || seconds <= 0) {
        fprintf(stderr, "products: THREADS must be 1 to 64 and SECONDS positive\n");
        return 2;
    }
    int isa = rnnkit_cpu_isa();
    product_fn product = isa & RNNKIT_ISA_AVX512 ? rnnkit_sgemm_packed_avx512
                         : isa & RNNKIT_ISA_AVX2 ? rnnkit_sgemm_packed_avx2 : NULL;
    openblas_set_num_threads(threads);
    for (int i = 3; i + 3 < argc; i += 4) {
        shape s = {atol(argv[i]), atol(argv[i + 1]), atol(argv[i + 2]), atol(argv[i + 3])};
        s.threads = threads;
        s.product = product;
        if (s.m < 1 || s.n < 1 || s.k < 1) {
            fprintf(stderr, "products: M, N and K must be positive\n");
            return 2;
        }
        float *a = malloc(sizeof(float) * s.m * s.k), *b = malloc(sizeof(float) * s.k * s.n);
        float *c = malloc(sizeof(float) * s.m * s.n), *at = malloc(sizeof(float) * s.m * s.k);
        float *packed = malloc(sizeof(float) * rnnkit_packed_size(s.k, s.n));
        if (!a || !b || !c || !at || !packed) {
            fprintf(stderr, "products: out of memory\n");
            return 1;
        }
        for (long j = 0; j < s.m * s.k; j++) a[j] = (float)(j % 97) / 97.0f - 0.5f;
        for (long j = 0; j < s.k * s.n; j++) b[j] = (float)(j % 89) / 89.0f - 0.5f;
        s.a = a;
        s.at = at;
        s.c = c;
        double flops = 2.0 * s.m * s.n * s.k, blas = 0, mine = 0;
        long lda = s.transA ? s.m : s.k;
        RATE(blas, flops, seconds,
             cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1, a, lda,
                         b, s.n, 0, c, s.n));
        if (product) RATE(mine, flops, seconds, own(&s, b, packed));
        printf("{\"m\":%ld,\"n\":%ld,\"k\":%ld,\"transA\":%ld,\"blas\":%.1f,\"blas_core\":\"%s\",\"own\":", s.m, s.n,
               s.k, s.transA, blas, openblas_get_corename());
        if (product) printf("%.1f", mine); else printf("null");
#ifdef WITH_DNNL
        double dnnl = 0;
        RATE(dnnl, flops, seconds,
             dnnl_sgemm(s.transA ? 'T' : 'N', 'N', s.m, s.n, s.k, 1, a, lda, b, s.n, 0, c, s.n));
        printf(",\"onednn\":%.1f}\n", dnnl);
#else
        printf(",\"onednn\":null}\n");
#endif
        fflush(stdout);
        free(a), free(b), free(c), free(at), free(packed);
    }
    return 0;
}
