#define _GNU_SOURCE
#include "CPlatform.h"
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>

int rnnkit_exchange_paths(const char *a, const char *b) {
#if defined(__APPLE__)
    return renamex_np(a, b, RENAME_SWAP);
#elif defined(RENAME_EXCHANGE)
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupts = 0;
static volatile sig_atomic_t quiet = 0;

void rnnkit_quiet_interrupts(void) { quiet = 1; }

static void on_interrupt(int signal) {
    (void)signal;
    if (interrupts) _exit(130);
    interrupts = 1;
    if (quiet) return;
    static const char note[] = "\nrnnkit: interrupted; finishing this step and saving a checkpoint (Ctrl-C again quits at once)\n";
    ssize_t ignored = write(STDERR_FILENO, note, sizeof note - 1);
    (void)ignored;
}

void rnnkit_catch_interrupts(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    // SIGTERM is how mpirun (and schedulers such as Slurm) pass a stop on to the ranks.
    sigaction(SIGTERM, &action, NULL);
    // A parent may have started us with SIGINT blocked (test runners, some shells' background jobs).
    sigset_t interrupt;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigaddset(&interrupt, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &interrupt, NULL);
}

int rnnkit_interrupt_requested(void) { return interrupts != 0; }

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void rnnkit_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks up to 32 MiB come from the heap
    mallopt(M_TRIM_THRESHOLD, 512 << 20);  // and stay there when freed, ready for the next step
    // Larger ones too (a long sequence's trace: 52 MB per layer for T 100 × B 64 × 4·512 gates),
    // which glibc would otherwise map afresh, and the kernel fault in and zero, at every step. The
    // heap still falls back to mapping where it cannot grow.
    mallopt(M_MMAP_MAX, 0);
#endif
}

// MARK: - Teams of threads

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct rnnkit_barrier {
    _Atomic int arrived;     // members at the barrier this round
    _Atomic int generation;  // rounds completed
    int members;
};

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void rnnkit_barrier_wait(rnnkit_barrier *b) {
    int round = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->members - 1) {
        // The last to arrive resets the count for the next round, then opens this one.
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
        return;
    }
    for (long spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == round; spins++) {
        if (spins < 2000) relax();
        else sched_yield();
    }
}

typedef struct {
    void (*body)(void *, rnnkit_barrier *, int);
    void *context;
    rnnkit_barrier *barrier;
    _Atomic int *start;  // 1: run, -1: give up (a thread could not be made)
    int member;
} member_start;

static void *member_main(void *argument) {
    member_start *m = argument;
    int go;
    while ((go = atomic_load_explicit(m->start, memory_order_acquire)) == 0) sched_yield();
    if (go > 0) m->body(m->context, m->barrier, m->member);
    return NULL;
}

int rnnkit_team_run(int members, void (*body)(void *, rnnkit_barrier *, int), void *context) {
    if (members < 1) return -1;
    rnnkit_barrier barrier = {0, 0, members};
    _Atomic int start = 0;
    pthread_t *threads = malloc(sizeof(pthread_t) * (size_t)members);
    member_start *starts = malloc(sizeof(member_start) * (size_t)members);
    if (!threads || !starts) {
        free(threads);
        free(starts);
        return -1;
    }
    int made = 1;
    for (; made < members; made++) {
        starts[made] = (member_start){body, context, &barrier, &start, made};
        if (pthread_create(&threads[made], NULL, member_main, &starts[made]) != 0) break;
    }
    int ok = made == members;
    atomic_store_explicit(&start, ok ? 1 : -1, memory_order_release);
    if (ok) body(context, &barrier, 0);
    for (int i = 1; i < made; i++) pthread_join(threads[i], NULL);
    free(threads);
    free(starts);
    return ok ? 0 : -1;
}
