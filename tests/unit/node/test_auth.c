/*
 * This file implements the unit tests of node/auth.c: the PBKDF2 hash
 * against a published test vector, the text form of hashes and its
 * errors, that hashes are compared with CRYPTO_memcmp (the test binary is
 * linked with --wrap=CRYPTO_memcmp to count the calls), ACL file parsing
 * and its errors with line numbers, sessions across reloads, protected
 * mode, and the reclamation of old tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"
#include "qsbr.h"

/* --wrap=CRYPTO_memcmp: every call auth.c makes lands here. */
int __real_CRYPTO_memcmp(const volatile void *a, const volatile void *b,
                         size_t len);
int __wrap_CRYPTO_memcmp(const volatile void *a, const volatile void *b,
                         size_t len);

static int memcmp_calls;
static size_t memcmp_last_len;

int __wrap_CRYPTO_memcmp(const volatile void *a, const volatile void *b,
                         size_t len)
{
    memcmp_calls++;
    memcmp_last_len = len;
    return __real_CRYPTO_memcmp(a, b, len);
}

#define ITER 1000 /* the cheapest count a hash may name */

/* A formatted hash of pw, for ACL file text. */
static void hash_str(const char *pw, char out[AUTH_HASH_STR_MAX])
{
    struct auth_hash h;
    assert_int_equal(auth_hash_password(pw, strlen(pw), ITER, &h), 0);
    auth_hash_format(&h, out, AUTH_HASH_STR_MAX);
}

static bool verify_str(const char *hash, const char *pw)
{
    struct auth_hash h;
    char err[256];
    assert_int_equal(auth_hash_parse(hash, strlen(hash), &h, err,
                                     sizeof(err)), 0);
    return auth_hash_verify(&h, pw, strlen(pw));
}

/* RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", c = 1). */
static void test_hash_matches_rfc7914_vector(void **state)
{
    static const uint8_t dk[AUTH_HASH_LEN] = {
        0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91,
        0xc2, 0x25, 0x44, 0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde,
        0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc};
    struct auth_hash h = {.iterations = 1, .salt_len = 4};
    memcpy(h.salt, "salt", 4);
    memcpy(h.hash, dk, sizeof(dk));
    assert_true(auth_hash_verify(&h, "passwd", 6));
    assert_false(auth_hash_verify(&h, "passwe", 6));
    assert_false(auth_hash_verify(&h, "passwd", 5));
}

static void test_hash_text_form(void **state)
{
    /* Made with Python: hashlib.pbkdf2_hmac('sha256', b'secret',
     * bytes(range(16)), 1000, 32). */
    const char *s = "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
                    "4efb2bbb6d2eb58ea8deaed54417ae2fd87fd50a8a8568709363da"
                    "60d4560606";
    assert_true(verify_str(s, "secret"));
    assert_false(verify_str(s, "Secret"));
    struct auth_hash h;
    char err[256], out[AUTH_HASH_STR_MAX];
    assert_int_equal(auth_hash_parse(s, strlen(s), &h, err, sizeof(err)), 0);
    assert_int_equal(h.iterations, 1000);
    assert_int_equal(h.salt_len, 16);
    auth_hash_format(&h, out, sizeof(out));
    assert_string_equal(out, s);
    /* Upper-case hex is accepted. */
    const char *u = "pbkdf2-sha256$1000$000102030405060708090A0B0C0D0E0F$"
                    "4EFB2BBB6D2EB58EA8DEAED54417AE2FD87FD50A8A8568709363DA"
                    "60D4560606";
    assert_true(verify_str(u, "secret"));
}

static void test_hash_password_salts_each_hash(void **state)
{
    char a[AUTH_HASH_STR_MAX], b[AUTH_HASH_STR_MAX];
    hash_str("hunter2", a);
    hash_str("hunter2", b);
    assert_true(strncmp(a, "pbkdf2-sha256$1000$", 19) == 0);
    assert_int_equal(strlen(a), 19 + 32 + 1 + 64);
    assert_string_not_equal(a, b); /* a fresh random salt each time */
    assert_true(verify_str(a, "hunter2"));
    assert_true(verify_str(b, "hunter2"));
    assert_false(verify_str(a, "hunter3"));
    struct auth_hash h;
    assert_int_equal(auth_hash_password("x", 1, AUTH_ITER_MIN - 1, &h), -1);
    assert_int_equal(auth_hash_password("x", 1, AUTH_ITER_MAX + 1, &h), -1);
}

static void test_hash_parse_errors(void **state)
{
    static const char hash64[] =
        "4efb2bbb6d2eb58ea8deaed54417ae2fd87fd50a8a8568709363da60d4560606";
    static const char salt16[] = "000102030405060708090a0b0c0d0e0f";
    static const struct {
        const char *prefix, *salt, *hash, *why;
    } cases[] = {
        {"hunter2", NULL, NULL, "not plain text"},
        {"pbkdf2-sha1$1000", salt16, hash64, "not plain text"},
        {"pbkdf2-sha256$999", salt16, hash64, "iteration count"},
        {"pbkdf2-sha256$01000", salt16, hash64, "iteration count"},
        {"pbkdf2-sha256$", salt16, hash64, "iteration count"},
        {"pbkdf2-sha256$10000001", salt16, hash64, "iteration count"},
        {"pbkdf2-sha256$1k00", salt16, hash64, "iteration count"},
        {"pbkdf2-sha256$1000", "0001020304050607080", hash64, "salt"},
        {"pbkdf2-sha256$1000", "00010203040506", hash64, "salt"},
        {"pbkdf2-sha256$1000", "000102030405060708090a0b0c0d0e0g", hash64,
         "salt"},
        {"pbkdf2-sha256$1000", salt16, "4efb", "hash must be 32 bytes"},
        {"pbkdf2-sha256$1000", salt16,
         "4efb2bbb6d2eb58ea8deaed54417ae2fd87fd50a8a8568709363da60d45606zz",
         "hash must be 32 bytes"},
        {"pbkdf2-sha256$1000", salt16, "", "hash must be 32 bytes"},
        {"pbkdf2-sha256$1000", salt16, "aa$bb", "four '$'-separated"},
        {"pbkdf2-sha256$1000", NULL, NULL, "four '$'-separated"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[512], err[256] = "";
        struct auth_hash h;
        if (cases[i].salt != NULL) {
            snprintf(s, sizeof(s), "%s$%s$%s", cases[i].prefix, cases[i].salt,
                     cases[i].hash);
        } else {
            snprintf(s, sizeof(s), "%s", cases[i].prefix);
        }
        if (auth_hash_parse(s, strlen(s), &h, err, sizeof(err)) != -1 ||
            strstr(err, cases[i].why) == NULL) {
            fail_msg("'%s': expected an error with '%s', got '%s'", s,
                     cases[i].why, err);
        }
    }
}

/* The hashes are compared with CRYPTO_memcmp, over the whole hash, for
 * right and wrong passwords and for unknown users alike. */
static void test_verify_compares_in_constant_time(void **state)
{
    char line[256 + AUTH_HASH_STR_MAX], hash[AUTH_HASH_STR_MAX], err[256];
    hash_str("right", hash);
    snprintf(line, sizeof(line), "user alice admin %s\n", hash);
    struct auth_users users = {0};
    assert_int_equal(auth_acl_parse(line, strlen(line), "acl", &users, err,
                                    sizeof(err)), 0);
    struct auth_table *t = auth_table_create(&users, NULL, true, ITER, err,
                                             sizeof(err));
    assert_non_null(t);
    memcmp_calls = 0;
    assert_non_null(auth_table_verify(t, "alice", 5, "right", 5));
    assert_int_equal(memcmp_calls, 1);
    assert_int_equal(memcmp_last_len, AUTH_HASH_LEN);
    assert_null(auth_table_verify(t, "alice", 5, "wrong", 5));
    assert_int_equal(memcmp_calls, 2);
    assert_null(auth_table_verify(t, "mallory", 7, "right", 5));
    assert_int_equal(memcmp_calls, 3); /* the dummy hash was checked */
    assert_int_equal(memcmp_last_len, AUTH_HASH_LEN);
    free(t);
    auth_users_deinit(&users);
}

static void test_acl_parse_file(void **state)
{
    char ha[AUTH_HASH_STR_MAX], hb[AUTH_HASH_STR_MAX], hc[AUTH_HASH_STR_MAX];
    hash_str("pa", ha);
    hash_str("pb", hb);
    hash_str("pc", hc);
    char text[2048], err[256];
    snprintf(text, sizeof(text),
             "# users of the node\n"
             "\n"
             "user zed reader %s\r\n"
             "   \t\n"
             "\tuser  alice\tADMIN  %s   \n"
             "  # indented comment\n"
             "user bob reader %s",
             ha, hb, hc);
    struct auth_users users = {0};
    assert_int_equal(auth_acl_parse(text, strlen(text), "acl", &users, err,
                                    sizeof(err)), 0);
    assert_int_equal(users.n, 3);
    assert_string_equal(users.v[0].name, "zed");
    assert_int_equal(users.v[0].line, 3);
    assert_int_equal(users.v[1].line, 5);
    assert_int_equal(users.v[2].line, 7);
    struct auth_table *t = auth_table_create(&users, NULL, true, ITER, err,
                                             sizeof(err));
    assert_non_null(t);
    assert_true(t->required);
    assert_int_equal(t->nusers, 3);
    assert_string_equal(t->users[0].name, "alice"); /* sorted */
    const struct auth_user *u = auth_table_find(t, "alice", 5);
    assert_non_null(u);
    assert_int_equal(u->role, AUTH_ROLE_ADMIN);
    assert_int_equal(auth_table_find(t, "zed", 3)->role, AUTH_ROLE_READER);
    assert_null(auth_table_find(t, "ali", 3));
    assert_null(auth_table_find(t, "alice\0x", 7));
    assert_null(auth_table_find(t, "default", 7));
    assert_non_null(auth_table_verify(t, "bob", 3, "pc", 2));
    assert_null(auth_table_verify(t, "bob", 3, "pb", 2));
    free(t);
    auth_users_deinit(&users);
}

static void test_acl_parse_errors_name_the_line(void **state)
{
    char h[AUTH_HASH_STR_MAX];
    hash_str("pw", h);
    static const struct {
        const char *text; /* %s: a valid hash */
        const char *where, *why;
    } cases[] = {
        {"user a reader %s\nuser b boss %s\n", "acl:2: ",
         "unknown role 'boss'"},
        {"# c\n\nuser a reader\n", "acl:3: ", "got 3 fields"},
        {"user a reader %s extra\n", "acl:1: ", "got more than 4 fields"},
        {"usr a reader %s\n", "acl:1: ", "unknown directive 'usr'"},
        {"user a reader hunter2\n", "acl:1: ", "not plain text"},
        {"user a reader pbkdf2-sha256$5$00$11\n", "acl:1: ",
         "iteration count"},
        {"user a reader %s\n\nuser b admin %s\nuser a admin %s\n", "acl:4: ",
         "duplicate user 'a' (first on line 1)"},
        {"user a\001b reader %s\n", "acl:1: ", "not printable"},
        {"user "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
         "reader %s\n",
         "acl:1: ", "longer than 64"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[4096], err[512] = "";
        snprintf(text, sizeof(text), cases[i].text, h, h, h);
        struct auth_users users = {0};
        int rc = auth_acl_parse(text, strlen(text), "acl", &users, err,
                                sizeof(err));
        if (rc != -1 || strncmp(err, cases[i].where, strlen(cases[i].where)) ||
            strstr(err, cases[i].why) == NULL) {
            fail_msg("case %zu: expected '%s...%s', got rc %d '%s'", i,
                     cases[i].where, cases[i].why, rc, err);
        }
        auth_users_deinit(&users);
    }
    /* A NUL byte in the text. */
    char text[] = "user a reader x\0y\n";
    char err[256] = "";
    struct auth_users users = {0};
    assert_int_equal(auth_acl_parse(text, sizeof(text) - 1, "f", &users, err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "f:1: NUL byte"));
    auth_users_deinit(&users);
}

static void test_requirepass_and_acl_default_conflict(void **state)
{
    char h[AUTH_HASH_STR_MAX], text[512], err[256];
    hash_str("pw", h);
    snprintf(text, sizeof(text), "user x reader %s\nuser default reader %s\n",
             h, h);
    struct auth_users users = {0};
    assert_int_equal(auth_acl_parse(text, strlen(text), "acl", &users, err,
                                    sizeof(err)), 0);
    struct auth_hash pass;
    assert_int_equal(auth_hash_password("rp", 2, ITER, &pass), 0);
    assert_null(auth_table_create(&users, &pass, true, ITER, err,
                                  sizeof(err)));
    assert_non_null(strstr(err, "'default' (line 2)"));
    /* Without requirepass the file's default user is the default user. */
    struct auth_table *t = auth_table_create(&users, NULL, true, ITER, err,
                                             sizeof(err));
    assert_non_null(t);
    assert_int_equal(auth_table_find(t, "default", 7)->role,
                     AUTH_ROLE_READER);
    free(t);
    auth_users_deinit(&users);
}

static struct auth_table *table_of(const char *text, uint64_t generation)
{
    char err[256];
    struct auth_users users = {0};
    assert_int_equal(auth_acl_parse(text, strlen(text), "acl", &users, err,
                                     sizeof(err)), 0);
    struct auth_table *t = auth_table_create(&users, NULL, true, ITER, err,
                                             sizeof(err));
    assert_non_null(t);
    t->generation = generation;
    auth_users_deinit(&users);
    return t;
}

static void test_sessions_follow_reloads(void **state)
{
    char ha[AUTH_HASH_STR_MAX], hb[AUTH_HASH_STR_MAX], hb2[AUTH_HASH_STR_MAX];
    char text[1024];
    hash_str("pa", ha);
    hash_str("pb", hb);
    hash_str("pb2", hb2);
    snprintf(text, sizeof(text), "user alice admin %s\nuser bob reader %s\n",
             ha, hb);
    struct auth_table *t1 = table_of(text, 1);
    struct auth_session alice = {0}, bob = {0}, anon = {0};
    auth_session_refresh(&anon, t1);
    assert_false(anon.authenticated);
    assert_int_equal(anon.generation, 1);
    assert_false(auth_session_login(&bob, t1, "bob", 3, "pa", 2));
    assert_false(bob.authenticated);
    assert_true(auth_session_login(&bob, t1, "bob", 3, "pb", 2));
    assert_true(bob.authenticated);
    assert_int_equal(bob.role, AUTH_ROLE_READER);
    assert_string_equal(bob.user, "bob");
    assert_true(auth_session_login(&alice, t1, "alice", 5, "pa", 2));
    /* A wrong AUTH leaves a logged-in session as it was. */
    assert_false(auth_session_login(&alice, t1, "bob", 3, "nope", 4));
    assert_string_equal(alice.user, "alice");
    assert_int_equal(alice.role, AUTH_ROLE_ADMIN);

    /* Reload: bob's password changes, alice becomes a reader. */
    snprintf(text, sizeof(text), "user alice reader %s\nuser bob reader %s\n",
             ha, hb2);
    struct auth_table *t2 = table_of(text, 2);
    auth_session_refresh(&bob, t2);
    auth_session_refresh(&alice, t2);
    assert_true(bob.authenticated); /* stays logged in */
    assert_int_equal(alice.role, AUTH_ROLE_READER);
    assert_int_equal(alice.generation, 2);
    assert_false(auth_session_login(&anon, t2, "bob", 3, "pb", 2));
    assert_true(auth_session_login(&anon, t2, "bob", 3, "pb2", 3));

    /* Reload: bob is removed and loses access. */
    snprintf(text, sizeof(text), "user alice reader %s\n", ha);
    struct auth_table *t3 = table_of(text, 3);
    auth_session_refresh(&bob, t3);
    auth_session_refresh(&alice, t3);
    assert_false(bob.authenticated);
    assert_true(alice.authenticated);
    free(t1);
    free(t2);
    free(t3);
}

static void test_no_auth_means_default_admin(void **state)
{
    char err[256];
    struct auth_users none = {0};
    struct auth_table *t = auth_table_create(&none, NULL, false, ITER, err,
                                             sizeof(err));
    assert_non_null(t);
    t->generation = 1;
    assert_false(t->required);
    struct auth_session s = {0};
    auth_session_refresh(&s, t);
    assert_true(s.authenticated);
    assert_int_equal(s.role, AUTH_ROLE_ADMIN);
    assert_string_equal(s.user, "default");
    assert_true(auth_session_login(&s, t, "default", 7, "anything", 8));
    assert_false(auth_session_login(&s, t, "alice", 5, "anything", 8));
    /* An ACL file without users still requires authentication. */
    struct auth_table *empty = auth_table_create(&none, NULL, true, ITER, err,
                                                 sizeof(err));
    empty->generation = 2;
    auth_session_refresh(&s, empty);
    assert_false(s.authenticated); /* "default" is not in the file */
    free(t);
    free(empty);
}

static void test_loopback_addresses(void **state)
{
    assert_true(auth_addr_is_loopback("127.0.0.1"));
    assert_true(auth_addr_is_loopback("127.255.1.2"));
    assert_true(auth_addr_is_loopback("::1"));
    assert_true(auth_addr_is_loopback("::ffff:127.0.0.1"));
    assert_false(auth_addr_is_loopback("0.0.0.0"));
    assert_false(auth_addr_is_loopback("::"));
    assert_false(auth_addr_is_loopback("10.1.2.3"));
    assert_false(auth_addr_is_loopback("128.0.0.1"));
    assert_false(auth_addr_is_loopback("::ffff:10.0.0.1"));
    assert_false(auth_addr_is_loopback("localhost"));
    assert_false(auth_addr_is_loopback(""));
}

static void test_protected_mode(void **state)
{
    char err[512] = "";
    struct auth *a = NULL;
    struct auth_config cfg = {.bind = "0.0.0.0", .protected_mode = true,
                              .requirepass = "", .acl_file = "",
                              .iterations = ITER};
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), -1);
    assert_null(a);
    assert_non_null(strstr(err, "protected mode"));
    assert_non_null(strstr(err, "0.0.0.0"));
    cfg.bind = "127.0.0.1";
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), 0);
    assert_false(auth_required(a));
    /* A reload may not leave a public node open either. */
    cfg.bind = "::";
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), -1);
    assert_int_equal(auth_current(a)->generation, 1);
    cfg.protected_mode = false;
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    assert_false(auth_required(a));
    cfg.protected_mode = true;
    cfg.requirepass = "s3cret";
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    assert_true(auth_required(a));
    auth_destroy(&a);
    assert_null(a);
}

static void test_reload_keeps_or_replaces_requirepass(void **state)
{
    char err[512], shown[AUTH_HASH_STR_MAX];
    struct auth *a = NULL;
    struct auth_config cfg = {.bind = "127.0.0.1", .protected_mode = true,
                              .requirepass = "first", .acl_file = "",
                              .iterations = ITER};
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), 0);
    auth_requirepass_format(a, shown, sizeof(shown));
    assert_true(verify_str(shown, "first"));
    assert_null(strstr(shown, "first")); /* only the hash is shown */
    cfg.requirepass = NULL; /* e.g. CONFIG SET acl-file: keep it */
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    const struct auth_table *t = auth_current(a);
    assert_int_equal(t->generation, 2);
    assert_non_null(auth_table_verify(t, "default", 7, "first", 5));
    cfg.requirepass = "second";
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    t = auth_current(a);
    assert_null(auth_table_verify(t, "default", 7, "first", 5));
    assert_non_null(auth_table_verify(t, "default", 7, "second", 6));
    cfg.requirepass = "";
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    assert_false(auth_required(a));
    auth_requirepass_format(a, shown, sizeof(shown));
    assert_string_equal(shown, "");
    cfg.iterations = 10;
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "hash-iterations"));
    auth_destroy(&a);
}

/* An old table stays readable while a reader that may hold it is inside
 * its read section, and is freed after (ASan would report a use after
 * free otherwise). */
static void test_old_tables_wait_for_readers(void **state)
{
    uint64_t e[2] = {0, 0};
    uint64_t *ep[2] = {&e[0], &e[1]};
    char err[512];
    struct auth *a = NULL;
    struct auth_config cfg = {.bind = "127.0.0.1", .protected_mode = true,
                              .requirepass = "pw", .acl_file = "",
                              .iterations = ITER};
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), 0);
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    assert_int_equal(auth_reclaim(a), 1); /* no readers named yet: kept */
    auth_set_readers(a, ep, 2);
    assert_int_equal(auth_reclaim(a), 0);
    qsbr_enter(&e[0]);
    const struct auth_table *held = auth_current(a);
    cfg.requirepass = "pw2";
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), 0);
    assert_int_equal(auth_reclaim(a), 1);
    assert_int_equal(held->generation, 2);
    assert_non_null(auth_table_verify(held, "default", 7, "pw", 2));
    qsbr_leave(&e[0]);
    assert_int_equal(auth_reclaim(a), 0);
    assert_int_equal(auth_current(a)->generation, 3);
    auth_destroy(&a);
}

static void test_acl_load_reads_a_file(void **state)
{
    char path[] = "/tmp/larder-test-acl-XXXXXX", h[AUTH_HASH_STR_MAX];
    char err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    hash_str("pw", h);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "user carol reader %s\nuser dave root %s\n", h, h);
    fclose(f);
    struct auth_users users = {0};
    assert_int_equal(auth_acl_load(path, &users, err, sizeof(err)), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: unknown role 'root'", path);
    assert_string_equal(strstr(err, path), err);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    auth_users_deinit(&users);

    struct auth *a = NULL;
    struct auth_config cfg = {.bind = "0.0.0.0", .protected_mode = true,
                              .requirepass = "", .acl_file = path,
                              .iterations = ITER};
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: unknown role"));
    f = fopen(path, "w");
    fprintf(f, "user carol reader %s\n", h);
    fclose(f);
    assert_int_equal(auth_create(&cfg, &a, err, sizeof(err)), 0);
    assert_true(auth_required(a));
    unlink(path);
    cfg.requirepass = NULL;
    assert_int_equal(auth_reload(a, &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open ACL file"));
    assert_int_equal(auth_current(a)->generation, 1); /* unchanged */
    auth_destroy(&a);
}

/* "Authorization: Basic ..." values: user:password in base64. */
static void test_basic_credentials(void **state)
{
    char user[16];
    char pw[16];
    /* "ops:s3cret" */
    assert_int_equal(auth_basic_parse("Basic b3BzOnMzY3JldA==", user,
                                      sizeof(user), pw, sizeof(pw)), 0);
    assert_string_equal(user, "ops");
    assert_string_equal(pw, "s3cret");
    /* ":pw" (the default user), scheme in another case, spaces around */
    assert_int_equal(auth_basic_parse("basic  OnB3 ", user, sizeof(user), pw,
                                      sizeof(pw)), 0);
    assert_string_equal(user, "");
    assert_string_equal(pw, "pw");
    /* "a:b:c": the password keeps its colons */
    assert_int_equal(auth_basic_parse("Basic YTpiOmM=", user, sizeof(user),
                                      pw, sizeof(pw)), 0);
    assert_string_equal(user, "a");
    assert_string_equal(pw, "b:c");
    /* no colon ("abc"), bad base64, another scheme, nothing */
    assert_int_equal(auth_basic_parse("Basic YWJj", user, sizeof(user), pw,
                                      sizeof(pw)), -1);
    assert_int_equal(auth_basic_parse("Basic !!!!", user, sizeof(user), pw,
                                      sizeof(pw)), -1);
    assert_int_equal(auth_basic_parse("Bearer b3BzOnMzY3JldA==", user,
                                      sizeof(user), pw, sizeof(pw)), -1);
    assert_int_equal(auth_basic_parse("Basic ", user, sizeof(user), pw,
                                      sizeof(pw)), -1);
    assert_int_equal(auth_basic_parse(NULL, user, sizeof(user), pw,
                                      sizeof(pw)), -1);
    /* a password longer than its buffer: "u:0123456789abcdefXYZ" */
    assert_int_equal(auth_basic_parse("Basic dTowMTIzNDU2Nzg5YWJjZGVmWFla",
                                      user, sizeof(user), pw, sizeof(pw)),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_rfc7914_vector),
        cmocka_unit_test(test_hash_text_form),
        cmocka_unit_test(test_hash_password_salts_each_hash),
        cmocka_unit_test(test_hash_parse_errors),
        cmocka_unit_test(test_verify_compares_in_constant_time),
        cmocka_unit_test(test_acl_parse_file),
        cmocka_unit_test(test_acl_parse_errors_name_the_line),
        cmocka_unit_test(test_requirepass_and_acl_default_conflict),
        cmocka_unit_test(test_sessions_follow_reloads),
        cmocka_unit_test(test_no_auth_means_default_admin),
        cmocka_unit_test(test_loopback_addresses),
        cmocka_unit_test(test_protected_mode),
        cmocka_unit_test(test_reload_keeps_or_replaces_requirepass),
        cmocka_unit_test(test_old_tables_wait_for_readers),
        cmocka_unit_test(test_acl_load_reads_a_file),
        cmocka_unit_test(test_basic_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
