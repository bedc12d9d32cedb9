// System calls Swift's Glibc module does not expose. Imported only by Checkpoint/AtomicFolder.swift.
#ifndef RNNKIT_CPLATFORM_H
#define RNNKIT_CPLATFORM_H

/// Atomically swaps two existing paths (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np RENAME_SWAP).
/// Returns 0, or -1 with errno set (EINVAL or ENOSYS where the file system cannot exchange).
int rnnkit_exchange_paths(const char *a, const char *b);

#endif
