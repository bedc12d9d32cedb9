// oneDNN's sgemm, loaded at run time (dlopen) rather than linked, for two reasons: it stays optional
// (a build without libdnnl, or macOS, runs every product through BLAS), and OpenMP, which it loads,
// must see OMP_WAIT_POLICY before it starts (see CBLAS.h).
#include "CBLAS.h"
#include <stdio.h>
#include <stdlib.h>

#if defined(__linux__)
#include <dlfcn.h>
#include <pthread.h>

typedef int (*sgemm_function)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t,
                              const float *, int64_t, float, float *, int64_t);
static sgemm_function sgemm;
static void (*set_threads)(int);  // OpenMP's omp_set_num_threads: per calling thread
static char reason[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    const char *name = getenv("RNNKIT_ONEDNN_LIBRARY");
    if (!name || !*name) name = "libdnnl.so.2";
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(reason, sizeof reason, "cannot load %s: %s", name, dlerror());
        return;
    }
    sgemm_function found = (sgemm_function)dlsym(library, "dnnl_sgemm");
    if (!found) {
        snprintf(reason, sizeof reason, "%s has no symbol dnnl_sgemm (RNNKit needs oneDNN 1.0 or later)", name);
        return;
    }
    set_threads = (void (*)(int))dlsym(library, "omp_set_num_threads");  // absent in TBB builds
    sgemm = found;
}

int rnnkit_onednn_load(char *error, size_t capacity) {
    pthread_once(&once, load);
    if (sgemm) return 0;
    if (error && capacity) snprintf(error, capacity, "%s", reason);
    return -1;
}

int rnnkit_onednn_sgemm(int threads, char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (set_threads) set_threads(threads);
    return sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else

int rnnkit_onednn_load(char *error, size_t capacity) {
    if (error && capacity) snprintf(error, capacity, "RNNKit loads oneDNN only on Linux");
    return -1;
}

int rnnkit_onednn_sgemm(int threads, char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    (void)threads; (void)transa; (void)transb; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif
