/*
 * This file implements the unit tests of the spill run files
 * (loader/spill.c): rows come back per partition in the order they were
 * added, with exact bytes (empty keys and values, binary bytes, rows
 * bigger than the write buffer); row and byte counts; a partition without
 * rows reads as empty; the open-per-flush mode used when descriptors are
 * scarce; truncated and corrupt run files are errors; and the
 * LARDER_TEST_FAIL_WRITE_AFTER_BYTES hook makes writes fail with ENOSPC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_write.h"
#include "spill.h"
#include "work_dir.h"

static char dir[256];

static int setup(void **state)
{
    char err[256];
    return work_dir_create(NULL, dir, sizeof(dir), NULL, err, sizeof(err));
}

static int teardown(void **state)
{
    return work_dir_remove(dir);
}

/* Row i of a test stream: its partition, key and value. */
static uint32_t row_part(size_t i, uint32_t parts)
{
    return (uint32_t)((i * 2654435761u) % parts);
}

static size_t row_key(size_t i, char *out)
{
    return (size_t)sprintf(out, "key-%zu", i);
}

/* Values of varying length, some empty, some with NUL bytes. */
static size_t row_value(size_t i, char *out)
{
    size_t len = (i * 37) % 300;
    for (size_t j = 0; j < len; j++) {
        out[j] = (char)((i + j) & 0xff);
    }
    return len;
}

static void write_rows(struct spill *s, size_t n, uint32_t parts)
{
    char err[256];
    char key[32], value[512];
    for (size_t i = 0; i < n; i++) {
        size_t kl = row_key(i, key);
        size_t vl = row_value(i, value);
        if (spill_add(s, row_part(i, parts), key, kl, value, vl, err,
                      sizeof(err)) != 0) {
            fail_msg("spill_add: %s", err);
        }
    }
    assert_int_equal(spill_finish(s, err, sizeof(err)), 0);
}

/* Reads every partition back and checks order, bytes and counts. */
static void check_rows(struct spill *s, size_t n, uint32_t parts)
{
    char err[256], key[32], value[512];
    uint64_t total = 0;
    for (uint32_t p = 0; p < parts; p++) {
        char path[512];
        spill_run_path(s, p, path, sizeof(path));
        struct spill_run *r = NULL;
        assert_int_equal(spill_run_open(path, &r, err, sizeof(err)), 0);
        size_t i = 0;
        uint64_t rows = 0;
        for (;;) {
            const char *k, *v;
            size_t kl, vl;
            int rc = spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err));
            if (rc < 0) {
                fail_msg("spill_run_next: %s", err);
            }
            if (rc == 0) {
                break;
            }
            while (i < n && row_part(i, parts) != p) {
                i++;
            }
            assert_true(i < n);
            size_t wkl = row_key(i, key);
            size_t wvl = row_value(i, value);
            assert_int_equal(kl, wkl);
            assert_memory_equal(k, key, kl);
            assert_int_equal(vl, wvl);
            if (vl) {
                assert_memory_equal(v, value, vl);
            }
            i++;
            rows++;
        }
        assert_int_equal(rows, spill_rows(s, p));
        struct stat sb;
        if (stat(path, &sb) == 0) {
            assert_int_equal((uint64_t)sb.st_size, spill_bytes(s, p));
        } else {
            assert_int_equal(spill_rows(s, p), 0);
        }
        total += rows;
        spill_run_close(&r);
        assert_null(r);
    }
    assert_int_equal(total, n);
}

static void test_round_trip(void **state)
{
    struct spill_options o = {dir, 16, 64 << 10, 0, 1};
    struct spill *s = NULL;
    char err[256];
    assert_int_equal(spill_create(&o, &s, err, sizeof(err)), 0);
    write_rows(s, 50000, 16);
    check_rows(s, 50000, 16);
    spill_destroy(&s);
    assert_null(s);
}

static void test_empty_partitions_and_empty_rows(void **state)
{
    struct spill_options o = {dir, 8, 1 << 20, 0, 1};
    struct spill *s = NULL;
    char err[256];
    assert_int_equal(spill_create(&o, &s, err, sizeof(err)), 0);
    assert_int_equal(spill_add(s, 3, "", 0, "", 0, err, sizeof(err)), 0);
    assert_int_equal(spill_add(s, 3, "k", 1, "", 0, err, sizeof(err)), 0);
    assert_int_equal(spill_finish(s, err, sizeof(err)), 0);
    char path[512];
    struct spill_run *r;
    const char *k, *v;
    size_t kl, vl;
    spill_run_path(s, 0, path, sizeof(path));
    assert_int_equal(spill_run_open(path, &r, err, sizeof(err)), 0);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     0);
    spill_run_close(&r);
    spill_run_path(s, 3, path, sizeof(path));
    assert_int_equal(spill_run_open(path, &r, err, sizeof(err)), 0);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     1);
    assert_int_equal(kl, 0);
    assert_int_equal(vl, 0);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     1);
    assert_int_equal(kl, 1);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     0);
    spill_run_close(&r);
    assert_int_equal(spill_bytes(s, 3), 2 + 3);
    spill_destroy(&s);
}

/* Rows bigger than the write buffer and than the read chunk. */
static void test_big_rows(void **state)
{
    struct spill_options o = {dir, 2, 0, 0, 1}; /* smallest buffers */
    struct spill *s = NULL;
    char err[256];
    size_t big = 3u << 20;
    char *value = malloc(big);
    assert_non_null(value);
    for (size_t i = 0; i < big; i++) {
        value[i] = (char)(i * 7);
    }
    assert_int_equal(spill_create(&o, &s, err, sizeof(err)), 0);
    assert_int_equal(spill_add(s, 1, "a", 1, "x", 1, err, sizeof(err)), 0);
    assert_int_equal(spill_add(s, 1, "big", 3, value, big, err, sizeof(err)),
                     0);
    assert_int_equal(spill_add(s, 1, "c", 1, "y", 1, err, sizeof(err)), 0);
    assert_int_equal(spill_finish(s, err, sizeof(err)), 0);
    char path[512];
    spill_run_path(s, 1, path, sizeof(path));
    struct spill_run *r;
    const char *k, *v;
    size_t kl, vl;
    assert_int_equal(spill_run_open(path, &r, err, sizeof(err)), 0);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     1);
    assert_memory_equal(k, "a", 1);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     1);
    assert_int_equal(vl, big);
    assert_memory_equal(v, value, big);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     1);
    assert_memory_equal(v, "y", 1);
    assert_int_equal(spill_run_next(r, &k, &kl, &v, &vl, err, sizeof(err)),
                     0);
    spill_run_close(&r);
    spill_destroy(&s);
    free(value);
}

/* With fewer descriptors than partitions, files are opened per flush. */
static void test_few_descriptors(void **state)
{
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 128;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct spill_options o = {dir, 500, 0, 0, 1};
    struct spill *s = NULL;
    char err[256];
    assert_int_equal(spill_create(&o, &s, err, sizeof(err)), 0);
    write_rows(s, 30000, 500);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    check_rows(s, 30000, 500);
    spill_destroy(&s);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void test_truncated_and_corrupt(void **state)
{
    char path[512], err[256];
    const char *k, *v;
    size_t kl, vl;
    struct spill_run *r;
    static const struct {
        const char *data;
        size_t len;
        const char *why;
    } cases[] = {
        {"\x01\x03" "abc", 5, "run file truncated"},
        {"\x01\x01" "ab" "\x05", 5, "run file truncated"},
        {"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 11,
         "corrupt run file (bad length)"},
    };
    snprintf(path, sizeof(path), "%s/bad-run", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(path, cases[i].data, cases[i].len);
        assert_int_equal(spill_run_open(path, &r, err, sizeof(err)), 0);
        int rc;
        while ((rc = spill_run_next(r, &k, &kl, &v, &vl, err,
                                    sizeof(err))) == 1) {
        }
        assert_int_equal(rc, -1);
        assert_string_equal(err, cases[i].why);
        spill_run_close(&r);
    }
}

/* In a child, so the process-wide hook does not affect other tests. */
static void test_write_fail_hook(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("LARDER_TEST_FAIL_WRITE_AFTER_BYTES", "100000", 1);
        struct spill_options o = {dir, 4, 0, 0, 1};
        struct spill *s = NULL;
        char err[256], key[32], value[512];
        if (spill_create(&o, &s, err, sizeof(err)) != 0) {
            _exit(10);
        }
        size_t i;
        int rc = 0;
        for (i = 0; i < 100000 && rc == 0; i++) {
            size_t kl = row_key(i, key), vl = row_value(i, value);
            rc = spill_add(s, row_part(i, 4), key, kl, value, vl, err,
                           sizeof(err));
        }
        if (rc == 0) {
            rc = spill_finish(s, err, sizeof(err));
        }
        int e = errno;
        if (rc == 0) {
            _exit(11); /* the hook did not fire */
        }
        if (e != ENOSPC || strstr(err, "No space left on device") == NULL) {
            _exit(12);
        }
        uint64_t bytes = 0;
        for (uint32_t p = 0; p < 4; p++) {
            bytes += spill_bytes(s, p);
        }
        _exit(bytes <= 100000 ? 0 : 13);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_partitions_and_empty_rows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_few_descriptors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_corrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_fail_hook, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
