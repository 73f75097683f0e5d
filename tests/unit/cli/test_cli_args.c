/*
 * This file implements the unit tests of the admin CLI's command-line
 * parsing (cli/cli_args.c): options before and after the command, both
 * value spellings, "--" for keys that look like options, the membership
 * default from the environment, every usage error, the cluster options
 * (node add, table create/config, --seeds and its list), TABLE=VERSION
 * pairs and table-name checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli_args.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static void test_command_and_positionals(void **state)
{
    (void)state;
    char *argv[] = {"larder", "--json", "mget", "t", "a", "--version", "7",
                    "b", "--node=127.0.0.1:1"};
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, ARGC(argv), argv, NULL), 0);
    assert_string_equal(a.command, "mget");
    assert_int_equal(a.npos, 3);
    assert_string_equal(a.pos[0], "t");
    assert_string_equal(a.pos[1], "a");
    assert_string_equal(a.pos[2], "b");
    assert_true(a.json);
    assert_int_equal(a.version, 7);
    assert_string_equal(a.node, "127.0.0.1:1");
    assert_int_equal(a.seen, CLI_OPT(JSON) | CLI_OPT(VERSION) | CLI_OPT(NODE));
    assert_int_equal(a.timeout_ms, CLI_DEFAULT_TIMEOUT_MS);
    assert_int_equal(a.sample, CLI_DEFAULT_SAMPLE);
    assert_string_equal(a.membership, CLI_DEFAULT_MEMBERSHIP);
    assert_false(a.help);
    cli_args_free(&a);
}

static void test_membership_resolution(void **state)
{
    (void)state;
    char *argv1[] = {"larder", "active"};
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, ARGC(argv1), argv1, "local:/e"), 0);
    assert_string_equal(a.membership, "local:/e");
    cli_args_free(&a);
    /* An empty environment variable counts as unset. */
    assert_int_equal(cli_args_parse(&a, ARGC(argv1), argv1, ""), 0);
    assert_string_equal(a.membership, CLI_DEFAULT_MEMBERSHIP);
    cli_args_free(&a);
    /* The option wins over the environment. */
    char *argv2[] = {"larder", "active", "--membership", "local:/o"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv2), argv2, "local:/e"), 0);
    assert_string_equal(a.membership, "local:/o");
    cli_args_free(&a);
}

static void test_double_dash(void **state)
{
    (void)state;
    char *argv[] = {"larder", "get", "t", "--", "--json", "-h"};
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, ARGC(argv), argv, NULL), 0);
    assert_int_equal(a.npos, 3);
    assert_string_equal(a.pos[1], "--json");
    assert_string_equal(a.pos[2], "-h");
    assert_false(a.json);
    assert_false(a.help);
    cli_args_free(&a);
    /* A single-dash word is a positional (keys may start with '-'). */
    char *argv2[] = {"larder", "get", "t", "-1"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv2), argv2, NULL), 0);
    assert_string_equal(a.pos[1], "-1");
    cli_args_free(&a);
}

static void test_flags(void **state)
{
    (void)state;
    char *argv[] = {"larder", "activate", "a=1", "--force", "--min-replicas",
                    "2", "-h"};
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, ARGC(argv), argv, NULL), 0);
    assert_true(a.force);
    assert_true(a.help);
    assert_int_equal(a.min_replicas, 2);
    cli_args_free(&a);
    char *argv3[] = {"larder", "diff", "t", "1", "2", "--sample=0"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv3), argv3, NULL), 0);
    assert_int_equal(a.sample, 0);
    assert_int_equal(a.seen, CLI_OPT(SAMPLE));
    cli_args_free(&a);
    char *argv2[] = {"larder", "--help"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv2), argv2, NULL), 0);
    assert_true(a.help);
    assert_null(a.command);
    cli_args_free(&a);
}

/* Parses argv and expects a usage error with exactly this message. */
static void expect_error(int argc, char **argv, const char *msg)
{
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, argc, argv, NULL), -1);
    assert_string_equal(a.err, msg);
    cli_args_free(&a);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char *a1[] = {"larder", "--bogus"};
    expect_error(ARGC(a1), a1, "unknown option --bogus");
    char *a2[] = {"larder", "get", "--version"};
    expect_error(ARGC(a2), a2, "--version needs a value (V)");
    char *a3[] = {"larder", "get", "--version", "x"};
    expect_error(ARGC(a3), a3, "--version: \"x\" is not a version number");
    char *a4[] = {"larder", "get", "--version=0"};
    expect_error(ARGC(a4), a4, "--version: \"0\" is not a version number");
    char *a5[] = {"larder", "--json=yes"};
    expect_error(ARGC(a5), a5, "--json takes no value");
    char *a6[] = {"larder", "--json", "--json"};
    expect_error(ARGC(a6), a6, "--json given twice");
    char *a7[] = {"larder", "--timeout", "0"};
    expect_error(ARGC(a7), a7, "--timeout: \"0\" is not a number of "
                               "milliseconds (1 to 3600000)");
    char *a8[] = {"larder", "--min-replicas", "-1"};
    expect_error(ARGC(a8), a8, "--min-replicas: \"-1\" is not a number");
    char *a9[] = {"larder", "--min-replicas", "4294967296"};
    expect_error(ARGC(a9), a9,
                 "--min-replicas: \"4294967296\" is not a number");
    char *a10[] = {"larder", "--membership="};
    expect_error(ARGC(a10), a10, "--membership needs a URI");
    char *a11[] = {"larder", "--version", "18446744073709551616"};
    expect_error(ARGC(a11), a11, "--version: \"18446744073709551616\" is "
                                 "not a version number");
    char *a12[] = {"larder", "--sample", "10001"};
    expect_error(ARGC(a12), a12, "--sample: \"10001\" is not a number (0 "
                                 "to 10000)");
}

static void test_cluster_options(void **state)
{
    (void)state;
    char *argv[] = {"larder", "node", "add", "n1", "10.0.0.1:7000",
                    "--zone", "eu-1a", "--capacity=250"};
    struct cli_args a;
    assert_int_equal(cli_args_parse(&a, ARGC(argv), argv, NULL), 0);
    assert_string_equal(a.command, "node");
    assert_int_equal(a.npos, 3);
    assert_string_equal(a.pos[0], "add");
    assert_string_equal(a.zone, "eu-1a");
    assert_int_equal(a.capacity, 250);
    assert_int_equal(a.seen, CLI_OPT(ZONE) | CLI_OPT(CAPACITY));
    cli_args_free(&a);

    /* Defaults: capacity 100, 256 partitions, replication all, batch. */
    char *argv2[] = {"larder", "table", "create", "t"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv2), argv2, NULL), 0);
    assert_int_equal(a.capacity, CLI_DEFAULT_CAPACITY);
    assert_int_equal(a.partitions, 256);
    assert_int_equal(a.replication, 0);
    assert_null(a.fallback_key);
    assert_int_equal(a.max_age_s, 0);
    assert_false(a.kind_live);
    assert_null(a.seeds);
    cli_args_free(&a);

    char *argv3[] = {"larder", "table", "config", "t", "--partitions", "16",
                     "--replication", "3", "--fallback-key", "",
                     "--max-age", "86400", "--kind", "live", "--seeds",
                     "10.0.0.1:7000,10.0.0.2:7000"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv3), argv3, NULL), 0);
    assert_int_equal(a.partitions, 16);
    assert_int_equal(a.replication, 3);
    assert_string_equal(a.fallback_key, "");
    assert_int_equal(a.max_age_s, 86400);
    assert_true(a.kind_live);
    assert_string_equal(a.seeds, "10.0.0.1:7000,10.0.0.2:7000");
    cli_args_free(&a);

    char *argv4[] = {"larder", "table", "config", "t", "--replication=all"};
    assert_int_equal(cli_args_parse(&a, ARGC(argv4), argv4, NULL), 0);
    assert_int_equal(a.replication, 0);
    assert_true(a.seen & CLI_OPT(REPLICATION));
    cli_args_free(&a);
}

static void test_cluster_option_errors(void **state)
{
    (void)state;
    char *a1[] = {"larder", "--capacity", "0"};
    expect_error(ARGC(a1), a1, "--capacity: \"0\" is not a number (1 to "
                               "1000)");
    char *a2[] = {"larder", "--capacity", "1001"};
    expect_error(ARGC(a2), a2, "--capacity: \"1001\" is not a number (1 "
                               "to 1000)");
    char *a3[] = {"larder", "--zone", "a/b"};
    expect_error(ARGC(a3), a3, "--zone: \"a/b\" is not a zone name "
                               "([A-Za-z0-9_.-], 1 to 64)");
    char *a4[] = {"larder", "--partitions", "0"};
    expect_error(ARGC(a4), a4, "--partitions: \"0\" is not a number (1 to "
                               "1048576)");
    char *a5[] = {"larder", "--replication", "0"};
    expect_error(ARGC(a5), a5, "--replication: \"0\" is neither a number "
                               "(1 to 1024) nor all");
    char *a6[] = {"larder", "--replication", "ALL"};
    expect_error(ARGC(a6), a6, "--replication: \"ALL\" is neither a number "
                               "(1 to 1024) nor all");
    char *a7[] = {"larder", "--kind", "hot"};
    expect_error(ARGC(a7), a7, "--kind: \"hot\" is neither batch nor live");
    char *a8[] = {"larder", "--max-age", "1d"};
    expect_error(ARGC(a8), a8, "--max-age: \"1d\" is not a number of "
                               "seconds");
    char *a9[] = {"larder", "--seeds="};
    expect_error(ARGC(a9), a9, "--seeds needs HOST:PORT[,HOST:PORT...]");
}

static void test_split_seeds(void **state)
{
    (void)state;
    char *out[4];
    size_t n = 9;
    char err[256];
    assert_int_equal(cli_args_split_seeds("10.0.0.1:7000,[::1]:7001,db:1",
                                          out, 4, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "10.0.0.1:7000");
    assert_string_equal(out[1], "[::1]:7001");
    assert_string_equal(out[2], "db:1");
    for (size_t i = 0; i < n; i++) {
        free(out[i]);
    }
    const char *bad[][2] = {
        {"a:1,,b:2", "--seeds: \"\": an empty address"},
        {"a:1,", "--seeds: \"\": an empty address"},
        {"a", "--seeds: \"a\": not HOST:PORT (port 1 to 65535)"},
        {":7", "--seeds: \":7\": not HOST:PORT (port 1 to 65535)"},
        {"a:0", "--seeds: \"a:0\": not HOST:PORT (port 1 to 65535)"},
        {"a:65536", "--seeds: \"a:65536\": not HOST:PORT (port 1 to "
                    "65535)"},
        {"a:1,b:2,c:3,d:4,e:5", "--seeds: \"e:5\": too many addresses"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 9;
        assert_int_equal(cli_args_split_seeds(bad[i][0], out, 4, &n, err,
                                              sizeof(err)),
                         -1);
        assert_string_equal(err, bad[i][1]);
        assert_int_equal(n, 0);
    }
}

static void test_versions(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_args_parse_version("12", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(cli_args_parse_version("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    const char *bad[] = {"0", "", "v1", "-1", "+1", "1x",
                         "18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        assert_int_equal(cli_args_parse_version(bad[i], &v), -1);
        assert_int_equal(v, 7);
    }
}

static void test_pairs(void **state)
{
    (void)state;
    char table[65];
    char err[256];
    uint64_t v = 0;
    assert_int_equal(cli_args_parse_pair("users=12", table, sizeof(table), &v,
                                         err, sizeof(err)),
                     0);
    assert_string_equal(table, "users");
    assert_int_equal(v, 12);
    assert_int_equal(cli_args_parse_pair("a.b-c_d=18446744073709551615",
                                         table, sizeof(table), &v, err,
                                         sizeof(err)),
                     0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_args_parse_pair("users", table, sizeof(table), &v,
                                         err, sizeof(err)),
                     -1);
    assert_string_equal(err, "\"users\" is not TABLE=VERSION");
    assert_int_equal(cli_args_parse_pair("=3", table, sizeof(table), &v, err,
                                         sizeof(err)),
                     -1);
    assert_int_equal(cli_args_parse_pair("users=0", table, sizeof(table), &v,
                                         err, sizeof(err)),
                     -1);
    assert_string_equal(err, "\"users=0\": \"0\" is not a version number");
    assert_int_equal(cli_args_parse_pair("users=v3", table, sizeof(table), &v,
                                         err, sizeof(err)),
                     -1);
    assert_int_equal(cli_args_parse_pair("us ers=3", table, sizeof(table), &v,
                                         err, sizeof(err)),
                     -1);
    assert_string_equal(err, "\"us ers=3\": \"us ers\" is not a table name "
                             "([A-Za-z0-9_.-], 1 to 64)");
}

static void test_table_names(void **state)
{
    (void)state;
    assert_true(cli_valid_table_name("a"));
    assert_true(cli_valid_table_name("User_Features.v2-x"));
    char long_name[66];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    assert_true(cli_valid_table_name(long_name));
    long_name[64] = 'x';
    long_name[65] = '\0';
    assert_false(cli_valid_table_name(long_name));
    assert_false(cli_valid_table_name(""));
    assert_false(cli_valid_table_name("a/b"));
    assert_false(cli_valid_table_name("a b"));
    assert_false(cli_valid_table_name("\xc3\xa9"));
}

static void test_option_table(void **state)
{
    (void)state;
    /* Every option has a name and help; bits match the table order. */
    for (int i = 0; i < CLI_OPT_COUNT; i++) {
        assert_non_null(cli_options[i].name);
        assert_true(strlen(cli_options[i].help) > 0);
    }
    assert_string_equal(cli_options[CLI_OPT_BIT_MIN_REPLICAS].name,
                        "min-replicas");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_and_positionals),
        cmocka_unit_test(test_membership_resolution),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_cluster_options),
        cmocka_unit_test(test_cluster_option_errors),
        cmocka_unit_test(test_split_seeds),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_option_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
