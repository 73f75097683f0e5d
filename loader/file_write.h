/*
 * file_write.h: the one way larder-load writes its own files (the spill
 * run files), so that a full disk can be simulated in tests.
 *
 * Test hook: when the environment variable
 * LARDER_TEST_FAIL_WRITE_AFTER_BYTES is set to N, writes through
 * file_write_all() fail with ENOSPC ("No space left on device") once N
 * bytes in total have been written by the process. It exists only for the
 * integration tests (docs/loader.md, "Test hooks").
 */
#ifndef LARDER_FILE_WRITE_H
#define LARDER_FILE_WRITE_H

#include <stddef.h>

/*
 * Writes all len bytes to fd, retrying short writes and EINTR. Returns 0,
 * or -1 with errno set.
 */
int file_write_all(int fd, const void *buf, size_t len);

#endif
