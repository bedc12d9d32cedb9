// Times builds of wide.h's packed product that differ only in their register tile and blocks, on
// the step products of the benchmark configurations. Built and driven by benchmarks/tiles.py, which
// writes the builds (one SUFFIX each) and tiles_variants.h, the list of them:
//   VARIANT(suffix, tile rows, tile panels, row block, depth block)
//
//     tiles <threads> <seconds per round> <rounds> m n k [m n k ...]
//
// For each shape, each thread multiplies its own A (m, k) with one shared packed B (k, n) into its
// own C, as the engine's sample split does (m is one core's rows). Prints one JSON line per shape:
// {"suffix": GFLOP/s of all threads together, ...}, the best round of each build; the builds take
// turns within a round, so that a slow spell of the machine hits them alike.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "CKernels.h"

typedef void (*product_fn)(long, long, long, const float *, long, const float *, const float *, float *, long);

#define VARIANT(suffix, rows, panels, rowBlock, depthBlock)                                                  \
    void rnnkit_sgemm_packed_##suffix(long m, long n, long k, const float *a, long lda, const float *packed, \
                                      const float *base, float *c, long ldc);
#include "tiles_variants.h"
#undef VARIANT

static const struct {
    const char *name;
    product_fn product;
} variants[] = {
#define VARIANT(suffix, rows, panels, rowBlock, depthBlock) {#suffix, rnnkit_sgemm_packed_##suffix},
#include "tiles_variants.h"
#undef VARIANT
};
enum { variantCount = sizeof variants / sizeof variants[0] };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    long m, n, k;
    const float *packed, *base;
    float *a, *c;
    product_fn product;
    double seconds, gflops;
} job;

static void *run(void *argument) {
    job *j = argument;
    j->product(j->m, j->n, j->k, j->a, j->k, j->packed, j->base, j->c, j->n);  // warm the caches
    long runs = 0;
    double start = now(), elapsed;
    do {
        j->product(j->m, j->n, j->k, j->a, j->k, j->packed, j->base, j->c, j->n);
        runs++;
    } while ((elapsed = now() - start) < j->seconds);
    j->gflops = 2.0 * j->m * j->n * j->k * runs / elapsed / 1e9;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 7 || (argc - 4) % 3 != 0) {
        fprintf(stderr, "usage: tiles threads seconds rounds m n k [m n k ...]\n");
        return 2;
    }
    int threads = atoi(argv[1]), rounds = atoi(argv[3]);
    double seconds = atof(argv[2]);
    if (threads < 1 || threads > 64 || rounds < 1 || seconds <= 0) {
        fprintf(stderr, "tiles: threads must be 1 to 64, rounds and seconds positive\n");
        return 2;
    }
    for (int s = 4; s + 2 < argc; s += 3) {
        long m = atol(argv[s]), n = atol(argv[s + 1]), k = atol(argv[s + 2]);
        if (m < 1 || n < 1 || k < 1) {
            fprintf(stderr, "tiles: bad shape %s %s %s\n", argv[s], argv[s + 1], argv[s + 2]);
            return 2;
        }
        float *b = malloc(sizeof(float) * k * n), *packed = malloc(sizeof(float) * rnnkit_packed_size(k, n));
        float *base = malloc(sizeof(float) * n);
        for (long i = 0; i < k * n; i++) b[i] = (float)(i % 13) * 0.01f;
        for (long i = 0; i < n; i++) base[i] = 0.5f;
        rnnkit_pack(b, n, 0, k, n, packed);
        job jobs[64];
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){m, n, k, packed, base, malloc(sizeof(float) * m * k), malloc(sizeof(float) * m * n), 0, seconds, 0};
            for (long i = 0; i < m * k; i++) jobs[t].a[i] = (float)((i + t) % 7) * 0.1f;
        }
        double best[variantCount] = {0};
        for (int round = 0; round < rounds; round++) {
            for (int v = 0; v < variantCount; v++) {
                pthread_t ids[64];
                for (int t = 0; t < threads; t++) {
                    jobs[t].product = variants[v].product;
                    if (t > 0) pthread_create(&ids[t], NULL, run, &jobs[t]);
                }
                run(&jobs[0]);
                double total = jobs[0].gflops;
                for (int t = 1; t < threads; t++) {
                    pthread_join(ids[t], NULL);
                    total += jobs[t].gflops;
                }
                if (total > best[v]) best[v] = total;
            }
        }
        printf("{");
        for (int v = 0; v < variantCount; v++) printf("%s\"%s\": %.2f", v ? ", " : "", variants[v].name, best[v]);
        printf("}\n");
        fflush(stdout);
        for (int t = 0; t < threads; t++) {
            free(jobs[t].a);
            free(jobs[t].c);
        }
        free(b);
        free(packed);
        free(base);
    }
    return 0;
}
