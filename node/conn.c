/*
 * This file implements a client connection: reading into the query buffer,
 * parsing and running every complete request in it, and writing the batched
 * replies. All of it runs on the owning worker's thread.
 *
 * Memory per client is bounded: the query buffer grows only as bytes
 * actually arrive (a huge $N header alone allocates nothing) and is capped
 * by client-query-buffer-limit; while replies are waiting to be written the
 * connection stops reading (back-pressure), and a batch stops running
 * requests once a few MiB of replies are pending.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "log.h"
#include "metrics.h"
#include "qsbr.h"
#include "server.h"

enum {
    QBUF_INITIAL = 16 * 1024,      /* first query buffer */
    QBUF_READ_MIN = 4 * 1024,      /* free space wanted before a read */
    QBUF_KEEP_MAX = 1024 * 1024,   /* larger idle buffers are released */
    OUT_BATCH_MAX = 4 * 1024 * 1024, /* stop running requests past this */
    OUT_KEEP_MAX = 1024 * 1024,    /* larger idle output buffers released */
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn *conn_create(struct worker *w, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->w = w;
    c->fd = fd;
    c->proto = 2;
    c->id = __atomic_add_fetch(&w->srv->next_client_id, 1, __ATOMIC_RELAXED);
    c->created_ms = unix_ms();
    resp_parser_init(&c->parser, &w->srv->limits);
    cmd_auth_parser_limits(w->srv, c);
    event_assign(&c->ev_read, w->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->ev_write, w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (event_add(&c->ev_read, NULL) != 0) {
        resp_parser_deinit(&c->parser);
        free(c);
        return NULL;
    }
    c->next = w->conns;
    if (w->conns != NULL) {
        w->conns->prev = c;
    }
    w->conns = c;
    w->nconns++;
    STAT_ADD(&w->stats, total_connections_received, 1);
    return c;
}

void conn_destroy(struct conn *c)
{
    struct worker *w = c->w;
    event_del(&c->ev_read);
    event_del(&c->ev_write);
    close(c->fd);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    w->nconns--;
    resp_parser_deinit(&c->parser);
    buf_deinit(&c->out);
    free(c->qbuf);
    free(c->name);
    free(c);
    server_client_closed(w->srv);
    if (w->stopping && w->nconns == 0) {
        event_base_loopexit(w->base, NULL);
    }
}

/*
 * Makes room for the next read: drops consumed bytes and grows the buffer
 * towards what the parser needs, doubling at most, so memory follows the
 * bytes that actually arrive. Returns false if the client has exceeded
 * client-query-buffer-limit or memory ran out.
 */
static bool make_room(struct conn *c)
{
    if (c->qstart == c->qlen) {
        c->qstart = c->qlen = 0;
    }
    size_t pending = c->qlen - c->qstart;
    if (pending > c->w->srv->opts->client_query_buffer_limit.num) {
        return false;
    }
    if (c->qcap - c->qlen >= QBUF_READ_MIN) {
        return true;
    }
    if (c->qstart > 0) {
        memmove(c->qbuf, c->qbuf + c->qstart, pending);
        c->qlen = pending;
        c->qstart = 0;
        if (c->qcap - c->qlen >= QBUF_READ_MIN) {
            return true;
        }
    }
    size_t want = resp_parser_want(&c->parser);
    size_t cap = c->qcap ? c->qcap * 2 : QBUF_INITIAL;
    if (want > c->qcap && want < cap) {
        cap = want + QBUF_READ_MIN;
    }
    char *p = realloc(c->qbuf, cap);
    if (p == NULL) {
        return false;
    }
    c->qbuf = p;
    c->qcap = cap;
    return true;
}

/*
 * Reads once. Returns 1 if bytes arrived, 0 if none were available, -1 if
 * the connection must close (EOF, error or a limit).
 */
static int conn_read(struct conn *c)
{
    if (!make_room(c)) {
        STAT_ADD(&c->w->stats, client_limit_closes, 1);
        log_verbose("closing client %llu: query buffer limit reached",
                    (unsigned long long)c->id);
        return -1;
    }
    ssize_t n = read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    if (n > 0) {
        c->qlen += (size_t)n;
        STAT_ADD(&c->w->stats, total_net_input_bytes, n);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return 0;
    }
    return -1;
}

/*
 * Runs the complete requests in the query buffer, appending replies, until
 * none is left or OUT_BATCH_MAX bytes of replies are pending; in the second
 * case c->batch_cut is set and the caller continues after flushing.
 */
static void conn_process(struct conn *c)
{
    struct worker *w = c->w;
    struct cmd_ctx ctx = {
        .srv = w->srv,
        .w = w,
        .c = c,
        .r = {.out = &c->out, .proto = c->proto},
        .now_ms = unix_ms(),
    };
    c->batch_cut = false;
    qsbr_enter(&w->batch_epoch); /* batch views stay valid until leave */
    while (!c->closing && c->qstart < c->qlen) {
        if (c->out.len - c->out_sent >= OUT_BATCH_MAX) {
            c->batch_cut = true;
            break;
        }
        size_t used = 0;
        enum resp_status st = resp_parse(&c->parser, c->qbuf + c->qstart,
                                         c->qlen - c->qstart, &used);
        if (st == RESP_AGAIN) {
            break;
        }
        if (st == RESP_EPROTO) {
            reply_errorf(&ctx.r, "ERR %s", c->parser.err);
            STAT_ADD(&w->stats, protocol_errors, 1);
            STAT_ADD(&w->stats, total_error_replies, 1);
            log_verbose("closing client %llu: %s", (unsigned long long)c->id,
                        c->parser.err);
            c->closing = true;
            break;
        }
        if (c->parser.argc > 0) {
            ctx.base = c->qbuf + c->qstart;
            ctx.argv = c->parser.argv;
            ctx.argc = c->parser.argc;
            ctx.r.proto = c->proto;
            size_t reply_at = c->out.len;
            ctx.cmd = NULL;
            ctx.clock_ns = metrics_request_start(w->metrics);
            command_execute(&ctx);
            metrics_request_done(w->metrics, &ctx, reply_at);
        }
        c->qstart += used;
    }
    qsbr_leave(&w->batch_epoch);
    if (c->qstart == c->qlen) {
        c->qstart = c->qlen = 0;
        if (c->qcap > QBUF_KEEP_MAX) {
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    }
}

/*
 * Writes pending replies. Returns false if the connection was destroyed.
 * While bytes remain, reading pauses and the write event is armed.
 */
static bool conn_flush(struct conn *c)
{
    if (buf_failed(&c->out) ||
        c->out.len - c->out_sent > c->w->srv->opts->client_output_buffer_limit.num) {
        STAT_ADD(&c->w->stats, client_limit_closes, 1);
        conn_destroy(c);
        return false;
    }
    while (c->out_sent < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + c->out_sent,
                          c->out.len - c->out_sent);
        if (n > 0) {
            c->out_sent += (size_t)n;
            STAT_ADD(&c->w->stats, total_net_output_bytes, n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->writing) {
                event_del(&c->ev_read);
                event_add(&c->ev_write, NULL);
                c->writing = true;
            }
            return true;
        } else {
            conn_destroy(c);
            return false;
        }
    }
    c->out.len = c->out_sent = 0;
    if (c->out.cap > OUT_KEEP_MAX) {
        buf_deinit(&c->out);
    }
    if (c->closing || (c->draining && !c->batch_cut)) {
        conn_destroy(c);
        return false;
    }
    if (c->writing) {
        event_del(&c->ev_write);
        event_add(&c->ev_read, NULL);
        c->writing = false;
    }
    return true;
}

/*
 * Runs buffered requests and writes their replies, batch after batch,
 * until no complete request is left or the socket stops taking bytes.
 * Returns false if the connection was destroyed.
 */
static bool conn_serve(struct conn *c)
{
    do {
        conn_process(c);
        if (!conn_flush(c)) {
            return false;
        }
    } while (c->batch_cut && !c->writing);
    return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    int rc = conn_read(c);
    if (rc < 0) {
        conn_destroy(c);
    } else if (rc > 0) {
        conn_serve(c);
    }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (conn_flush(c) && c->batch_cut && !c->writing) {
        conn_serve(c);
    }
}

void conn_drain(struct conn *c)
{
    for (int i = 0; i < 64 && !c->closing && !c->writing; i++) {
        if (conn_read(c) <= 0) {
            break;
        }
        if (!conn_serve(c)) {
            return;
        }
    }
    c->draining = true;
    conn_serve(c);
}
