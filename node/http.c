/*
 * This file implements the node's HTTP endpoint (http.h): an evhttp server
 * on its own thread and event loop, the routing of /metrics and /health,
 * and the JSON body of /health. The thread is stopped through a pipe, the
 * same way workers are, so libevent needs no thread support.
 */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "batch.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "prom_text.h"
#include "qsbr.h"
#include "server.h"

enum {
    HTTP_TIMEOUT_S = 10, /* idle or slow clients are dropped after this */
};

struct http_server {
    struct server *srv; /* borrowed */
    struct event_base *base;
    struct evhttp *http;
    struct event *ev_stop;
    int stop_rd, stop_wr;
    pthread_t thread;
    bool started;
    /* The SHA-256 of the last Authorization header that passed, and the
     * user table generation it passed against: a scraper sending the same
     * header again is let in without another PBKDF2 derivation. Used by
     * the HTTP thread only. */
    unsigned char pass_digest[32];
    uint64_t pass_generation; /* 0: nothing cached */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True if the query string asks for strict health (strict=1|true|yes). */
static bool strict_query(const char *query)
{
    if (query == NULL) {
        return false;
    }
    struct evkeyvalq params;
    bool strict = false;
    if (evhttp_parse_query_str(query, &params) == 0) {
        const char *v = evhttp_find_header(&params, "strict");
        strict = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
                               strcmp(v, "yes") == 0);
    }
    evhttp_clear_headers(&params);
    return strict;
}

/* The /health body: status, generation, reasons and each table's
 * freshness. Malloc'd JSON or NULL. */
static char *health_json(struct server *srv, const struct health_report *h,
                         const struct batch_view *v, int64_t now_ms)
{
    pthread_mutex_lock(&srv->config_lock);
    uint64_t max_age = srv->opts->max_age.num;
    pthread_mutex_unlock(&srv->config_lock);
    json_t *root = json_object();
    json_t *reasons = json_array();
    json_t *tables = json_object();
    json_object_set_new(root, "status",
                        json_string(health_state_name(h->state)));
    if (v != NULL) {
        json_object_set_new(root, "generation",
                            json_integer((json_int_t)v->generation));
    }
    for (size_t i = 0; i < h->nreasons; i++) {
        json_array_append_new(reasons, json_string(h->reasons[i]));
    }
    if (h->nomitted > 0) {
        char more[64];
        snprintf(more, sizeof(more), "and %zu more", h->nomitted);
        json_array_append_new(reasons, json_string(more));
    }
    for (size_t i = 0; v != NULL && i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        if (t->active == NULL) {
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "version",
                            json_integer((json_int_t)t->active->version));
        json_object_set_new(o, "age_seconds",
                            json_real((double)health_version_age_ms(
                                          t->active, now_ms) / 1000.0));
        json_object_set_new(o, "max_age_seconds",
                            json_integer((json_int_t)health_max_age_s(
                                t, max_age)));
        json_object_set_new(tables, t->name, o);
    }
    json_object_set_new(root, "reasons", reasons);
    json_object_set_new(root, "tables", tables);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, const char *body, size_t len)
{
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Content-Type", type);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    evhttp_send_reply(req, code, reason, NULL);
}

/*
 * Whether a /metrics request may be answered: always when the node needs
 * no password; otherwise its Authorization header must carry Basic
 * credentials of a user of the published table (any role). Runs inside
 * the HTTP thread's read section, which keeps the table alive.
 */
static bool metrics_allowed(struct http_server *h, struct evhttp_request *req)
{
    if (!auth_required(h->srv->auth)) {
        return true;
    }
    const char *header = evhttp_find_header(
        evhttp_request_get_input_headers(req), "Authorization");
    if (header == NULL) {
        return false;
    }
    const struct auth_table *t = auth_current(h->srv->auth);
    unsigned char digest[32];
    unsigned int dlen = 0;
    if (EVP_Digest(header, strlen(header), digest, &dlen, EVP_sha256(),
                   NULL) != 1) {
        return false;
    }
    if (h->pass_generation == t->generation &&
        CRYPTO_memcmp(digest, h->pass_digest, sizeof(digest)) == 0) {
        return true;
    }
    char user[AUTH_NAME_MAX + 1];
    char pw[512];
    bool ok = false;
    if (auth_basic_parse(header, user, sizeof(user), pw, sizeof(pw)) == 0) {
        const char *name = user[0] != '\0' ? user : AUTH_DEFAULT_USER;
        ok = auth_table_verify(t, name, strlen(name), pw, strlen(pw)) != NULL;
    }
    OPENSSL_cleanse(pw, sizeof(pw));
    if (ok) {
        memcpy(h->pass_digest, digest, sizeof(digest));
        h->pass_generation = t->generation;
    }
    return ok;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct http_server *h = arg;
    struct server *srv = h->srv;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    bool metrics = path != NULL && strcmp(path, "/metrics") == 0;
    bool health = path != NULL && strcmp(path, "/health") == 0;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        static const char msg[] = "only GET and HEAD\n";
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply(req, 405, "Method Not Allowed", "text/plain", msg,
              sizeof(msg) - 1);
        return;
    }
    if (!metrics && !health) {
        static const char msg[] = "not found: try /metrics or /health\n";
        reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", msg,
              sizeof(msg) - 1);
        return;
    }
    int64_t now = wall_ms();
    struct buf body = {0};
    char *json = NULL;
    struct health_report rep;
    qsbr_enter(&srv->http_epoch); /* the view stays valid until leave */
    if (metrics && !metrics_allowed(h, req)) {
        qsbr_leave(&srv->http_epoch);
        static const char msg[] = "authentication required: /metrics takes "
                                  "HTTP Basic credentials of a node user\n";
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Basic realm=\"larder\"");
        reply(req, 401, "Unauthorized", "text/plain", msg, sizeof(msg) - 1);
        return;
    }
    const struct batch_view *v = batch_current(srv->batch);
    struct batch_usage usage;
    batch_view_usage(v, &usage);
    if (metrics) {
        metrics_render(srv, v, &usage, now, &body);
    } else {
        health_check(srv, v, &usage, now, &rep);
        json = health_json(srv, &rep, v, now);
    }
    qsbr_leave(&srv->http_epoch);
    if (metrics) {
        if (buf_failed(&body)) {
            reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain",
                  "out of memory\n", 14);
        } else {
            reply(req, HTTP_OK, "OK", PROM_CONTENT_TYPE,
                  body.data ? body.data : "", body.len);
        }
        buf_deinit(&body);
        return;
    }
    bool strict = strict_query(evhttp_uri_get_query(uri));
    bool up = rep.state == HEALTH_OK ||
              (rep.state == HEALTH_DEGRADED && !strict);
    if (json == NULL) {
        reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain",
              "out of memory\n", 14);
        return;
    }
    size_t len = strlen(json);
    json[len] = '\n'; /* the NUL becomes a newline: the length is passed */
    reply(req, up ? HTTP_OK : HTTP_SERVUNAVAIL,
          up ? "OK" : "Service Unavailable", "application/json", json,
          len + 1);
    free(json);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *h = arg;
    event_base_loopexit(h->base, NULL);
}

static void *http_main(void *arg)
{
    struct http_server *h = arg;
    event_base_dispatch(h->base);
    return NULL;
}

int http_create(struct server *srv, struct http_server **out, char *err,
                size_t errlen)
{
    *out = NULL;
    const struct node_options *o = srv->opts;
    if (o->http_port.num == 0) {
        return 0;
    }
    if (o->http_port.num > 65535) {
        snprintf(err, errlen, "--http-port %llu is out of range",
                 (unsigned long long)o->http_port.num);
        return -1;
    }
    const char *bind = o->http_bind.str[0] != '\0' ? o->http_bind.str
                                                   : o->bind.str;
    struct http_server *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->srv = srv;
    h->stop_rd = h->stop_wr = -1;
    *out = h;
    int fds[2];
    h->base = event_base_new();
    h->http = h->base != NULL ? evhttp_new(h->base) : NULL;
    if (h->http == NULL || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot create the HTTP server");
        return -1;
    }
    h->stop_rd = fds[0];
    h->stop_wr = fds[1];
    h->ev_stop = event_new(h->base, h->stop_rd, EV_READ, on_stop, h);
    if (h->ev_stop == NULL || event_add(h->ev_stop, NULL) != 0) {
        snprintf(err, errlen, "cannot create the HTTP server");
        return -1;
    }
    /* Other methods get a 405 from on_request(); libevent's own answer to
     * a method it was told to refuse is a 501. */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS |
                                            EVHTTP_REQ_PATCH);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    evhttp_set_gencb(h->http, on_request, h);
    errno = 0;
    if (evhttp_bind_socket_with_handle(h->http, bind,
                                       (uint16_t)o->http_port.num) == NULL) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%llu: %s", bind,
                 (unsigned long long)o->http_port.num,
                 errno ? strerror(errno) : "bad address");
        return -1;
    }
    log_notice("HTTP /metrics and /health on %s:%llu", bind,
               (unsigned long long)o->http_port.num);
    return 0;
}

int http_start(struct http_server *h)
{
    if (h == NULL) {
        return 0;
    }
    if (pthread_create(&h->thread, NULL, http_main, h) != 0) {
        return -1;
    }
    h->started = true;
    return 0;
}

void http_stop(struct http_server *h)
{
    if (h == NULL || !h->started) {
        return;
    }
    char msg = 's';
    ssize_t n = write(h->stop_wr, &msg, 1);
    (void)n;
    pthread_join(h->thread, NULL);
    h->started = false;
}

void http_destroy(struct http_server **hp)
{
    struct http_server *h = *hp;
    if (h == NULL) {
        return;
    }
    http_stop(h);
    if (h->http != NULL) {
        evhttp_free(h->http);
    }
    if (h->ev_stop != NULL) {
        event_free(h->ev_stop);
    }
    if (h->base != NULL) {
        event_base_free(h->base);
    }
    if (h->stop_rd >= 0) {
        close(h->stop_rd);
        close(h->stop_wr);
    }
    free(h);
    *hp = NULL;
}
