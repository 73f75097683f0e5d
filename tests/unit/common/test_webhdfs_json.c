/*
 * This file implements the unit tests of the WebHDFS JSON parsers
 * (common/webhdfs_json.c) on bodies shaped as a NameNode sends them:
 * GETFILESTATUS of a file and a directory, a LISTSTATUS with files and a
 * subdirectory, an empty listing, bodies that are not what they should
 * be (refused, not half-parsed), and RemoteException error bodies mapped
 * to errno.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "webhdfs_json.h"

static int parse_status(const char *body, struct webhdfs_status *st)
{
    char err[256];
    return webhdfs_parse_file_status(body, strlen(body), st, err,
                                     sizeof(err));
}

static void test_file_status_file(void **state)
{
    (void)state;
    struct webhdfs_status st;
    assert_int_equal(parse_status(
        "{\"FileStatus\":{\"accessTime\":1700000000000,\"blockSize\":"
        "134217728,\"group\":\"supergroup\",\"length\":5000000000,"
        "\"modificationTime\":1700000000000,\"owner\":\"spark\","
        "\"pathSuffix\":\"\",\"permission\":\"644\",\"replication\":3,"
        "\"type\":\"FILE\"}}", &st), 0);
    assert_true(st.is_file);
    assert_false(st.is_dir);
    assert_true(st.length == 5000000000ull); /* past 32 bits */
    assert_string_equal(st.name, "");
    webhdfs_status_free(&st);
    assert_null(st.name);
}

static void test_file_status_directory(void **state)
{
    (void)state;
    struct webhdfs_status st;
    assert_int_equal(parse_status("{\"FileStatus\":{\"length\":0,"
                                  "\"type\":\"DIRECTORY\",\"childrenNum\":"
                                  "4}}", &st), 0);
    assert_true(st.is_dir);
    assert_false(st.is_file);
    webhdfs_status_free(&st);
    assert_int_equal(parse_status("{\"FileStatus\":{\"length\":0,"
                                  "\"type\":\"SYMLINK\"}}", &st), 0);
    assert_false(st.is_dir);
    assert_false(st.is_file);
    webhdfs_status_free(&st);
}

static void test_file_status_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"FileStatuses\":{}}",
        "{\"FileStatus\":{\"type\":\"FILE\"}}",          /* no length */
        "{\"FileStatus\":{\"length\":1}}",               /* no type */
        "{\"FileStatus\":{\"type\":\"FILE\",\"length\":-1}}",
        "{\"FileStatus\":{\"type\":\"FILE\",\"length\":\"12\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct webhdfs_status st;
        char err[256] = "";
        errno = 0;
        assert_int_equal(webhdfs_parse_file_status(bad[i], strlen(bad[i]),
                                                   &st, err, sizeof(err)),
                         -1);
        assert_int_equal(errno, EBADMSG);
        assert_true(err[0] != '\0');
    }
}

static void test_list(void **state)
{
    (void)state;
    const char *body =
        "{\"FileStatuses\":{\"FileStatus\":["
        "{\"length\":120,\"pathSuffix\":\"part-00001.json\",\"type\":"
        "\"FILE\",\"owner\":\"spark\"},"
        "{\"length\":0,\"pathSuffix\":\"_SUCCESS\",\"type\":\"FILE\"},"
        "{\"length\":0,\"pathSuffix\":\"sub\",\"type\":\"DIRECTORY\"},"
        "{\"length\":12,\"pathSuffix\":\".part-00000.crc\",\"type\":"
        "\"FILE\"}]}}";
    struct webhdfs_status *list;
    size_t n;
    char err[256];
    assert_int_equal(webhdfs_parse_list(body, strlen(body), &list, &n, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "part-00001.json");
    assert_true(list[0].is_file);
    assert_int_equal(list[0].length, 120);
    assert_string_equal(list[1].name, "_SUCCESS");
    assert_int_equal(list[1].length, 0);
    assert_string_equal(list[2].name, "sub");
    assert_true(list[2].is_dir);
    assert_false(list[2].is_file);
    assert_string_equal(list[3].name, ".part-00000.crc");
    webhdfs_list_free(list, n);
}

static void test_list_empty(void **state)
{
    (void)state;
    const char *body = "{\"FileStatuses\":{\"FileStatus\":[]}}";
    struct webhdfs_status *list;
    size_t n = 99;
    char err[256];
    assert_int_equal(webhdfs_parse_list(body, strlen(body), &list, &n, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(n, 0);
    webhdfs_list_free(list, n);
}

static void test_list_refused(void **state)
{
    (void)state;
    /* A bad entry anywhere refuses the whole listing: a path escaping the
     * directory, an empty name, a missing length, a non-object. */
    static const char *const bad[] = {
        "{\"FileStatuses\":{\"FileStatus\":{}}}",
        "{\"FileStatus\":{\"length\":1,\"type\":\"FILE\"}}",
        "{\"FileStatuses\":{\"FileStatus\":[{\"length\":1,\"pathSuffix\":"
        "\"a\",\"type\":\"FILE\"},{\"length\":1,\"pathSuffix\":\"../x\","
        "\"type\":\"FILE\"}]}}",
        "{\"FileStatuses\":{\"FileStatus\":[{\"length\":1,\"pathSuffix\":"
        "\"\",\"type\":\"FILE\"}]}}",
        "{\"FileStatuses\":{\"FileStatus\":[{\"length\":1,\"pathSuffix\":"
        "\"..\",\"type\":\"DIRECTORY\"}]}}",
        "{\"FileStatuses\":{\"FileStatus\":[{\"pathSuffix\":\"a\","
        "\"type\":\"FILE\"}]}}",
        "{\"FileStatuses\":{\"FileStatus\":[{\"length\":1,\"pathSuffix\":"
        "\"a\",\"type\":\"FILE\"},7]}}",
        "{\"FileStatuses\":{\"FileStatus\":[",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct webhdfs_status *list = (void *)1;
        size_t n = 99;
        char err[256] = "";
        errno = 0;
        assert_int_equal(webhdfs_parse_list(bad[i], strlen(bad[i]), &list,
                                            &n, err, sizeof(err)),
                         -1);
        assert_int_equal(errno, EBADMSG);
        assert_null(list);
        assert_int_equal(n, 0);
        assert_true(err[0] != '\0');
    }
}

static void test_remote_exception(void **state)
{
    (void)state;
    const char *body =
        "{\"RemoteException\":{\"exception\":\"FileNotFoundException\","
        "\"javaClassName\":\"java.io.FileNotFoundException\",\"message\":"
        "\"File does not exist: /data/out\"}}";
    struct webhdfs_error we;
    assert_int_equal(webhdfs_parse_remote_exception(body, strlen(body), &we),
                     0);
    assert_string_equal(we.exception, "FileNotFoundException");
    assert_string_equal(we.java_class, "java.io.FileNotFoundException");
    assert_string_equal(we.message, "File does not exist: /data/out");
    assert_int_equal(webhdfs_exception_errno(we.exception), ENOENT);

    body = "{\"RemoteException\":{\"exception\":\"AccessControlException\","
           "\"javaClassName\":\"org.apache.hadoop.security."
           "AccessControlException\",\"message\":\"Permission denied: "
           "user=bob, access=READ_EXECUTE\"}}";
    assert_int_equal(webhdfs_parse_remote_exception(body, strlen(body), &we),
                     0);
    assert_int_equal(webhdfs_exception_errno(we.exception), EACCES);
    assert_int_equal(webhdfs_exception_errno(we.java_class), EACCES);

    /* Only a message: the fields that are absent are empty. */
    body = "{\"RemoteException\":{\"message\":\"boom\"}}";
    assert_int_equal(webhdfs_parse_remote_exception(body, strlen(body), &we),
                     0);
    assert_string_equal(we.exception, "");
    assert_string_equal(we.message, "boom");
}

static void test_remote_exception_not_one(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "<html><body>502 Bad Gateway</body></html>",
        "{\"FileStatus\":{}}",
        "{\"RemoteException\":\"x\"}",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct webhdfs_error we;
        memset(&we, 'x', sizeof(we));
        assert_int_equal(webhdfs_parse_remote_exception(bad[i],
                                                        strlen(bad[i]), &we),
                         -1);
        assert_string_equal(we.exception, "");
        assert_string_equal(we.message, "");
    }
    struct webhdfs_error we;
    assert_int_equal(webhdfs_parse_remote_exception(NULL, 0, &we), -1);
}

static void test_exception_errno(void **state)
{
    (void)state;
    assert_int_equal(webhdfs_exception_errno("SecurityException"), EACCES);
    assert_int_equal(webhdfs_exception_errno(
                         "org.apache.hadoop.security.token."
                         "SecretManager$InvalidToken"),
                     EACCES);
    assert_int_equal(webhdfs_exception_errno("java.io.FileNotFoundException"),
                     ENOENT);
    assert_int_equal(webhdfs_exception_errno("IllegalArgumentException"),
                     EIO);
    assert_int_equal(webhdfs_exception_errno("StandbyException"), EIO);
    assert_int_equal(webhdfs_exception_errno(""), EIO);
    assert_int_equal(webhdfs_exception_errno(NULL), EIO);
    /* A name that merely ends like one is not it. */
    assert_int_equal(webhdfs_exception_errno("MyFileNotFoundException"),
                     EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_status_file),
        cmocka_unit_test(test_file_status_directory),
        cmocka_unit_test(test_file_status_refused),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_empty),
        cmocka_unit_test(test_list_refused),
        cmocka_unit_test(test_remote_exception),
        cmocka_unit_test(test_remote_exception_not_one),
        cmocka_unit_test(test_exception_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
