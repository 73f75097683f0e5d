/*
 * This file implements the larderd process structure: the listening socket
 * and signals on the main thread, the worker threads with their own event
 * loops, the hand-off of accepted sockets to workers, the active-expiry
 * timer and the graceful shutdown on SIGTERM.
 *
 * Shutdown: the listener is closed first (new connections are refused),
 * then every worker serves what its clients already sent, flushes the
 * replies and exits once its last client is gone or shutdown-timeout has
 * passed; the main thread joins the workers and returns.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "auth.h"
#include "batch.h"
#include "command.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "placement.h"
#include "puller.h"
#include "reconfig.h"

#define NOTIFY_CONN 'c'
#define NOTIFY_STOP 's'
#define ACCEPT_BATCH 64

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t server_used_memory(struct server *srv)
{
    struct mallinfo2 mi = mallinfo2();
    uint64_t used = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    if (used == 0) {
        /* Sanitizer allocators report nothing: fall back to the data. */
        struct live_stats ls;
        live_get_stats(srv->live, &ls);
        used = ls.used_memory;
    }
    return used;
}

void server_sum_stats(struct server *srv, struct node_stats *out)
{
    uint64_t *sum = (uint64_t *)out;
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < srv->nworkers; i++) {
        uint64_t *st = (uint64_t *)&srv->workers[i].stats;
        for (size_t k = 0; k < METRIC_COUNT; k++) {
            sum[k] += __atomic_load_n(&st[k], __ATOMIC_RELAXED);
        }
    }
}

void server_client_closed(struct server *srv)
{
    __atomic_sub_fetch(&srv->connected_clients, 1, __ATOMIC_RELAXED);
}

/* Worker: adopt the sockets queued by the acceptor, or begin stopping. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    char msgs[64];
    ssize_t n = read(fd, msgs, sizeof(msgs));
    bool stop = false;
    for (ssize_t i = 0; i < n; i++) {
        stop |= msgs[i] == NOTIFY_STOP;
    }
    pthread_mutex_lock(&w->lock);
    int *fds = w->pending_fds;
    size_t nfds = w->npending;
    w->pending_fds = NULL;
    w->npending = w->pending_cap = 0;
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < nfds; i++) {
        if (w->stopping || stop || conn_create(w, fds[i]) == NULL) {
            close(fds[i]);
            server_client_closed(w->srv);
        }
    }
    free(fds);
    if (stop && !w->stopping) {
        w->stopping = true;
        struct conn *c = w->conns;
        while (c != NULL) {
            struct conn *next = c->next;
            conn_drain(c); /* may free c */
            c = next;
        }
        if (w->nconns == 0) {
            event_base_loopexit(w->base, NULL);
        } else {
            struct timeval tv = {
                .tv_sec = (time_t)w->srv->opts->shutdown_timeout.num};
            event_add(w->ev_deadline, &tv);
        }
    }
}

/* Worker: shutdown-timeout passed with clients still pending. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    log_warning("worker %u: shutdown timeout, closing %llu clients", w->id,
                (unsigned long long)w->nconns);
    while (w->conns != NULL) {
        conn_destroy(w->conns);
    }
    event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    while (w->conns != NULL) {
        conn_destroy(w->conns);
    }
    return NULL;
}

static int worker_init(struct worker *w, struct server *srv, unsigned id)
{
    int fds[2];
    w->srv = srv;
    w->id = id;
    w->notify_rd = w->notify_wr = -1;
    pthread_mutex_init(&w->lock, NULL);
    w->base = event_base_new();
    if (w->base == NULL || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return -1;
    }
    w->notify_rd = fds[0];
    w->notify_wr = fds[1];
    w->ev_notify = event_new(w->base, w->notify_rd, EV_READ | EV_PERSIST,
                             on_notify, w);
    w->ev_deadline = evtimer_new(w->base, on_deadline, w);
    if (w->ev_notify == NULL || w->ev_deadline == NULL ||
        event_add(w->ev_notify, NULL) != 0) {
        return -1;
    }
    return 0;
}

static void worker_deinit(struct worker *w)
{
    if (w->ev_notify != NULL) {
        event_free(w->ev_notify);
    }
    if (w->ev_deadline != NULL) {
        event_free(w->ev_deadline);
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
    if (w->notify_rd >= 0) {
        close(w->notify_rd);
        close(w->notify_wr);
    }
    for (size_t i = 0; i < w->npending; i++) {
        close(w->pending_fds[i]);
    }
    free(w->pending_fds);
    pthread_mutex_destroy(&w->lock);
}

/* Queues an accepted socket for a worker and wakes it. */
static bool worker_hand_off(struct worker *w, int fd)
{
    pthread_mutex_lock(&w->lock);
    if (w->npending == w->pending_cap) {
        size_t cap = w->pending_cap ? w->pending_cap * 2 : 16;
        int *p = realloc(w->pending_fds, cap * sizeof(int));
        if (p == NULL) {
            pthread_mutex_unlock(&w->lock);
            return false;
        }
        w->pending_fds = p;
        w->pending_cap = cap;
    }
    w->pending_fds[w->npending++] = fd;
    pthread_mutex_unlock(&w->lock);
    char msg = NOTIFY_CONN;
    ssize_t n = write(w->notify_wr, &msg, 1);
    (void)n; /* a full pipe already holds a wake-up */
    return true;
}

static void reject(struct server *srv, int fd, const char *msg)
{
    ssize_t n = write(fd, msg, strlen(msg));
    (void)n;
    close(fd);
    __atomic_add_fetch(&srv->rejected_connections, 1, __ATOMIC_RELAXED);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct server *srv = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                log_warning("accept: %s", strerror(errno));
            }
            return;
        }
        pthread_mutex_lock(&srv->config_lock);
        uint64_t maxclients = srv->opts->maxclients.num;
        pthread_mutex_unlock(&srv->config_lock);
        uint64_t n = __atomic_add_fetch(&srv->connected_clients, 1,
                                        __ATOMIC_RELAXED);
        if (n > maxclients) {
            server_client_closed(srv);
            reject(srv, fd, "-ERR max number of clients reached\r\n");
            continue;
        }
        struct worker *w = &srv->workers[srv->next_worker++ % srv->nworkers];
        if (!worker_hand_off(w, fd)) {
            server_client_closed(srv);
            reject(srv, fd, "-ERR out of memory\r\n");
        }
    }
}

static void on_expire_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    live_expire_cycle(srv->live, now_ms(), srv->opts->active_expire_effort.num);
    uint64_t used = server_used_memory(srv);
    if (used > __atomic_load_n(&srv->used_memory_peak, __ATOMIC_RELAXED)) {
        __atomic_store_n(&srv->used_memory_peak, used, __ATOMIC_RELAXED);
    }
    auth_reclaim(srv->auth);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    if (__atomic_exchange_n(&srv->shutting_down, 1, __ATOMIC_SEQ_CST)) {
        return;
    }
    log_notice("received %s, shutting down",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_del(srv->ev_accept);
    close(srv->listen_fd);
    srv->listen_fd = -1;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        char msg = NOTIFY_STOP;
        ssize_t n = write(srv->workers[i].notify_wr, &msg, 1);
        (void)n;
    }
    event_base_loopexit(srv->base, NULL);
}

/* SIGHUP: reload the options and the users (reconfig.h). */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    if (!__atomic_load_n(&srv->shutting_down, __ATOMIC_SEQ_CST)) {
        log_notice("received SIGHUP, reloading the configuration");
        reconfig_reload(srv);
    }
}

/* Creates, binds and listens on the configured address. -1 with err. */
static int listen_on(struct server *srv, char *err, size_t errlen)
{
    const char *host = srv->opts->bind.str;
    char port[16];
    snprintf(port, sizeof(port), "%llu", (unsigned long long)srv->opts->port.num);
    if (srv->opts->port.num > 65535) {
        snprintf(err, errlen, "port %s is out of range", port);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind '%s': %s (an IP address is needed)",
                 host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    srv->port = ntohs(ss.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&ss)->sin6_port
                          : ((struct sockaddr_in *)&ss)->sin_port);
    srv->listen_fd = fd;
    return 0;
}

static void make_run_id(struct server *srv)
{
    uint64_t seed[3] = {(uint64_t)now_ms(), (uint64_t)getpid(),
                        (uint64_t)(uintptr_t)srv};
    uint64_t a = XXH3_64bits(seed, sizeof(seed));
    uint64_t b = XXH3_64bits_withSeed(seed, sizeof(seed), a);
    snprintf(srv->run_id, sizeof(srv->run_id), "%016llx%016llx00000000",
             (unsigned long long)a, (unsigned long long)b);
}

/* True if s is "IPv4:port" or "[IPv6]:port" with a port 1-65535. */
static bool valid_ip_port(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return false;
    }
    char host[64];
    size_t hlen = (size_t)(colon - s);
    int family = AF_INET;
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']') {
            return false;
        }
        family = AF_INET6;
        s++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        return false;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    unsigned char bin[16];
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    return inet_pton(family, host, bin) == 1 && colon[1] >= '0' &&
           colon[1] <= '9' && *end == '\0' && errno == 0 && port >= 1 &&
           port <= 65535;
}

/* The puller hit a fatal error: stop the process as SIGTERM would. */
static void on_batch_fatal(void *arg)
{
    kill(getpid(), SIGTERM);
}

/*
 * Creates the batch catalog (reading what <data-dir> holds) and the
 * puller, resolving the default membership and store URIs against the
 * absolute data directory. Runs after the workers exist.
 */
static int batch_setup(struct server *srv, char *err, size_t errlen)
{
    struct node_options *o = srv->opts;
    const char *dir = o->data_dir.str;
    if (dir[0] == '\0') {
        snprintf(err, errlen, "--data-dir must not be empty");
        return -1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create --data-dir %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    char abs[PATH_MAX];
    if (realpath(dir, abs) == NULL) {
        snprintf(err, errlen, "--data-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    srv->batch_epochs = calloc(srv->nworkers + 1, sizeof(*srv->batch_epochs));
    if (srv->batch_epochs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        srv->batch_epochs[i] = &srv->workers[i].batch_epoch;
    }
    srv->batch_epochs[srv->nworkers] = &srv->http_epoch; /* HTTP reads too */
    struct batch_options bo = {
        .data_dir = abs,
        .memory = o->batch_memory.num ? o->batch_memory.num
                                      : batch_budget_default(),
        .policy = {.retain_hot = (unsigned)o->retain_hot.num,
                   .retain = (unsigned)o->retain.num,
                   .grace_ms = (int64_t)o->retire_grace.num * 1000},
        .require_mlock = o->require_mlock.num != 0,
        .pull_threads = (unsigned)o->pull_threads.num,
    };
    if (o->pull_threads.num < 1 || o->pull_threads.num > 64) {
        snprintf(err, errlen, "--pull-threads %llu: must be 1 to 64",
                 (unsigned long long)o->pull_threads.num);
        return -1;
    }
    if (batch_create(&bo, srv->batch_epochs, srv->nworkers + 1, &srv->batch, err,
                     errlen) != 0) {
        return -1;
    }
    char membership[PATH_MAX + 32], store[PATH_MAX + 32], addr[320];
    if (o->membership.str[0] != '\0') {
        snprintf(membership, sizeof(membership), "%s", o->membership.str);
    } else {
        snprintf(membership, sizeof(membership), "local:%s/membership", abs);
    }
    if (o->store.str[0] != '\0') {
        snprintf(store, sizeof(store), "%s", o->store.str);
    } else {
        snprintf(store, sizeof(store), "file://%s/store", abs);
    }
    if (o->advertise.str[0] != '\0') {
        if (!valid_ip_port(o->advertise.str)) {
            snprintf(err, errlen, "--advertise '%s' is not IP:PORT (an IP "
                     "address, [addr] for IPv6, and a port 1-65535; nodes "
                     "register addresses, not names)", o->advertise.str);
            return -1;
        }
        snprintf(addr, sizeof(addr), "%s", o->advertise.str);
    } else if (strchr(o->bind.str, ':') != NULL) {
        snprintf(addr, sizeof(addr), "[%s]:%u", o->bind.str, srv->port);
    } else {
        snprintf(addr, sizeof(addr), "%s:%u", o->bind.str, srv->port);
    }
    if (o->zone.str[0] != '\0' && !batch_valid_table_name(o->zone.str)) {
        snprintf(err, errlen, "--zone '%s' is not valid ([A-Za-z0-9_.-], 1 "
                 "to 64 characters)", o->zone.str);
        return -1;
    }
    if (o->capacity.num < 1 || o->capacity.num > PLACE_CAPACITY_MAX) {
        snprintf(err, errlen, "--capacity %llu is out of range (1 to %d)",
                 (unsigned long long)o->capacity.num, PLACE_CAPACITY_MAX);
        return -1;
    }
    struct puller_options po = {
        .membership_uri = membership,
        .store_uri = store,
        .node_id = o->node_id.str,
        .addr = addr,
        .zone = o->zone.str,
        .capacity = (uint32_t)o->capacity.num,
        .watch_interval_ms = o->watch_interval_ms.num,
        .controller = o->placement_controller.num != 0,
        .rebalance_delay_ms = o->rebalance_delay.num * 1000,
        .pull_bandwidth = o->pull_bandwidth.num,
        .on_fatal = on_batch_fatal,
        .fatal_arg = srv,
    };
    return puller_create(&po, srv->batch, &srv->puller, err, errlen);
}

int server_init(struct server *srv, struct node_options *opts, char *err,
                size_t errlen)
{
    memset(srv, 0, sizeof(*srv));
    srv->opts = opts;
    srv->listen_fd = -1;
    srv->start_ms = now_ms();
    pthread_mutex_init(&srv->config_lock, NULL);
    make_run_id(srv);
    command_setup();
    if (reconfig_auth_setup(srv, err, errlen) != 0) {
        return -1;
    }

    srv->limits = resp_limits_default();
    srv->limits.max_bulk_len = opts->proto_max_bulk_len.num;
    srv->limits.max_array_len = opts->proto_max_multibulk_len.num;
    srv->limits.max_inline_len = opts->proto_inline_max_size.num;

    struct live_options lo = live_options_default();
    lo.maxmemory = opts->maxmemory.num;
    lo.policy = (enum live_policy)opts->maxmemory_policy.num;
    lo.eviction_samples = (unsigned)opts->maxmemory_samples.num;
    srv->live = live_create(&lo);
    if (srv->live == NULL) {
        snprintf(err, errlen, "out of memory creating the live table");
        return -1;
    }
    if (listen_on(srv, err, errlen) != 0) {
        return -1;
    }
    srv->base = event_base_new();
    if (srv->base == NULL) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    srv->ev_accept = event_new(srv->base, srv->listen_fd, EV_READ | EV_PERSIST,
                               on_accept, srv);
    srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->ev_sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->ev_expire = event_new(srv->base, -1, EV_PERSIST, on_expire_tick, srv);
    uint64_t hz = opts->hz.num ? opts->hz.num : 1;
    struct timeval tick = {.tv_sec = hz == 1 ? 1 : 0,
                           .tv_usec = hz == 1 ? 0 : (suseconds_t)(1000000 / hz)};
    if (srv->ev_accept == NULL || srv->ev_sigterm == NULL ||
        srv->ev_sigint == NULL || srv->ev_expire == NULL ||
        event_add(srv->ev_accept, NULL) != 0 ||
        event_add(srv->ev_sigterm, NULL) != 0 ||
        event_add(srv->ev_sigint, NULL) != 0 ||
        event_add(srv->ev_expire, &tick) != 0) {
        snprintf(err, errlen, "cannot register events");
        return -1;
    }
    srv->ev_sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
    if (srv->ev_sighup == NULL || event_add(srv->ev_sighup, NULL) != 0) {
        snprintf(err, errlen, "cannot register events");
        return -1;
    }

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv->nworkers = opts->threads.num ? (unsigned)opts->threads.num
                                      : (unsigned)(cores > 0 ? cores : 1);
    if (srv->nworkers > 1024) {
        snprintf(err, errlen, "--threads %u is too many (at most 1024)",
                 srv->nworkers);
        return -1;
    }
    srv->workers = calloc(srv->nworkers, sizeof(struct worker));
    if (srv->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        if (worker_init(&srv->workers[i], srv, i) != 0) {
            snprintf(err, errlen, "cannot create worker %u", i);
            return -1;
        }
    }
    if (metrics_setup(srv, err, errlen) != 0 ||
        batch_setup(srv, err, errlen) != 0) {
        return -1;
    }
    /* Workers and the HTTP thread (for /metrics) read user tables. */
    auth_set_readers(srv->auth, srv->batch_epochs, srv->nworkers + 1);
    return http_create(srv, &srv->http, err, errlen);
}

int server_run(struct server *srv)
{
    unsigned started = 0;
    for (; started < srv->nworkers; started++) {
        struct worker *w = &srv->workers[started];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_warning("cannot start worker %u: %s", started, strerror(errno));
            break;
        }
    }
    bool ok = started == srv->nworkers;
    if (ok && http_start(srv->http) != 0) {
        log_warning("cannot start the HTTP thread: %s", strerror(errno));
        ok = false;
    }
    if (ok && puller_start(srv->puller) != 0) {
        log_warning("cannot start the batch puller thread: %s",
                    strerror(errno));
        ok = false;
    }
    int rc = 0;
    if (ok) {
        log_notice("larderd ready to accept connections on %s:%u "
                   "(%u worker threads)",
                   srv->opts->bind.str, srv->port, srv->nworkers);
        event_base_dispatch(srv->base);
    } else {
        rc = 1;
        on_signal(SIGTERM, 0, srv);
    }
    puller_stop(srv->puller);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(srv->workers[i].thread, NULL);
    }
    http_stop(srv->http); /* answered "stopping" while workers drained */
    if (batch_failed(srv->batch)) {
        rc = 1;
    }
    log_notice("larderd stopped");
    return rc;
}

void server_deinit(struct server *srv)
{
    http_destroy(&srv->http);
    puller_destroy(&srv->puller);
    batch_destroy(&srv->batch);
    free(srv->batch_epochs);
    metrics_teardown(srv);
    if (srv->workers != NULL) {
        for (unsigned i = 0; i < srv->nworkers; i++) {
            worker_deinit(&srv->workers[i]);
        }
        free(srv->workers);
    }
    struct event *evs[] = {srv->ev_accept, srv->ev_sigterm, srv->ev_sigint,
                           srv->ev_expire, srv->ev_sighup};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i] != NULL) {
            event_free(evs[i]);
        }
    }
    if (srv->base != NULL) {
        event_base_free(srv->base);
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
    }
    live_destroy(&srv->live);
    auth_destroy(&srv->auth);
    pthread_mutex_destroy(&srv->config_lock);
}
