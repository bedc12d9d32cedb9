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
#endif
}
