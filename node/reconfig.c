/*
 * This file implements loading larderd's options and changing them at run
 * time (reconfig.h): the config-file-then-command-line order shared by
 * startup and SIGHUP, the application of the authentication options to
 * the user table, all or nothing, and the SIGHUP reload.
 */
#include "reconfig.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "command.h"
#include "log.h"
#include "server.h"

#define AUTH_OPTIONS 3 /* protected-mode, acl-file, requirepass */

int reconfig_load_options(struct node_options *opts, int argc, char **argv,
                          char *err, size_t errlen)
{
    struct option *table = (struct option *)opts;
    size_t n = OPTION_COUNT(*opts);
    if (option_parse_args(table, n, argc, argv, err, errlen) != 0) {
        return -1;
    }
    if (opts->config.str[0] == '\0') {
        return 0;
    }
    /* A copy: a "config" line in the file would replace opts->config. */
    char *path = strdup(opts->config.str);
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = option_load_file(table, n, path, err, errlen);
    free(path);
    if (rc != 0) {
        return -1;
    }
    return option_parse_args(table, n, argc, argv, err, errlen);
}

/* Overwrites a string that may hold a password, then frees it. */
static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static bool is_auth_option(const struct server *srv, const struct option *o)
{
    const struct node_options *n = srv->opts;
    return o == &n->protected_mode || o == &n->acl_file ||
           o == &n->requirepass;
}

/* The user table's configuration; requirepass only if it was just set
 * (otherwise it holds the current hash, which auth keeps itself). */
static struct auth_config auth_config_of(const struct node_options *o,
                                         bool pass_set)
{
    return (struct auth_config){
        .bind = o->bind.str,
        .protected_mode = o->protected_mode.num != 0,
        .requirepass = pass_set ? o->requirepass.str : NULL,
        .acl_file = o->acl_file.str,
        .iterations = o->hash_iterations.num > UINT32_MAX
                          ? 0
                          : (uint32_t)o->hash_iterations.num,
    };
}

/* Replaces requirepass's text, the password, by the hash auth keeps. */
static void conceal_requirepass(struct server *srv)
{
    struct option *o = &srv->opts->requirepass;
    char hash[AUTH_HASH_STR_MAX], why[64];
    auth_requirepass_format(srv->auth, hash, sizeof(hash));
    if (o->str != NULL) {
        explicit_bzero(o->str, strlen(o->str));
    }
    option_set(o, hash, why, sizeof(why)); /* on failure str stays wiped */
}

/*
 * Sets authentication options os[i] to values[i] and reloads the user
 * table; on any error every option is restored and the table kept.
 */
static int do_auth_apply(struct server *srv, struct option *const *os,
                         const char *const *values, size_t n, char *err,
                         size_t errlen)
{
    struct option saved[AUTH_OPTIONS];
    bool pass_set = false;
    size_t set = 0;
    int rc = 0;
    for (; set < n && set < AUTH_OPTIONS; set++) {
        saved[set] = *os[set];
        saved[set].str = os[set]->str ? strdup(os[set]->str) : NULL;
        if (os[set]->str != NULL && saved[set].str == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        if (option_set(os[set], values[set], err, errlen) != 0) {
            wipe_free(saved[set].str);
            rc = -1;
            break;
        }
        pass_set |= os[set] == &srv->opts->requirepass;
    }
    if (rc == 0) {
        struct auth_config cfg = auth_config_of(srv->opts, pass_set);
        rc = auth_reload(srv->auth, &cfg, err, errlen);
    }
    for (size_t i = 0; i < set; i++) {
        if (rc != 0) {
            wipe_free(os[i]->str);
            *os[i] = saved[i];
        } else {
            wipe_free(saved[i].str);
        }
    }
    if (rc == 0) {
        conceal_requirepass(srv);
    }
    return rc;
}

int reconfig_auth_setup(struct server *srv, char *err, size_t errlen)
{
    struct auth_config cfg = auth_config_of(srv->opts, true);
    if (auth_create(&cfg, &srv->auth, err, errlen) != 0) {
        return -1;
    }
    conceal_requirepass(srv);
    if (auth_required(srv->auth)) {
        log_notice("clients must authenticate (%s%s%s)",
                   srv->opts->requirepass.str[0] ? "requirepass" : "",
                   srv->opts->requirepass.str[0] &&
                           srv->opts->acl_file.str[0] ? ", " : "",
                   srv->opts->acl_file.str[0] ? srv->opts->acl_file.str : "");
    }
    return 0;
}

int do_reconfig_set(struct server *srv, struct option *o, const char *value,
                    char *err, size_t errlen)
{
    if (!is_auth_option(srv, o)) {
        return option_set(o, value, err, errlen);
    }
    if (do_auth_apply(srv, &o, &value, 1, err, errlen) != 0) {
        return -1;
    }
    log_notice("CONFIG SET %s: users reloaded", o->name);
    return 0;
}

/* Forgets a scratch option table, wiping the password it may hold. */
static void scratch_free(struct node_options *o)
{
    if (o->requirepass.str != NULL) {
        explicit_bzero(o->requirepass.str, strlen(o->requirepass.str));
    }
    option_free((struct option *)o, OPTION_COUNT(*o));
}

void reconfig_reload(struct server *srv)
{
    struct node_options fresh = {NODE_OPTIONS(OPTION_INIT)};
    struct option *now = (struct option *)&fresh;
    struct option *cur = (struct option *)srv->opts;
    size_t n = OPTION_COUNT(fresh);
    char err[512] = "a default value is bad";
    if (option_load_defaults(now, n) != 0 ||
        reconfig_load_options(&fresh, srv->argc, srv->argv, err,
                              sizeof(err)) != 0) {
        log_warning("SIGHUP: nothing reloaded: %s", err);
        scratch_free(&fresh);
        return;
    }
    struct option *auth_opts[AUTH_OPTIONS];
    const char *auth_values[AUTH_OPTIONS];
    char bools[AUTH_OPTIONS][8];
    size_t nauth = 0;
    pthread_mutex_lock(&srv->config_lock);
    for (size_t i = 0; i < n; i++) {
        if (is_auth_option(srv, &cur[i])) { /* applied together, below */
            if (nauth < AUTH_OPTIONS) {
                option_format(&now[i], bools[nauth], sizeof(bools[nauth]));
                auth_opts[nauth] = &cur[i];
                auth_values[nauth] = now[i].str ? now[i].str : bools[nauth];
                nauth++;
            }
            continue;
        }
        char was[256], will[256];
        option_format(&cur[i], was, sizeof(was));
        option_format(&now[i], will, sizeof(will));
        if (strcmp(was, will) == 0) {
            continue;
        } else if (!(cur[i].flags & OPTION_RELOADABLE)) {
            log_warning("SIGHUP: %s is now '%s' in the configuration; it "
                        "takes effect at the next start", cur[i].name, will);
        } else if (do_config_set(srv, cur[i].name, will, err,
                                 sizeof(err)) != 0) {
            log_warning("SIGHUP: %s not changed: %s", cur[i].name, err);
        } else {
            log_notice("SIGHUP: %s changed from '%s' to '%s'", cur[i].name,
                       was, will);
        }
    }
    if (do_auth_apply(srv, auth_opts, auth_values, nauth, err,
                      sizeof(err)) != 0) {
        log_warning("SIGHUP: users not reloaded, the previous ones stay: %s",
                    err);
    } else {
        log_notice("SIGHUP: users reloaded; clients %s authenticate",
                   auth_required(srv->auth) ? "must" : "need not");
    }
    pthread_mutex_unlock(&srv->config_lock);
    scratch_free(&fresh);
}
