/*
 * This file implements the helpers of cli_ctx.h that every command of the
 * admin CLI shares: messages, the membership handle, authenticated node
 * connections, and loading the cluster view from the membership or from a
 * seed node's LARDER.VIEW.
 */
#include "cli_ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_writer.h"

int cli_say(struct cli_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    fputs("larder: ", c->err);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fputc('\n', c->err);
    return code;
}

int cli_memb_exit(enum memb_status st)
{
    return st == MEMB_ERR ? CLI_EXIT_UNREACHABLE : CLI_EXIT_NOTFOUND;
}

int cli_open_membership(struct cli_ctx *c)
{
    if (c->m != NULL) {
        return CLI_EXIT_OK;
    }
    const char *uri = c->a->membership;
    if (strncmp(uri, "local:", 6) == 0) {
        struct stat st;
        if (stat(uri + 6, &st) != 0 || !S_ISDIR(st.st_mode)) {
            return cli_say(c, CLI_EXIT_UNREACHABLE,
                           "cannot open membership %s: no such directory %s "
                           "(set --membership or LARDER_MEMBERSHIP)",
                           uri, uri + 6);
        }
    }
    char err[512] = "";
    enum memb_status st = membership_open(uri, &c->m, err, sizeof(err));
    if (st != MEMB_OK) {
        c->m = NULL;
        return cli_say(c, CLI_EXIT_UNREACHABLE,
                       "cannot open membership %s: %s", uri,
                       err[0] ? err : memb_status_name(st));
    }
    return CLI_EXIT_OK;
}

int cli_memb_failed(struct cli_ctx *c, enum memb_status st, const char *what)
{
    return cli_say(c, cli_memb_exit(st), "%s: %s", what,
                   st == MEMB_ERR || st == MEMB_INVALID
                       ? membership_error(c->m)
                       : memb_status_name(st));
}

int cli_emit_table(struct cli_ctx *c, struct text_table *t)
{
    bool ok = text_table_render(t, &c->text);
    text_table_deinit(t);
    return ok ? CLI_EXIT_OK : cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
}

void cli_json_done(struct cli_ctx *c)
{
    buf_append(&c->text, "\n", 1);
}

/* ---- node connections ---------------------------------------------------- */

/* Longest password read from --password-file or $LARDER_PASSWORD. */
#define CLI_PASSWORD_MAX 512

/*
 * The password to AUTH with, into pw: the first line of --password-file,
 * else $LARDER_PASSWORD, else none (pw = ""). A password is never taken
 * from the command line, where other users of the machine could read it.
 */
static int read_password(struct cli_ctx *c, char *pw, size_t pwlen)
{
    pw[0] = '\0';
    if (c->a->password_file == NULL) {
        if (c->a->env_password != NULL) {
            if (strlen(c->a->env_password) >= pwlen) {
                return cli_say(c, CLI_EXIT_USAGE, "$LARDER_PASSWORD is "
                               "longer than %zu bytes", pwlen - 1);
            }
            snprintf(pw, pwlen, "%s", c->a->env_password);
        }
        return CLI_EXIT_OK;
    }
    FILE *f = fopen(c->a->password_file, "r");
    if (f == NULL) {
        return cli_say(c, CLI_EXIT_USAGE, "--password-file %s: %s",
                       c->a->password_file, strerror(errno));
    }
    bool got = fgets(pw, (int)pwlen, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(pw, "\r\n") : 0;
    if (!got || n == 0) {
        return cli_say(c, CLI_EXIT_USAGE, "--password-file %s is empty",
                       c->a->password_file);
    }
    if (pw[n] == '\0' && n == pwlen - 1) {
        return cli_say(c, CLI_EXIT_USAGE, "--password-file %s: the password "
                       "is longer than %zu bytes", c->a->password_file,
                       pwlen - 1);
    }
    pw[n] = '\0';
    return CLI_EXIT_OK;
}

/*
 * Authenticates a fresh connection when a password was given (AUTH pw, or
 * AUTH user pw with --user); closes it and says why on failure.
 */
static int authenticate(struct cli_ctx *c, struct resp_client **cl)
{
    char pw[CLI_PASSWORD_MAX + 1];
    int rc = read_password(c, pw, sizeof(pw));
    if (rc != CLI_EXIT_OK || pw[0] == '\0') {
        if (rc == CLI_EXIT_OK && c->a->user != NULL) {
            rc = cli_say(c, CLI_EXIT_USAGE, "--user needs a password: "
                         "--password-file or $LARDER_PASSWORD");
        }
        if (rc != CLI_EXIT_OK) {
            resp_client_close(cl);
        }
        return rc;
    }
    const char *argv[3] = {"AUTH"};
    int argc = 1;
    if (c->a->user != NULL) {
        argv[argc++] = c->a->user;
    }
    argv[argc++] = pw;
    struct resp_reply *r = NULL;
    char err[512] = "";
    enum resp_client_status st =
        resp_client_command(*cl, argc, argv, NULL, &r, err, sizeof(err));
    explicit_bzero(pw, sizeof(pw));
    if (st != RESP_CLIENT_OK) {
        resp_client_close(cl);
        return cli_say(c, CLI_EXIT_UNREACHABLE, "AUTH: %s", err);
    }
    if (r->type == RESP_REPLY_ERRORMSG) {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s refused AUTH%s%s: %.*s",
                     resp_client_peer(*cl), c->a->user ? " as " : "",
                     c->a->user ? c->a->user : "", (int)r->len, r->str);
        resp_client_close(cl);
    }
    resp_reply_free(r);
    return rc;
}

int cli_connect(struct cli_ctx *c, const char *addr, bool quiet,
                struct resp_client **out, char *why, size_t whylen)
{
    why[0] = '\0';
    if (resp_client_connect_addr(addr, c->a->timeout_ms, out, why, whylen) !=
        RESP_CLIENT_OK) {
        return quiet ? CLI_EXIT_UNREACHABLE
                     : cli_say(c, CLI_EXIT_UNREACHABLE, "%s", why);
    }
    return authenticate(c, out);
}

/* ---- the cluster view ---------------------------------------------------- */

/*
 * Asks the node at addr for LARDER.VIEW: *reply is its bulk reply (the
 * caller frees it). Returns an exit code; failures are left in why
 * (quiet), so the caller can try another node.
 */
static int fetch_view(struct cli_ctx *c, const char *addr,
                      struct resp_reply **reply, char *why, size_t whylen)
{
    *reply = NULL;
    struct resp_client *cl = NULL;
    int rc = cli_connect(c, addr, true, &cl, why, whylen);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *argv[] = {"LARDER.VIEW"};
    struct resp_reply *r = NULL;
    if (resp_client_command(cl, 1, argv, NULL, &r, why, whylen) !=
        RESP_CLIENT_OK) {
        rc = CLI_EXIT_UNREACHABLE;
    } else if (r->type == RESP_REPLY_ERRORMSG) {
        snprintf(why, whylen, "%s: %.*s", addr, (int)r->len, r->str);
        rc = CLI_EXIT_NOTFOUND;
    } else if (r->type != RESP_REPLY_BULK &&
               r->type != RESP_REPLY_VERBATIM) {
        snprintf(why, whylen, "%s: unexpected %s reply to LARDER.VIEW", addr,
                 resp_reply_type_name(r->type));
        rc = CLI_EXIT_NOTFOUND;
    } else {
        *reply = r;
        r = NULL;
    }
    resp_reply_free(r);
    resp_client_close(&cl);
    return rc;
}

/* Fills v from one seed's LARDER.VIEW; an exit code, failures in why. */
static int view_from_seed(struct cli_ctx *c, const char *seed,
                          struct cluster_view *v, char *why, size_t whylen)
{
    struct resp_reply *r = NULL;
    int rc = fetch_view(c, seed, &r, why, whylen);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    char src[MEMB_URI_MAX], err[512];
    snprintf(src, sizeof(src), "%s (LARDER.VIEW)", seed);
    if (cluster_view_from_json(r->str, r->len, src, v, err, sizeof(err)) !=
        0) {
        snprintf(why, whylen, "%s: LARDER.VIEW: %s", seed, err);
        cluster_view_free(v);
        rc = CLI_EXIT_NOTFOUND;
    }
    resp_reply_free(r);
    return rc;
}

/*
 * When the seed's readiness is only its own, asks every other live node
 * for its view and adds its readiness; a node that does not answer counts
 * as holding nothing (and is named on stderr).
 */
static void complete_readiness(struct cli_ctx *c, struct cluster_view *v)
{
    for (size_t i = 0; v->ready_partial && i < v->nnodes; i++) {
        const struct cluster_node *n = &v->nodes[i];
        if (!n->member || !n->live || n->addr[0] == '\0' ||
            cluster_view_ready_counted(v, n->id)) {
            continue;
        }
        struct resp_reply *r = NULL;
        char why[512] = "", err[512] = "";
        if (fetch_view(c, n->addr, &r, why, sizeof(why)) != CLI_EXIT_OK ||
            cluster_view_merge_ready(v, r->str, r->len, err,
                                     sizeof(err)) != 0) {
            cli_say(c, CLI_EXIT_OK, "readiness of node %s unknown: %s", n->id,
                    why[0] ? why : err);
        }
        resp_reply_free(r);
    }
}

/* Shuffles a[0, n) (Fisher-Yates, seeded from the clock and the pid). */
static void shuffle(char **a, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned seed = (unsigned)ts.tv_nsec ^ (unsigned)getpid();
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand_r(&seed) % i;
        char *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int view_from_seeds(struct cli_ctx *c, struct cluster_view *v,
                           bool health)
{
    char *seeds[CLI_SEEDS_MAX];
    size_t n = 0;
    char why[1024] = "";
    if (cli_args_split_seeds(c->a->seeds, seeds, CLI_SEEDS_MAX, &n, why,
                             sizeof(why)) != 0) {
        return cli_say(c, CLI_EXIT_USAGE, "%s", why);
    }
    shuffle(seeds, n);
    int rc = CLI_EXIT_UNREACHABLE;
    for (size_t i = 0; i < n; i++) {
        rc = view_from_seed(c, seeds[i], v, why, sizeof(why));
        if (rc == CLI_EXIT_OK || rc == CLI_EXIT_USAGE) {
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(seeds[i]);
    }
    if (rc != CLI_EXIT_OK && rc != CLI_EXIT_USAGE) {
        return cli_say(c, rc, "no seed answered LARDER.VIEW (%zu tried); "
                       "last: %s", n, why);
    }
    if (rc == CLI_EXIT_OK && health) {
        complete_readiness(c, v);
    }
    return rc;
}

int cli_load_view(struct cli_ctx *c, struct cluster_view *v,
                  bool health)
{
    memset(v, 0, sizeof(*v));
    if (c->a->seeds != NULL) {
        return view_from_seeds(c, v, health);
    }
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    char err[1024] = "";
    enum memb_status st = cluster_view_from_membership(
        c->m, c->a->membership, health, v, err, sizeof(err));
    if (st != MEMB_OK) {
        return cli_say(c, cli_memb_exit(st), "%s", err);
    }
    return CLI_EXIT_OK;
}
