// System calls Swift's Glibc module does not expose, and a signal handler (which must be C).
// Imported only by Checkpoint/AtomicFolder.swift, Training/Interruption.swift and Tensor/BLAS.swift.
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

/// Asks glibc's malloc to serve blocks up to 32 MiB from its heap and keep them when freed, so the
/// buffers each training step allocates are reused instead of mapped and faulted in again.
/// Does nothing elsewhere.
void rnnkit_keep_freed_memory(void);

#endif
