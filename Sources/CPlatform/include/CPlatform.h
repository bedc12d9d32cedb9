// System calls Swift's Glibc module does not expose, a signal handler (which must be C), and a team
// of threads that meet at a spinning barrier (C11 atomics: Swift's Atomic needs macOS 15).
// Imported only by Checkpoint/AtomicFolder.swift, Training/Interruption.swift, Tensor/BLAS.swift and
// Tensor/Team.swift.
#ifndef RNNKIT_CPLATFORM_H
#define RNNKIT_CPLATFORM_H

/// Atomically swaps two existing paths (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np RENAME_SWAP).
/// Returns 0, or -1 with errno set (EINVAL or ENOSYS where the file system cannot exchange).
int rnnkit_exchange_paths(const char *a, const char *b);

/// Installs RNNKit's SIGINT and SIGTERM handler: the first Ctrl-C (or SIGTERM) prints a note on standard error and sets the
/// flag read by rnnkit_interrupt_requested(); a second one ends the process at once with status 130
/// (_exit: no buffers flushed, no files half-written beyond what atomic writes already protect).
void rnnkit_catch_interrupts(void);

/// The handler prints no note (ranks of a distributed run after 0).
void rnnkit_quiet_interrupts(void);

/// Whether Ctrl-C has been pressed since rnnkit_catch_interrupts().
int rnnkit_interrupt_requested(void);

/// Asks glibc's malloc to serve every block from its heap (not only those up to 32 MiB, its default
/// limit) and keep up to 512 MiB free there, so the buffers each training step allocates are reused
/// instead of mapped and faulted in again: the char model (LSTM 512 × 2, 100 steps, batch 64) took
/// 260,000 page faults in a 5 s run and spent 0.9 s of 9.5 CPU-seconds in the kernel; served from the
/// heap, 100,000 (the first step's) and 0.45 s. Does nothing elsewhere.
void rnnkit_keep_freed_memory(void);

/// Where the members of a team meet: rnnkit_barrier_wait returns in each member once all have
/// called it. Members spin (with the CPU's pause hint) for a few microseconds, then yield the core
/// between checks, so that a machine with more threads than cores still moves on.
typedef struct rnnkit_barrier rnnkit_barrier;
void rnnkit_barrier_wait(rnnkit_barrier *barrier);

/// Runs body(context, barrier, m) for every member m in 0..<members at once, member 0 on the calling
/// thread and each other one on a thread of its own, and returns 0 once all have returned. Every
/// member must call rnnkit_barrier_wait(barrier) the same number of times. Returns -1 and runs no
/// member when the threads cannot be made (the caller then does the work another way).
///
/// For work that meets many times a millisecond (the steps of a recurrent layer): Dispatch's
/// concurrentPerform wakes its workers too slowly for that and then runs the iterations one after
/// the other on the caller, where a barrier between them would never open.
int rnnkit_team_run(int members, void (*body)(void *context, rnnkit_barrier *barrier, int member), void *context);

#endif
