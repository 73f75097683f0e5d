/*
 * This file implements file_write_all(): a complete write(2) loop, plus
 * the LARDER_TEST_FAIL_WRITE_AFTER_BYTES test hook that makes it fail as a
 * full disk would.
 */
#include "file_write.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define FAIL_AFTER_ENV "LARDER_TEST_FAIL_WRITE_AFTER_BYTES"

static uint64_t written; /* bytes written while the hook is set */

/*
 * The hook's limit, UINT64_MAX when unset. Read at every call: writes come
 * in buffers of many kilobytes, so a getenv() is noise next to write(2).
 */
static uint64_t write_limit(void)
{
    const char *s = getenv(FAIL_AFTER_ENV);
    if (s == NULL || *s == '\0') {
        return UINT64_MAX;
    }
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    return *end == '\0' ? n : UINT64_MAX;
}

int file_write_all(int fd, const void *buf, size_t len)
{
    uint64_t limit = write_limit();
    if (limit != UINT64_MAX &&
        __atomic_add_fetch(&written, len, __ATOMIC_RELAXED) > limit) {
        errno = ENOSPC;
        return -1;
    }
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
