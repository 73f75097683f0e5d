/*
 * This file implements the blocking RESP client declared in resp_client.h.
 *
 * The socket is non-blocking underneath: every wait is a poll() with the
 * time left until the call's deadline (CLOCK_MONOTONIC), so a peer that
 * accepts and then says nothing, or trickles a reply a byte at a time,
 * cannot hold a call past its timeout. Requests are encoded as multibulk
 * arrays and sent whole; replies are parsed by the pure parser of
 * resp_reply.h from an input buffer that keeps any bytes after the reply
 * for the next command. Name resolution (getaddrinfo) is the one step not
 * bounded by the deadline; nodes register numeric addresses, which resolve
 * without any lookup.
 */
#include "resp_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* Timeout used when the caller passes 0. */
#define RESP_CLIENT_DEFAULT_TIMEOUT_MS 2000

/* Bytes asked of recv() at least, whatever the parser still needs. */
#define RESP_CLIENT_READ_CHUNK 16384

/* Longest "host:port" kept for messages. */
#define RESP_CLIENT_PEER_MAX 300

struct resp_client {
    int fd;                      /* -1 once broken */
    int timeout_ms;
    char peer[RESP_CLIENT_PEER_MAX];
    struct buf in;               /* received bytes; the reply starts at 0 */
    struct resp_reply_parser parser;
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until fd is ready for `events` or the deadline passes. Returns 1
 * when ready, 0 on timeout, -1 on a poll error (errno set).
 */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (rc > 0) {
            return 1;
        }
        if (rc < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* Formats "host:port", bracketing a numeric IPv6 host. */
static void format_peer(char *out, size_t outlen, const char *host,
                        uint16_t port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(out, outlen, "[%s]:%u", host, (unsigned)port);
    } else {
        snprintf(out, outlen, "%s:%u", host, (unsigned)port);
    }
}

/*
 * Connects one resolved address within the deadline. Returns the socket, or
 * -1 with *st and err set.
 */
static int connect_one(const struct addrinfo *ai, const char *peer,
                       int timeout_ms, int64_t deadline,
                       enum resp_client_status *st, char *err, size_t errlen)
{
    int fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        *st = RESP_CLIENT_CONNECT;
        set_err(err, errlen, "cannot connect to %s: socket: %s", peer,
                strerror(errno));
        return -1;
    }
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        e = errno;
        if (e == EINPROGRESS || e == EINTR) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) {
                close(fd);
                *st = RESP_CLIENT_TIMEOUT;
                set_err(err, errlen, "timeout after %d ms connecting to %s",
                        timeout_ms, peer);
                return -1;
            }
            socklen_t len = sizeof(e);
            if (rc < 0) {
                e = errno;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
                e = errno;
            }
        }
    }
    if (e != 0) {
        close(fd);
        *st = RESP_CLIENT_CONNECT;
        if (e == ECONNREFUSED) {
            set_err(err, errlen, "connection refused to %s", peer);
        } else {
            set_err(err, errlen, "cannot connect to %s: %s", peer,
                    strerror(e));
        }
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

enum resp_client_status resp_client_connect(const char *host, uint16_t port,
                                            int timeout_ms,
                                            struct resp_client **out,
                                            char *err, size_t errlen)
{
    *out = NULL;
    if (timeout_ms <= 0) {
        timeout_ms = RESP_CLIENT_DEFAULT_TIMEOUT_MS;
    }
    char peer[RESP_CLIENT_PEER_MAX];
    format_peer(peer, sizeof(peer), host, port);
    int64_t deadline = now_ms() + timeout_ms;

    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        set_err(err, errlen, "cannot resolve %s: %s", peer,
                gai_strerror(gai));
        return RESP_CLIENT_CONNECT;
    }
    enum resp_client_status st = RESP_CLIENT_CONNECT;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, peer, timeout_ms, deadline, &st, err, errlen);
        if (st == RESP_CLIENT_TIMEOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return st;
    }
    struct resp_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        set_err(err, errlen, "out of memory");
        return RESP_CLIENT_NOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    resp_reply_parser_init(&c->parser, NULL);
    *out = c;
    return RESP_CLIENT_OK;
}

enum resp_client_status resp_client_connect_addr(const char *addr,
                                                 int timeout_ms,
                                                 struct resp_client **out,
                                                 char *err, size_t errlen)
{
    *out = NULL;
    char host[256];
    const char *colon;
    const char *hstart = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close_br = strchr(addr, ']');
        if (close_br == NULL || close_br[1] != ':') {
            set_err(err, errlen, "bad address \"%s\": expected [ipv6]:port",
                    addr);
            return RESP_CLIENT_CONNECT;
        }
        hstart = addr + 1;
        hlen = (size_t)(close_br - hstart);
        colon = close_br + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            set_err(err, errlen, "bad address \"%s\": expected host:port",
                    addr);
            return RESP_CLIENT_CONNECT;
        }
        hlen = (size_t)(colon - addr);
    }
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0' ||
        *end != '\0' || errno != 0 || port == 0 || port > 65535 ||
        colon[1] < '0' || colon[1] > '9') {
        set_err(err, errlen, "bad address \"%s\": expected host:port", addr);
        return RESP_CLIENT_CONNECT;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    return resp_client_connect(host, (uint16_t)port, timeout_ms, out, err,
                               errlen);
}

const char *resp_client_peer(const struct resp_client *c)
{
    return c->peer;
}

/* Closes the socket after a failure: the stream is no longer in step. */
static void client_break(struct resp_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    resp_reply_parser_reset(&c->parser);
    c->in.len = 0;
}

/* Appends one multibulk request to b. */
static void encode_request(struct buf *b, int argc, const char *const *argv,
                           const size_t *argvlen)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        buf_printf(b, "$%zu\r\n", n);
        buf_append(b, argv[i], n);
        buf_append(b, "\r\n", 2);
    }
}

/* Sends all of data before the deadline. */
static enum resp_client_status send_all(struct resp_client *c,
                                        const char *data, size_t len,
                                        int64_t deadline, char *err,
                                        size_t errlen)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c->fd, POLLOUT, deadline);
            if (rc == 0) {
                set_err(err, errlen, "timeout after %d ms sending to %s",
                        c->timeout_ms, c->peer);
                return RESP_CLIENT_TIMEOUT;
            }
            if (rc > 0) {
                continue;
            }
        }
        set_err(err, errlen, "cannot send to %s: %s", c->peer,
                strerror(errno));
        return RESP_CLIENT_IO;
    }
    return RESP_CLIENT_OK;
}

/* Reads until one whole reply is parsed or the deadline passes. */
static enum resp_client_status read_reply(struct resp_client *c,
                                          int64_t deadline,
                                          struct resp_reply **reply,
                                          char *err, size_t errlen)
{
    for (;;) {
        size_t used = 0;
        enum resp_reply_status rs = resp_reply_parse(
            &c->parser, c->in.data, c->in.len, &used, reply);
        if (rs == RESP_REPLY_OK) {
            memmove(c->in.data, c->in.data + used, c->in.len - used);
            c->in.len -= used;
            return RESP_CLIENT_OK;
        }
        if (rs == RESP_REPLY_ERROR) {
            set_err(err, errlen, "bad reply from %s: %s", c->peer,
                    c->parser.err);
            return RESP_CLIENT_PROTOCOL;
        }
        size_t want = resp_reply_parser_want(&c->parser);
        size_t room = want > c->in.len ? want - c->in.len : 0;
        if (room < RESP_CLIENT_READ_CHUNK) {
            room = RESP_CLIENT_READ_CHUNK;
        }
        if (!buf_reserve(&c->in, room)) {
            set_err(err, errlen, "out of memory reading a reply from %s",
                    c->peer);
            return RESP_CLIENT_NOMEM;
        }
        ssize_t n = recv(c->fd, c->in.data + c->in.len,
                         c->in.cap - c->in.len, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            continue;
        }
        if (n == 0) {
            set_err(err, errlen, "connection closed by %s before a whole "
                    "reply", c->peer);
            return RESP_CLIENT_IO;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c->fd, POLLIN, deadline);
            if (rc == 0) {
                set_err(err, errlen, "timeout after %d ms waiting for a "
                        "reply from %s", c->timeout_ms, c->peer);
                return RESP_CLIENT_TIMEOUT;
            }
            if (rc > 0) {
                continue;
            }
        }
        set_err(err, errlen, "cannot read from %s: %s", c->peer,
                strerror(errno));
        return RESP_CLIENT_IO;
    }
}

enum resp_client_status resp_client_command(struct resp_client *c, int argc,
                                            const char *const *argv,
                                            const size_t *argvlen,
                                            struct resp_reply **reply,
                                            char *err, size_t errlen)
{
    *reply = NULL;
    if (c->fd < 0) {
        set_err(err, errlen, "connection to %s was closed by an earlier "
                "error", c->peer);
        return RESP_CLIENT_IO;
    }
    int64_t deadline = now_ms() + c->timeout_ms;
    struct buf req = {0};
    encode_request(&req, argc, argv, argvlen);
    if (buf_failed(&req)) {
        buf_deinit(&req);
        set_err(err, errlen, "out of memory");
        return RESP_CLIENT_NOMEM;
    }
    enum resp_client_status st =
        send_all(c, req.data, req.len, deadline, err, errlen);
    buf_deinit(&req);
    if (st == RESP_CLIENT_OK) {
        st = read_reply(c, deadline, reply, err, errlen);
    }
    if (st != RESP_CLIENT_OK) {
        client_break(c);
    }
    return st;
}

void resp_client_close(struct resp_client **cp)
{
    struct resp_client *c = *cp;
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    resp_reply_parser_deinit(&c->parser);
    buf_deinit(&c->in);
    free(c);
    *cp = NULL;
}
