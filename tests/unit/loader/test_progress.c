/*
 * This file implements the unit tests of loader/progress.c: the text of
 * the progress line with and without a known input size (share and ETA
 * left out when the bytes read exceed the size, as with compressed input),
 * nothing at all written on a pipe, and on a pseudo-terminal a line drawn
 * in place, not redrawn within PROGRESS_INTERVAL_MS, and erased.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

static void test_format(void **state)
{
    (void)state;
    char out[256];
    progress_format(out, sizeof(out), 1200000, 100u << 20, 800u << 20, 4.0);
    assert_string_equal(out, "read 1200000 rows, 100.0 MiB of 800.0 MiB "
                             "(12%), 300000 rows/s, 25.0 MiB/s, ETA 0:28");
    /* Unknown size: no share, no ETA. */
    progress_format(out, sizeof(out), 10, 2048, 0, 2.0);
    assert_string_equal(out, "read 10 rows, 2.0 KiB, 5 rows/s, 1.0 KiB/s");
    /* More bytes than the size (decompressed text): no share, no ETA. */
    progress_format(out, sizeof(out), 10, 4096, 1000, 1.0);
    assert_string_equal(out, "read 10 rows, 4.0 KiB, 10 rows/s, 4.0 KiB/s");
    /* Hours, and no time elapsed yet. */
    progress_format(out, sizeof(out), 1, 1, 7201, 1.0);
    assert_string_equal(out, "read 1 rows, 1 B of 7.0 KiB (0%), 1 rows/s, "
                             "1 B/s, ETA 2:00:00");
    progress_format(out, sizeof(out), 0, 0, 100, 0.0);
    assert_string_equal(out, "read 0 rows, 0 B of 100 B (0%), 0 rows/s, "
                             "0 B/s");
    /* A short buffer is cut, as snprintf cuts. */
    char tiny[12];
    int n = progress_format(tiny, sizeof(tiny), 5, 5, 0, 1.0);
    assert_true(n >= (int)sizeof(tiny));
    assert_string_equal(tiny, "read 5 rows");
}

static void test_pipe_gets_nothing(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct progress *p = progress_create(fds[1], 1000);
    assert_null(p);
    progress_update(p, 10, 100);
    progress_clear(p);
    progress_destroy(&p);
    close(fds[1]);
    char b[16];
    assert_int_equal(read(fds[0], b, sizeof(b)), 0);
    close(fds[0]);
}

/* What the terminal received within a short wait ("" if nothing). */
static void drain(int master, char *out, size_t outlen)
{
    size_t len = 0;
    struct pollfd pfd = {master, POLLIN, 0};
    while (len + 1 < outlen && poll(&pfd, 1, 200) == 1) {
        ssize_t n = read(master, out + len, outlen - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    out[len] = '\0';
}

static void test_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);

    struct progress *p = progress_create(slave, 1000);
    assert_non_null(p);
    char got[512];
    progress_update(p, 7, 100);
    drain(master, got, sizeof(got));
    assert_true(strncmp(got, "\rread 7 rows, 100 B of 1000 B (10%), ", 37) ==
                0);
    assert_non_null(strstr(got, "ETA "));
    assert_non_null(strstr(got, "\033[K"));
    /* Within the interval: not redrawn. */
    progress_update(p, 8, 200);
    drain(master, got, sizeof(got));
    assert_string_equal(got, "");
    usleep((PROGRESS_INTERVAL_MS + 50) * 1000);
    progress_update(p, 9, 300);
    drain(master, got, sizeof(got));
    assert_true(strncmp(got, "\rread 9 rows, 300 B", 19) == 0);
    progress_clear(p);
    drain(master, got, sizeof(got));
    assert_string_equal(got, "\r\033[K");
    /* Nothing drawn since: nothing to erase. */
    progress_destroy(&p);
    assert_null(p);
    drain(master, got, sizeof(got));
    assert_string_equal(got, "");
    close(slave);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_pipe_gets_nothing),
        cmocka_unit_test(test_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
