/*
 * This file implements the admin CLI's reads, get and mget: T.GET / T.MGET
 * sent to --node, or routed with the cluster view (cluster_view.h, from the
 * membership or a seed's LARDER.VIEW). A routed key goes to a live node
 * that holds its partition (xxh3_64(key) % partitions), ready nodes first;
 * a node that cannot be reached is skipped for the next one; one
 * "-WRONGNODE <partition> <host:port>" reply is followed. Keys that land
 * on several nodes are read from one version: the active one of the view,
 * sent as VERSION v, unless --version names another.
 *
 * Values that are stored rows (msgpack maps) are shown as JSON
 * (value_format.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_ctx.h"
#include "json_writer.h"
#include "value_format.h"

/* True if r carries a value (as bytes); false for a null. */
static bool reply_value(const struct resp_reply *r)
{
    return r->type == RESP_REPLY_BULK || r->type == RESP_REPLY_STATUS ||
           r->type == RESP_REPLY_VERBATIM;
}

/* Appends one key's result: a JSON object, or a human line. */
static void emit_value(struct cli_ctx *c, struct json_writer *w,
                       const char *key, const struct resp_reply *r,
                       bool with_key)
{
    bool found = reply_value(r);
    if (c->a->json) {
        jw_object_begin(w);
        jw_key_str(w, "key");
        jw_str(w, key);
        jw_key_str(w, "value");
        enum value_kind kind = VALUE_TEXT;
        if (found) {
            kind = value_write_json(w, r->str, r->len);
        } else {
            jw_null(w);
        }
        jw_key_str(w, "found");
        jw_bool(w, found);
        if (kind == VALUE_BINARY) {
            jw_key_str(w, "encoding");
            jw_str(w, "base64");
        }
        jw_object_end(w);
        return;
    }
    if (with_key) {
        value_append_text(&c->text, key, strlen(key));
        buf_append(&c->text, "\t", 1);
    }
    if (found) {
        value_append_human(&c->text, r->str, r->len);
    } else {
        buf_append_str(&c->text, "(nil)");
    }
    buf_append(&c->text, "\n", 1);
}

/* A read in progress: the keys, where each one's reply is, what to free. */
struct read_job {
    bool single;               /* T.GET (one key) rather than T.MGET */
    const char *table;
    const char *const *keys;
    size_t nkeys;
    uint64_t version;          /* sent as VERSION v; 0: none */
    const struct resp_reply **vals; /* per key, borrowed from replies */
    struct resp_reply **replies;    /* owned, nreplies */
    size_t nreplies;
};

static void read_job_free(struct read_job *j)
{
    for (size_t i = 0; i < j->nreplies; i++) {
        resp_reply_free(j->replies[i]);
    }
    free(j->replies);
    free(j->vals);
}

/*
 * Sends keys[idx[0..n)] to a connected node and files the replies. Returns
 * an exit code; on a transport failure *lost is set (the caller may try
 * another node) and nothing is printed. *redirect gets the address of a
 * -WRONGNODE reply ("" if none).
 */
static int send_read(struct cli_ctx *c, struct read_job *j,
                     struct resp_client *cl, const size_t *idx, size_t n,
                     bool *lost, char *redirect, size_t redirlen)
{
    *lost = false;
    redirect[0] = '\0';
    const char **argv = calloc(n + 4, sizeof(*argv));
    struct resp_reply **grown =
        realloc(j->replies, (j->nreplies + 1) * sizeof(*grown));
    if (grown != NULL) {
        j->replies = grown;
    }
    if (argv == NULL || grown == NULL) {
        free(argv);
        return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    int k = 0;
    char ver[24];
    argv[k++] = j->single ? "T.GET" : "T.MGET";
    argv[k++] = j->table;
    for (size_t i = 0; i < n; i++) {
        argv[k++] = j->keys[idx[i]];
    }
    if (j->version != 0) {
        snprintf(ver, sizeof(ver), "%llu", (unsigned long long)j->version);
        argv[k++] = "VERSION";
        argv[k++] = ver;
    }
    struct resp_reply *r = NULL;
    char err[512] = "";
    enum resp_client_status st =
        resp_client_command(cl, k, argv, NULL, &r, err, sizeof(err));
    free(argv);
    if (st != RESP_CLIENT_OK) {
        *lost = true;
        snprintf(redirect, redirlen, "%s", err);
        return CLI_EXIT_UNREACHABLE;
    }
    j->replies[j->nreplies++] = r;
    const char *peer = resp_client_peer(cl);
    if (r->type == RESP_REPLY_ERRORMSG) {
        unsigned part;
        char addr[256];
        if (sscanf(r->str, "WRONGNODE %u %255s", &part, addr) == 2) {
            snprintf(redirect, redirlen, "%s", addr);
            return CLI_EXIT_NOTFOUND;
        }
        return cli_say(c, CLI_EXIT_NOTFOUND, "%s: %s", peer, r->str);
    }
    if (j->single) {
        if (!reply_value(r) && r->type != RESP_REPLY_NULL) {
            return cli_say(c, CLI_EXIT_NOTFOUND, "%s: unexpected %s reply to "
                           "T.GET", peer, resp_reply_type_name(r->type));
        }
        j->vals[idx[0]] = r;
        return CLI_EXIT_OK;
    }
    if (r->type != RESP_REPLY_ARRAY || r->elements != n) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "%s: unexpected reply to T.MGET "
                       "(%s of %zu elements for %zu keys)", peer,
                       resp_reply_type_name(r->type), r->elements, n);
    }
    for (size_t i = 0; i < n; i++) {
        j->vals[idx[i]] = r->element[i];
    }
    return CLI_EXIT_OK;
}

/* Reads every key from --node. */
static int read_from_node(struct cli_ctx *c, struct read_job *j)
{
    struct resp_client *cl = NULL;
    char why[512];
    int rc = cli_connect(c, c->a->node, false, &cl, why, sizeof(why));
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    size_t *idx = calloc(j->nkeys, sizeof(*idx));
    if (idx == NULL) {
        resp_client_close(&cl);
        return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    for (size_t i = 0; i < j->nkeys; i++) {
        idx[i] = i;
    }
    bool lost;
    char redirect[512];
    rc = send_read(c, j, cl, idx, j->nkeys, &lost, redirect,
                   sizeof(redirect));
    if (lost) {
        rc = cli_say(c, CLI_EXIT_UNREACHABLE, "%s", redirect);
    } else if (redirect[0] != '\0') {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s: WRONGNODE: the partition is "
                     "on %s", c->a->node, redirect);
    }
    free(idx);
    resp_client_close(&cl);
    return rc;
}

/* Routes the keys with the view: see the header comment. */
struct route {
    size_t *cand;     /* nkeys x nnodes candidate node indexes */
    size_t *ncand;    /* per key */
    uint32_t *part;   /* per key */
    bool *dead;       /* per node: could not be reached */
    size_t *idx;      /* scratch: the keys of one node */
};

static void route_free(struct route *rt)
{
    free(rt->cand);
    free(rt->ncand);
    free(rt->part);
    free(rt->dead);
    free(rt->idx);
}

/* The first candidate of key i not known dead, or SIZE_MAX. */
static size_t first_alive(const struct route *rt, size_t nnodes, size_t i)
{
    for (size_t k = 0; k < rt->ncand[i]; k++) {
        size_t n = rt->cand[i * nnodes + k];
        if (!rt->dead[n]) {
            return n;
        }
    }
    return SIZE_MAX;
}

/* Follows a -WRONGNODE once: the same keys, to the address named. */
static int follow_redirect(struct cli_ctx *c, struct read_job *j,
                           const char *from, const char *to,
                           const size_t *idx, size_t n)
{
    struct resp_client *cl = NULL;
    char why[512];
    int rc = cli_connect(c, to, false, &cl, why, sizeof(why));
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bool lost;
    char again[512];
    rc = send_read(c, j, cl, idx, n, &lost, again, sizeof(again));
    if (lost) {
        rc = cli_say(c, CLI_EXIT_UNREACHABLE, "%s", again);
    } else if (again[0] != '\0') {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s sent us to %s, which sent us "
                     "to %s: the cluster view is changing; try again", from,
                     to, again);
    }
    resp_client_close(&cl);
    return rc;
}

static int read_routed(struct cli_ctx *c, struct read_job *j,
                       const struct cluster_view *v)
{
    struct route rt = {0};
    size_t nn = v->nnodes ? v->nnodes : 1;
    rt.cand = calloc(j->nkeys * nn, sizeof(*rt.cand));
    rt.ncand = calloc(j->nkeys, sizeof(*rt.ncand));
    rt.part = calloc(j->nkeys, sizeof(*rt.part));
    rt.dead = calloc(nn, sizeof(*rt.dead));
    rt.idx = calloc(j->nkeys, sizeof(*rt.idx));
    if (rt.cand == NULL || rt.ncand == NULL || rt.part == NULL ||
        rt.dead == NULL || rt.idx == NULL) {
        route_free(&rt);
        return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    size_t first = SIZE_MAX;
    bool spread = false;
    for (size_t i = 0; i < j->nkeys; i++) {
        cluster_view_route(v, j->table, j->keys[i], strlen(j->keys[i]),
                           &rt.cand[i * nn], nn, &rt.ncand[i], &rt.part[i]);
        size_t f = rt.ncand[i] > 0 ? rt.cand[i * nn] : SIZE_MAX;
        spread = spread || (i > 0 && f != first);
        first = i == 0 ? f : first;
    }
    const struct cluster_table *t = cluster_view_table(v, j->table);
    if (spread && j->version == 0 && t != NULL) {
        j->version = t->active_version;
    }
    int rc = CLI_EXIT_OK;
    size_t tried = 0;
    char why[512] = "";
    /* Each pass serves the first key without a reply, with the keys that
     * go to the same node; a node that cannot be reached is marked dead
     * and the pass repeats with the next candidates. */
    for (size_t i = 0; i < j->nkeys && rc == CLI_EXIT_OK;) {
        if (j->vals[i] != NULL) {
            i++;
            continue;
        }
        size_t node = first_alive(&rt, nn, i);
        if (node == SIZE_MAX) {
            if (tried == 0 && rt.part[i] == UINT32_MAX) {
                rc = cli_say(c, CLI_EXIT_UNREACHABLE, "no live node in %s "
                             "(%zu member%s; use --node IP:PORT)", v->source,
                             v->nnodes, v->nnodes == 1 ? "" : "s");
            } else if (tried == 0) {
                rc = cli_say(c, CLI_EXIT_UNREACHABLE, "no live node holds "
                             "partition %u of %s (key %s)", rt.part[i],
                             j->table, j->keys[i]);
            } else {
                rc = cli_say(c, CLI_EXIT_UNREACHABLE, "cannot reach any live "
                             "node: %s", why);
            }
            break;
        }
        size_t n = 0;
        for (size_t k = i; k < j->nkeys && (!j->single || n == 0); k++) {
            if (j->vals[k] == NULL && first_alive(&rt, nn, k) == node) {
                rt.idx[n++] = k;
            }
        }
        const char *addr = v->nodes[node].addr;
        struct resp_client *cl = NULL;
        tried++;
        rc = cli_connect(c, addr, true, &cl, why, sizeof(why));
        if (rc == CLI_EXIT_UNREACHABLE) {
            rt.dead[node] = true;
            rc = CLI_EXIT_OK;
            continue;
        }
        if (rc != CLI_EXIT_OK) {
            break;
        }
        bool lost;
        char redirect[512];
        rc = send_read(c, j, cl, rt.idx, n, &lost, redirect,
                       sizeof(redirect));
        resp_client_close(&cl);
        if (lost) {
            snprintf(why, sizeof(why), "%s", redirect);
            rt.dead[node] = true;
            rc = CLI_EXIT_OK;
        } else if (redirect[0] != '\0') {
            rc = follow_redirect(c, j, addr, redirect, rt.idx, n);
        }
    }
    route_free(&rt);
    return rc;
}

/* Runs a read job: --node, else routed with the cluster view. */
static int run_read(struct cli_ctx *c, struct read_job *j)
{
    j->vals = calloc(j->nkeys, sizeof(*j->vals));
    if (j->vals == NULL) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    if (c->a->seen & CLI_OPT(VERSION)) {
        j->version = c->a->version;
    }
    if (c->a->node != NULL) {
        return read_from_node(c, j);
    }
    struct cluster_view v;
    int rc = cli_load_view(c, &v, false);
    if (rc == CLI_EXIT_OK) {
        rc = read_routed(c, j, &v);
    }
    cluster_view_free(&v);
    return rc;
}

/* Checks the table argument of get/mget. */
static int check_table_arg(struct cli_ctx *c, const char *table)
{
    if (!cli_valid_table_name(table)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name",
                       table);
    }
    return CLI_EXIT_OK;
}

int cmd_get(struct cli_ctx *c)
{
    struct read_job j = {.single = true, .table = c->pos[0],
                         .keys = c->pos + 1, .nkeys = 1};
    int rc = check_table_arg(c, j.table);
    if (rc == CLI_EXIT_OK) {
        rc = run_read(c, &j);
    }
    if (rc == CLI_EXIT_OK) {
        struct json_writer w;
        jw_init(&w, &c->text);
        emit_value(c, &w, j.keys[0], j.vals[0], false);
        if (c->a->json) {
            cli_json_done(c);
        }
        if (!reply_value(j.vals[0])) {
            rc = CLI_EXIT_NOTFOUND;
        }
    }
    read_job_free(&j);
    return rc;
}

int cmd_mget(struct cli_ctx *c)
{
    struct read_job j = {.table = c->pos[0], .keys = c->pos + 1,
                         .nkeys = c->npos - 1};
    int rc = check_table_arg(c, j.table);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (!(c->a->seen & CLI_OPT(VERSION)) && j.nkeys >= 2 &&
        strcasecmp(j.keys[j.nkeys - 2], "VERSION") == 0) {
        return cli_say(c, CLI_EXIT_USAGE,
                       "a key named %s cannot be second to last: the node "
                       "would read it as the VERSION option (reorder the "
                       "keys or give --version)", j.keys[j.nkeys - 2]);
    }
    rc = run_read(c, &j);
    if (rc == CLI_EXIT_OK) {
        struct json_writer w;
        jw_init(&w, &c->text);
        if (c->a->json) {
            jw_array_begin(&w);
        }
        for (size_t i = 0; i < j.nkeys; i++) {
            emit_value(c, &w, j.keys[i], j.vals[i], true);
            if (!reply_value(j.vals[i])) {
                rc = CLI_EXIT_NOTFOUND;
            }
        }
        if (c->a->json) {
            jw_array_end(&w);
            cli_json_done(c);
        }
    }
    read_job_free(&j);
    return rc;
}
