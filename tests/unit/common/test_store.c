/*
 * This file implements the unit tests of the snapshot store
 * (common/store.c with the file:// backend of common/store_file.c): put and
 * get of files and bytes with directory creation and the xxh3-64 checksum,
 * replacement of an object, a checksum mismatch that leaves nothing at the
 * destination, missing objects named by their key, refused keys and URIs,
 * object URIs (a relative store directory is made absolute), moves into
 * the store (a rename on one file system, a checked copy across two), a
 * streaming copy from a source that reads in small odd pieces, and no
 * temporary file left behind by any of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_backend.h"
#include "test_pieces.h"
#include "test_proc.h"
#include "test_tmpdir.h"

static char tmpdir[64];
static char store_dir[128];
static char uri[160];
static struct store *st;

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/larder-store-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(store_dir, sizeof(store_dir), "%s/store", tmpdir);
    snprintf(uri, sizeof(uri), "file://%s/", store_dir);
    char err[256];
    if (store_open(uri, &st, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(&st);
    assert_null(st);
    test_tmpdir_remove(tmpdir);
    return 0;
}

static int count_tmp;

static int find_tmp(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (strstr(p, ".tmp.") != NULL) {
        count_tmp++;
    }
    return 0;
}

/* Temporary files anywhere under tmpdir. */
static int temp_files(void)
{
    count_tmp = 0;
    nftw(tmpdir, find_tmp, 16, FTW_PHYS);
    return count_tmp;
}

static void write_local(const char *p, const void *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_local(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(16 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 16 << 20, f);
    fclose(f);
    return buf;
}

static void test_bytes_round_trip(void **state)
{
    (void)state;
    char err[256];
    const char body[] = "{\"table\":\"t\"}\n";
    assert_int_equal(store_put_bytes(st, "t/v-000001/manifest.json", body,
                                     sizeof(body) - 1, err, sizeof(err)), 0);
    char *data;
    size_t len;
    assert_int_equal(store_get_bytes(st, "t/v-000001/manifest.json", &data,
                                     &len, err, sizeof(err)), 0);
    assert_int_equal(len, sizeof(body) - 1);
    assert_memory_equal(data, body, len);
    assert_int_equal(data[len], '\0');
    free(data);

    /* Replacing an object, and an empty one. */
    assert_int_equal(store_put_bytes(st, "t/v-000001/manifest.json", "new", 3,
                                     err, sizeof(err)), 0);
    assert_int_equal(store_get_bytes(st, "t/v-000001/manifest.json", &data,
                                     &len, err, sizeof(err)), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "new", 3);
    free(data);
    assert_int_equal(store_put_bytes(st, "empty", "", 0, err, sizeof(err)),
                     0);
    assert_int_equal(store_get_bytes(st, "empty", &data, &len, err,
                                     sizeof(err)), 0);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(temp_files(), 0);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    char err[256], src[160], dst[200];
    size_t n = (3 << 20) + 123; /* several copy buffers */
    uint8_t *content = malloc(n);
    assert_non_null(content);
    for (size_t i = 0; i < n; i++) {
        content[i] = (uint8_t)(i * 131 + (i >> 10));
    }
    snprintf(src, sizeof(src), "%s/src.seg", tmpdir);
    write_local(src, content, n);
    uint64_t sum = 0;
    assert_int_equal(store_put_file(st, "tbl/v-000012/part-00017.seg", src,
                                    &sum, err, sizeof(err)), 0);
    assert_int_equal(sum, XXH3_64bits(content, n));

    /* Fetched into directories that do not exist yet, checksum verified. */
    snprintf(dst, sizeof(dst), "%s/node/segments/tbl/v-000012/p17.seg",
             tmpdir);
    assert_int_equal(store_get_file(st, "tbl/v-000012/part-00017.seg", dst,
                                    sum, err, sizeof(err)), 0);
    size_t got_len;
    char *got = read_local(dst, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, n);
    assert_memory_equal(got, content, n);
    free(got);

    /* expected_checksum 0: not compared. */
    assert_int_equal(store_get_file(st, "tbl/v-000012/part-00017.seg", dst, 0,
                                    err, sizeof(err)), 0);
    assert_int_equal(temp_files(), 0);
    free(content);
}

static void test_checksum_mismatch_leaves_no_file(void **state)
{
    (void)state;
    char err[256], src[160], dst[160];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_local(src, "segment bytes", 13);
    uint64_t sum;
    assert_int_equal(store_put_file(st, "t/v-000002/part-00000.seg", src,
                                    &sum, err, sizeof(err)), 0);
    snprintf(dst, sizeof(dst), "%s/fetched.seg", tmpdir);
    assert_int_equal(store_get_file(st, "t/v-000002/part-00000.seg", dst,
                                    sum ^ 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, "t/v-000002/part-00000.seg"));
    assert_int_equal(access(dst, F_OK), -1);
    assert_int_equal(temp_files(), 0);

    /* A file already at dst is left as it was. */
    write_local(dst, "old", 3);
    assert_int_equal(store_get_file(st, "t/v-000002/part-00000.seg", dst,
                                    sum ^ 1, err, sizeof(err)), -1);
    size_t len;
    char *old = read_local(dst, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(old, "old", 3);
    free(old);
    assert_int_equal(temp_files(), 0);
}

static void test_missing_object_names_key(void **state)
{
    (void)state;
    char err[256], dst[160];
    char *data = (char *)1;
    size_t len = 1;
    assert_int_equal(store_get_bytes(st, "t/v-000009/manifest.json", &data,
                                     &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'t/v-000009/manifest.json' not found"));
    assert_null(data);
    assert_int_equal(len, 0);
    snprintf(dst, sizeof(dst), "%s/x.seg", tmpdir);
    assert_int_equal(store_get_file(st, "t/v-000009/part-00003.seg", dst, 0,
                                    err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'t/v-000009/part-00003.seg' not found"));
    assert_int_equal(access(dst, F_OK), -1);

    /* A missing local source for a put is named too. */
    char src[160];
    snprintf(src, sizeof(src), "%s/no-such-file", tmpdir);
    assert_int_equal(store_put_file(st, "k", src, NULL, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no-such-file"));
}

static void test_bad_keys(void **state)
{
    (void)state;
    const char *bad[] = {"", "/abs", "../up", "a/../b", "a/./b", "a//b",
                         "a/", ".", "..", "sp ace", "new\nline", "a\\b"};
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(store_key_valid(bad[i]));
        assert_int_equal(store_put_bytes(st, bad[i], "x", 1, err,
                                         sizeof(err)), -1);
        assert_non_null(strstr(err, "invalid store key"));
    }
    assert_true(store_key_valid("t/v-000001/part-00000.seg"));
    assert_true(store_key_valid("a.b/..c/d-e_f"));
}

static void test_uris(void **state)
{
    (void)state;
    char out[512], want[512];
    store_uri(st, "t/v-000003/manifest.json", out, sizeof(out));
    snprintf(want, sizeof(want), "file://%s/t/v-000003/manifest.json",
             store_dir);
    assert_string_equal(out, want);

    /* A relative directory is made absolute. */
    char cwd[400], err[256];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    struct store *rel = NULL;
    assert_int_equal(store_open("file://store", &rel, err, sizeof(err)), 0);
    store_uri(rel, "k", out, sizeof(out));
    snprintf(want, sizeof(want), "file://%s/store/k", tmpdir);
    assert_string_equal(out, want);
    assert_int_equal(store_put_bytes(rel, "k", "v", 1, err, sizeof(err)), 0);
    assert_int_equal(chdir(cwd), 0);
    store_close(&rel);
    char *data;
    size_t len;
    assert_int_equal(store_get_bytes(st, "k", &data, &len, err, sizeof(err)),
                     0);
    free(data);

    /* (A well-formed s3:// URI opens when credentials resolve: not here.) */
    const char *bad[] = {"s3://", "http://x", "file://", "", "/plain/path"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store *s = (struct store *)1;
        assert_int_equal(store_open(bad[i], &s, err, sizeof(err)), -1);
        assert_null(s);
    }
    assert_int_equal(store_open("s3://b/p", &rel, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "s3://"));
}

/* A file:// object is a local file: its path reads the bytes put. */
static void test_local_path(void **state)
{
    (void)state;
    char err[256], path[512], want[512];
    assert_int_equal(store_put_bytes(st, "t/v-000002/part-00001.seg", "seg",
                                     3, err, sizeof(err)), 0);
    assert_int_equal(store_local_path(st, "t/v-000002/part-00001.seg", path,
                                      sizeof(path), err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/t/v-000002/part-00001.seg", store_dir);
    assert_string_equal(path, want);
    size_t len;
    char *data = read_local(path, &len);
    assert_non_null(data);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "seg", 3);
    free(data);

    assert_int_equal(store_local_path(st, "../etc/passwd", path,
                                      sizeof(path), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid store key"));
    char tiny[8];
    assert_int_equal(store_local_path(st, "t/v-000002/part-00001.seg", tiny,
                                      sizeof(tiny), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
}

/* store_delete(): the object goes, then its empty directories; deleting
 * again is fine; a directory still holding objects stays. */
static void test_delete(void **state)
{
    (void)state;
    char err[256], path[512];
    assert_int_equal(store_put_bytes(st, "t/v-000003/part-00000.seg", "a", 1,
                                     err, sizeof(err)), 0);
    assert_int_equal(store_put_bytes(st, "t/v-000003/manifest.json", "{}", 2,
                                     err, sizeof(err)), 0);
    assert_int_equal(store_delete(st, "t/v-000003/part-00000.seg", err,
                                  sizeof(err)), 0);
    char *data;
    size_t len;
    assert_int_equal(store_get_bytes(st, "t/v-000003/part-00000.seg", &data,
                                     &len, err, sizeof(err)), -1);
    assert_int_equal(store_delete(st, "t/v-000003/part-00000.seg", err,
                                  sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/store/t/v-000003", tmpdir);
    assert_int_equal(access(path, F_OK), 0); /* manifest.json still there */
    assert_int_equal(store_delete(st, "t/v-000003/manifest.json", err,
                                  sizeof(err)), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(store_delete(st, "../x", err, sizeof(err)), -1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* store_set_bandwidth(): 9 MiB at 24 MiB/s cannot take less than 3/8 s;
 * the bytes are the same as without a limit. The file spans several hash
 * windows and ends inside one, so the checksum is checked against the
 * whole content. */
static void test_bandwidth_limit(void **state)
{
    (void)state;
    char err[256], src[512], dst[512];
    size_t n = ((size_t)9 << 20) + 4097;
    char *content = malloc(n);
    assert_non_null(content);
    for (size_t i = 0; i < n; i++) {
        content[i] = (char)(i * 7 + 3);
    }
    snprintf(src, sizeof(src), "%s/paced.seg", tmpdir);
    write_local(src, content, n);
    uint64_t sum = 0;
    assert_int_equal(store_put_file(st, "t/v-000001/part-00000.seg", src,
                                    &sum, err, sizeof(err)), 0);
    assert_int_equal(sum, XXH3_64bits(content, n));
    assert_int_equal(store_set_bandwidth(st, (uint64_t)24 << 20), 0);
    snprintf(dst, sizeof(dst), "%s/node/paced.seg", tmpdir);
    double t0 = now_s();
    assert_int_equal(store_get_file(st, "t/v-000001/part-00000.seg", dst, sum,
                                    err, sizeof(err)), 0);
    double took = now_s() - t0;
    assert_true(took >= 0.3); /* 0.375 s at the rate, minus the first chunk */
    size_t got_len;
    char *got = read_local(dst, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, n);
    assert_memory_equal(got, content, n);
    free(got);
    /* Back to no limit. */
    assert_int_equal(store_set_bandwidth(st, 0), 0);
    free(content);
}

static ino_t inode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_ino;
}

static void test_move_renames_on_one_file_system(void **state)
{
    (void)state;
    char err[256], src[160], obj[200];
    const char *key = "t/v-000003/part-00001.seg";
    snprintf(src, sizeof(src), "%s/built.seg", tmpdir);
    snprintf(obj, sizeof(obj), "%s/%s", store_dir, key);
    for (int round = 0; round < 2; round++) { /* a new object, a replacement */
        char body[64] = {0};
        snprintf(body, sizeof(body), "segment %d", round);
        size_t n = sizeof(body);
        write_local(src, body, n);
        ino_t ino = inode_of(src);
        assert_int_equal(store_move_file(st, key, src,
                                         XXH3_64bits(body, n), err,
                                         sizeof(err)), 0);
        assert_int_equal(access(src, F_OK), -1);
        assert_int_equal(inode_of(obj), ino); /* the same file: no copy */
        char dst[200];
        snprintf(dst, sizeof(dst), "%s/fetched.seg", tmpdir);
        assert_int_equal(store_get_file(st, key, dst,
                                        XXH3_64bits(body, n), err,
                                        sizeof(err)), 0);
    }
    assert_int_equal(temp_files(), 0);

    /* A missing source is named, and nothing appears in the store. */
    assert_int_equal(store_move_file(st, "t/v-000004/part-00000.seg", src, 0,
                                     err, sizeof(err)), -1);
    assert_non_null(strstr(err, "built.seg"));
    snprintf(obj, sizeof(obj), "%s/t/v-000004/part-00000.seg", store_dir);
    assert_int_equal(access(obj, F_OK), -1);
}

static void test_move_copies_across_file_systems(void **state)
{
    (void)state;
    /* /dev/shm is a tmpfs on Linux: another file system than /tmp's,
     * unless /tmp is a tmpfs of its own too (then st_dev still differs). */
    struct stat shm, tmp;
    if (stat("/dev/shm", &shm) != 0 || stat(tmpdir, &tmp) != 0 ||
        shm.st_dev == tmp.st_dev) {
        skip();
    }
    char err[256], src[160], obj[200];
    snprintf(src, sizeof(src), "/dev/shm/larder-move-%ld", (long)getpid());
    const char *key = "t/v-000005/part-00000.seg";
    snprintf(obj, sizeof(obj), "%s/%s", store_dir, key);
    const char body[] = "bytes from another file system";
    write_local(src, body, sizeof(body));
    uint64_t sum = XXH3_64bits(body, sizeof(body));

    /* A copy that does not match the caller's checksum is refused and
     * removed; the source stays. */
    assert_int_equal(store_move_file(st, key, src, sum ^ 1, err,
                                     sizeof(err)), -1);
    assert_non_null(strstr(err, "differs"));
    assert_int_equal(access(obj, F_OK), -1);
    assert_int_equal(access(src, F_OK), 0);

    assert_int_equal(store_move_file(st, key, src, sum, err, sizeof(err)),
                     0);
    assert_int_equal(access(src, F_OK), -1);
    size_t len;
    char *got = read_local(obj, &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof(body));
    assert_memory_equal(got, body, sizeof(body));
    free(got);
    assert_int_equal(temp_files(), 0);
}

/* kB of anonymous memory resident in this process (RssAnon). */
static long rss_anon_kb(void)
{
    long kb = test_proc_kb("/proc/self/status", "RssAnon");
    assert_true(kb >= 0);
    return kb;
}

/* store_copy_stream gathers small reads into whole buffers before it
 * writes: every byte arrives once, in order, and the checksum is the
 * content's. The thread keeps its 4 MiB buffer afterwards, until
 * store_release_copy_buffer(). */
static void test_copy_stream_small_reads(void **state)
{
    (void)state;
    size_t len = 2 * STORE_COPY_BUF + 777;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++) {
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    }
    struct test_pieces src = {.data = data, .len = len};
    char dst[256], err[256];
    snprintf(dst, sizeof(dst), "%s/copied/obj", tmpdir);
    uint64_t sum = 0;
    if (store_copy_stream(test_pieces_read, &src, "test object", dst, false,
                          XXH3_64bits(data, len), &sum, NULL, err,
                          sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_true(src.reads > len / 4099);
    assert_int_equal(sum, XXH3_64bits(data, len));
    FILE *f = fopen(dst, "rb");
    assert_non_null(f);
    uint8_t *back = malloc(len + 1);
    assert_non_null(back);
    assert_int_equal(fread(back, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(back, data, len);
    free(back);
    free(data);
    long kept = rss_anon_kb();
    store_release_copy_buffer();
    long released = rss_anon_kb();
    if (kept - released < 3 * 1024) {
        fail_msg("releasing the copy buffer freed %ld kB", kept - released);
    }
    store_release_copy_buffer(); /* nothing left: a no-op */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_bytes_round_trip),
        T(test_file_round_trip),
        T(test_checksum_mismatch_leaves_no_file),
        T(test_missing_object_names_key),
        T(test_bad_keys),
        T(test_uris),
        T(test_local_path),
        T(test_bandwidth_limit),
        T(test_delete),
        T(test_move_renames_on_one_file_system),
        T(test_move_copies_across_file_systems),
        T(test_copy_stream_small_reads),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
