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
