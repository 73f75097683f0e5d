/*
 * This file implements the unit tests of the blocking RESP client
 * (common/resp_client.c) against tiny servers run on 127.0.0.1 in a thread
 * of the test: the request bytes on the wire, a reply trickled in pieces, a
 * reply followed by the next one in the same read, a refused connection, a
 * peer that never answers (the timeout), a peer that closes mid-reply, a
 * malformed reply, and address parsing. Time bounds are generous: a 200 ms
 * timeout must fail after at least 200 ms and well under 5 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resp_client.h"

/* What the test server does with each connection. */
struct script {
    int listen_fd;
    uint16_t port;
    const char *const *replies; /* sent in order, one per request read */
    size_t nreplies;
    int trickle;                /* 1: send replies a byte at a time */
    int close_after;            /* 1: close after the last reply */
    int silent;                 /* 1: accept and never answer */
    char got[4096];             /* bytes received from the client */
    size_t got_len;
    pthread_t thread;
};

static void listen_local(struct script *s)
{
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->listen_fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &len),
                     0);
    s->port = ntohs(a.sin_port);
}

/* Reads until a whole multibulk request is in s->got past `from`. */
static int read_request(struct script *s, int fd, size_t from)
{
    for (;;) {
        /* A request is complete when its argument count and bulks are. */
        const char *p = s->got + from;
        const char *end = s->got + s->got_len;
        if (p < end && *p == '*') {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl != NULL) {
                long argc = strtol(p + 1, NULL, 10);
                const char *q = nl + 1;
                long i = 0;
                for (; i < argc; i++) {
                    char *bl = q < end ? memchr(q, '\n', (size_t)(end - q))
                                       : NULL;
                    if (bl == NULL)
                        break;
                    long n = strtol(q + 1, NULL, 10);
                    if (bl + 1 + n + 2 > end)
                        break;
                    q = bl + 1 + n + 2;
                }
                if (i == argc)
                    return (int)(q - s->got);
            }
        }
        ssize_t n = recv(fd, s->got + s->got_len,
                         sizeof(s->got) - s->got_len, 0);
        if (n <= 0)
            return -1;
        s->got_len += (size_t)n;
    }
}

static void *serve(void *arg)
{
    struct script *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    if (s->silent) {
        char tmp[256];
        while (recv(fd, tmp, sizeof(tmp), 0) > 0) {
        }
        close(fd);
        return NULL;
    }
    size_t from = 0;
    for (size_t i = 0; i < s->nreplies; i++) {
        int end = read_request(s, fd, from);
        if (end < 0)
            break;
        from = (size_t)end;
        const char *r = s->replies[i];
        size_t n = strlen(r);
        if (s->trickle) {
            for (size_t k = 0; k < n; k++) {
                if (send(fd, r + k, 1, MSG_NOSIGNAL) != 1)
                    break;
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        } else if (send(fd, r, n, MSG_NOSIGNAL) < 0) {
            break;
        }
    }
    if (!s->close_after) {
        char tmp[256];
        while (recv(fd, tmp, sizeof(tmp), 0) > 0) {
        }
    }
    close(fd);
    return NULL;
}

static void start(struct script *s)
{
    listen_local(s);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void finish(struct script *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_command_roundtrip(void **state)
{
    (void)state;
    /* The second request gets two replies at once; the third gets none
     * (it is read, so the transcript below is complete). */
    const char *replies[] = {"$5\r\nhello\r\n",
                             "*2\r\n$1\r\na\r\n_\r\n+OK\r\n", ""};
    struct script s = {.replies = replies, .nreplies = 3, .close_after = 1};
    start(&s);
    struct resp_client *c = NULL;
    char err[256] = "";
    assert_int_equal(resp_client_connect("127.0.0.1", s.port, 2000, &c, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    char peer[64];
    snprintf(peer, sizeof(peer), "127.0.0.1:%u", (unsigned)s.port);
    assert_string_equal(resp_client_peer(c), peer);

    /* Binary-safe arguments with explicit lengths. */
    const char *argv[] = {"T.GET", "t", "k\0y"};
    size_t lens[] = {5, 1, 3};
    struct resp_reply *r = NULL;
    assert_int_equal(resp_client_command(c, 3, argv, lens, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    assert_int_equal(r->type, RESP_REPLY_BULK);
    assert_string_equal(r->str, "hello");
    resp_reply_free(r);

    /* The server sent two replies at once: the second waits for the next
     * command. argvlen NULL means strlen. */
    const char *argv2[] = {"T.MGET", "t", "a", "b"};
    assert_int_equal(resp_client_command(c, 4, argv2, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    assert_int_equal(r->type, RESP_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[1]->type, RESP_REPLY_NULL);
    resp_reply_free(r);
    const char *argv3[] = {"PING"};
    assert_int_equal(resp_client_command(c, 1, argv3, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    assert_int_equal(r->type, RESP_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    resp_reply_free(r);
    resp_client_close(&c);
    assert_null(c);
    finish(&s);
    const char want[] = "*3\r\n$5\r\nT.GET\r\n$1\r\nt\r\n$3\r\nk\0y\r\n"
                        "*4\r\n$6\r\nT.MGET\r\n$1\r\nt\r\n$1\r\na\r\n$1\r\nb"
                        "\r\n*1\r\n$4\r\nPING\r\n";
    assert_int_equal(s.got_len, sizeof(want) - 1);
    assert_memory_equal(s.got, want, sizeof(want) - 1);
}

static void test_trickled_reply(void **state)
{
    (void)state;
    const char *replies[] = {"%1\r\n$3\r\nkey\r\n*2\r\n:1\r\n,2.5\r\n"};
    struct script s = {.replies = replies, .nreplies = 1, .trickle = 1,
                       .close_after = 1};
    start(&s);
    struct resp_client *c = NULL;
    char err[256] = "";
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)s.port);
    assert_int_equal(resp_client_connect_addr(addr, 5000, &c, err,
                                              sizeof(err)),
                     RESP_CLIENT_OK);
    const char *argv[] = {"HELLO"};
    struct resp_reply *r = NULL;
    assert_int_equal(resp_client_command(c, 1, argv, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    assert_int_equal(r->type, RESP_REPLY_MAP);
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[1]->element[1]->type, RESP_REPLY_DOUBLE);
    resp_reply_free(r);
    resp_client_close(&c);
    finish(&s);
}

static void test_refused(void **state)
{
    (void)state;
    struct script s = {0};
    listen_local(&s);
    close(s.listen_fd); /* nothing listens on the port now */
    struct resp_client *c = NULL;
    char err[256] = "";
    assert_int_equal(resp_client_connect("127.0.0.1", s.port, 2000, &c, err,
                                         sizeof(err)),
                     RESP_CLIENT_CONNECT);
    assert_null(c);
    char want[128];
    snprintf(want, sizeof(want), "connection refused to 127.0.0.1:%u",
             (unsigned)s.port);
    assert_string_equal(err, want);
}

static void test_timeout_waiting_for_reply(void **state)
{
    (void)state;
    struct script s = {.silent = 1};
    start(&s);
    struct resp_client *c = NULL;
    char err[256] = "";
    assert_int_equal(resp_client_connect("127.0.0.1", s.port, 200, &c, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    const char *argv[] = {"PING"};
    struct resp_reply *r = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(resp_client_command(c, 1, argv, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 200);
    assert_true(took < 5000);
    assert_null(r);
    char want[128];
    snprintf(want, sizeof(want),
             "timeout after 200 ms waiting for a reply from 127.0.0.1:%u",
             (unsigned)s.port);
    assert_string_equal(err, want);
    /* The connection is closed: the next command fails at once. */
    assert_int_equal(resp_client_command(c, 1, argv, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_IO);
    assert_non_null(strstr(err, "closed by an earlier error"));
    resp_client_close(&c);
    finish(&s);
}

static void test_closed_mid_reply(void **state)
{
    (void)state;
    const char *replies[] = {"$10\r\nabc"};
    struct script s = {.replies = replies, .nreplies = 1, .close_after = 1};
    start(&s);
    struct resp_client *c = NULL;
    char err[256] = "";
    assert_int_equal(resp_client_connect("localhost", s.port, 2000, &c, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    const char *argv[] = {"GET", "k"};
    struct resp_reply *r = NULL;
    assert_int_equal(resp_client_command(c, 2, argv, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_IO);
    assert_non_null(strstr(err, "before a whole reply"));
    resp_client_close(&c);
    finish(&s);
}

static void test_malformed_reply(void **state)
{
    (void)state;
    const char *replies[] = {"hello\r\n"};
    struct script s = {.replies = replies, .nreplies = 1, .close_after = 1};
    start(&s);
    struct resp_client *c = NULL;
    char err[256] = "";
    assert_int_equal(resp_client_connect("127.0.0.1", s.port, 2000, &c, err,
                                         sizeof(err)),
                     RESP_CLIENT_OK);
    const char *argv[] = {"GET", "k"};
    struct resp_reply *r = NULL;
    assert_int_equal(resp_client_command(c, 2, argv, NULL, &r, err,
                                         sizeof(err)),
                     RESP_CLIENT_PROTOCOL);
    assert_non_null(strstr(err, "unknown reply type byte 0x68"));
    resp_client_close(&c);
    finish(&s);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", ":7379",
                         "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:7x",
                         "127.0.0.1:-1", "[::1]7379", "[::1", "h:+1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_client *c = NULL;
        char err[256] = "";
        assert_int_equal(resp_client_connect_addr(bad[i], 100, &c, err,
                                                  sizeof(err)),
                         RESP_CLIENT_CONNECT);
        assert_null(c);
        assert_non_null(strstr(err, "bad address"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_roundtrip),
        cmocka_unit_test(test_trickled_reply),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout_waiting_for_reply),
        cmocka_unit_test(test_closed_mid_reply),
        cmocka_unit_test(test_malformed_reply),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
