/*
 * This file implements the command-line parsing of the admin CLI declared
 * in cli_args.h: options anywhere, values checked and converted, the
 * membership URI resolved from option, environment and default.
 */
#include "cli_args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_OPTION_INFO(id, name, value, help) {name, value, help},
const struct cli_option_info cli_options[CLI_OPT_COUNT] = {
    CLI_OPTIONS(CLI_OPTION_INFO)};
#undef CLI_OPTION_INFO

/* Largest --timeout accepted: one hour. */
#define CLI_TIMEOUT_MAX_MS 3600000

/* Largest --wait accepted: one day. */
#define CLI_WAIT_MAX_S 86400

__attribute__((format(printf, 2, 3)))
static int usage_error(struct cli_args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* Parses a decimal unsigned integer (digits only) up to max. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* Stores the value of option `bit`. */
static int set_value(struct cli_args *a, int bit, const char *v)
{
    uint64_t n;
    switch (bit) {
    case CLI_OPT_BIT_MEMBERSHIP:
        if (v[0] == '\0') {
            return usage_error(a, "--membership needs a URI");
        }
        a->membership = v;
        return 0;
    case CLI_OPT_BIT_MIN_REPLICAS:
        if (!parse_uint(v, UINT32_MAX, &n)) {
            return usage_error(a, "--min-replicas: \"%s\" is not a number",
                               v);
        }
        a->min_replicas = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_WAIT:
        if (!parse_uint(v, CLI_WAIT_MAX_S, &n)) {
            return usage_error(a, "--wait: \"%s\" is not a number of "
                               "seconds (0 to %d)", v, CLI_WAIT_MAX_S);
        }
        a->wait_s = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_VERSION:
        if (!parse_uint(v, UINT64_MAX, &n) || n == 0) {
            return usage_error(a, "--version: \"%s\" is not a version "
                               "number", v);
        }
        a->version = n;
        return 0;
    case CLI_OPT_BIT_NODE:
        if (v[0] == '\0') {
            return usage_error(a, "--node needs an address IP:PORT");
        }
        a->node = v;
        return 0;
    case CLI_OPT_BIT_USER:
        if (v[0] == '\0') {
            return usage_error(a, "--user needs a user name");
        }
        a->user = v;
        return 0;
    case CLI_OPT_BIT_ZK_AUTH:
        if (strchr(v, ':') == NULL) {
            return usage_error(a, "--zk-auth wants USER:PASSWORD");
        }
        a->zk_auth = v;
        return 0;
    case CLI_OPT_BIT_PASSWORD_FILE:
        if (v[0] == '\0') {
            return usage_error(a, "--password-file needs a path");
        }
        a->password_file = v;
        return 0;
    case CLI_OPT_BIT_SAMPLE:
        if (!parse_uint(v, CLI_SAMPLE_MAX, &n)) {
            return usage_error(a, "--sample: \"%s\" is not a number (0 to "
                               "%d)", v, CLI_SAMPLE_MAX);
        }
        a->sample = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_SEEDS:
        if (v[0] == '\0') {
            return usage_error(a, "--seeds needs HOST:PORT[,HOST:PORT...]");
        }
        a->seeds = v;
        return 0;
    case CLI_OPT_BIT_ZONE:
        if (!cli_valid_table_name(v)) {
            return usage_error(a, "--zone: \"%s\" is not a zone name "
                               "([A-Za-z0-9_.-], 1 to 64)", v);
        }
        a->zone = v;
        return 0;
    case CLI_OPT_BIT_CAPACITY:
        if (!parse_uint(v, CLI_CAPACITY_MAX, &n) || n == 0) {
            return usage_error(a, "--capacity: \"%s\" is not a number (1 "
                               "to %d)", v, CLI_CAPACITY_MAX);
        }
        a->capacity = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_PARTITIONS:
        if (!parse_uint(v, CLI_PARTITIONS_MAX, &n) || n == 0) {
            return usage_error(a, "--partitions: \"%s\" is not a number (1 "
                               "to %u)", v, CLI_PARTITIONS_MAX);
        }
        a->partitions = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_REPLICATION:
        if (strcmp(v, "all") == 0) {
            a->replication = 0;
            return 0;
        }
        if (!parse_uint(v, CLI_REPLICATION_MAX, &n) || n == 0) {
            return usage_error(a, "--replication: \"%s\" is neither a "
                               "number (1 to %d) nor all", v,
                               CLI_REPLICATION_MAX);
        }
        a->replication = (uint32_t)n;
        return 0;
    case CLI_OPT_BIT_FALLBACK_KEY:
        if (strlen(v) >= 256) {
            return usage_error(a, "--fallback-key: longer than 255 bytes");
        }
        a->fallback_key = v;
        return 0;
    case CLI_OPT_BIT_MAX_AGE:
        if (!parse_uint(v, UINT32_MAX, &n)) {
            return usage_error(a, "--max-age: \"%s\" is not a number of "
                               "seconds", v);
        }
        a->max_age_s = n;
        return 0;
    case CLI_OPT_BIT_KIND:
        if (strcmp(v, "batch") != 0 && strcmp(v, "live") != 0) {
            return usage_error(a, "--kind: \"%s\" is neither batch nor "
                               "live", v);
        }
        a->kind_live = strcmp(v, "live") == 0;
        return 0;
    case CLI_OPT_BIT_TIMEOUT:
        if (!parse_uint(v, CLI_TIMEOUT_MAX_MS, &n) || n == 0) {
            return usage_error(a, "--timeout: \"%s\" is not a number of "
                               "milliseconds (1 to %d)", v,
                               CLI_TIMEOUT_MAX_MS);
        }
        a->timeout_ms = (int)n;
        return 0;
    default:
        return 0;
    }
}

/* Sets a flag option. */
static void set_flag(struct cli_args *a, int bit)
{
    if (bit == CLI_OPT_BIT_JSON) {
        a->json = true;
    } else if (bit == CLI_OPT_BIT_HELP) {
        a->help = true;
    } else if (bit == CLI_OPT_BIT_FORCE) {
        a->force = true;
    }
}

/* Handles argv[*i], which starts with "--"; may consume argv[*i + 1]. */
static int parse_option(struct cli_args *a, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t namelen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        const struct cli_option_info *o = &cli_options[bit];
        if (strlen(o->name) != namelen ||
            strncmp(o->name, arg, namelen) != 0) {
            continue;
        }
        if (a->seen & (1u << bit)) {
            return usage_error(a, "--%s given twice", o->name);
        }
        a->seen |= 1u << bit;
        if (o->value == NULL) {
            if (eq != NULL) {
                return usage_error(a, "--%s takes no value", o->name);
            }
            set_flag(a, bit);
            return 0;
        }
        const char *v;
        if (eq != NULL) {
            v = eq + 1;
        } else if (*i + 1 < argc) {
            v = argv[++*i];
        } else {
            return usage_error(a, "--%s needs a value (%s)", o->name,
                               o->value);
        }
        return set_value(a, bit, v);
    }
    return usage_error(a, "unknown option --%.*s", (int)namelen, arg);
}

int cli_args_parse(struct cli_args *a, int argc, char **argv,
                   const char *env_membership)
{
    memset(a, 0, sizeof(*a));
    a->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    a->sample = CLI_DEFAULT_SAMPLE;
    a->capacity = CLI_DEFAULT_CAPACITY;
    a->partitions = CLI_DEFAULT_PARTITIONS;
    a->pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*a->pos));
    if (a->pos == NULL) {
        return usage_error(a, "out of memory");
    }
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && strncmp(arg, "--", 2) == 0) {
            if (parse_option(a, argc, argv, &i) < 0) {
                return -1;
            }
            continue;
        }
        if (!options_done && strcmp(arg, "-h") == 0) {
            a->help = true;
            a->seen |= CLI_OPT(HELP);
            continue;
        }
        if (a->command == NULL) {
            a->command = arg;
        } else {
            a->pos[a->npos++] = arg;
        }
    }
    if (a->membership == NULL) {
        a->membership = env_membership != NULL && env_membership[0] != '\0'
                            ? env_membership
                            : CLI_DEFAULT_MEMBERSHIP;
    }
    return 0;
}

void cli_args_free(struct cli_args *a)
{
    free(a->pos);
    a->pos = NULL;
    a->npos = 0;
}

int cli_args_split_seeds(const char *list, char **out, size_t max,
                         size_t *n, char *err, size_t errlen)
{
    *n = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        const char *colon = memrchr(p, ':', len);
        uint64_t port = 0;
        char portbuf[8];
        size_t plen = colon != NULL ? len - (size_t)(colon - p) - 1 : 0;
        if (colon != NULL && plen > 0 && plen < sizeof(portbuf)) {
            memcpy(portbuf, colon + 1, plen);
            portbuf[plen] = '\0';
        } else {
            portbuf[0] = '\0';
        }
        const char *why = NULL;
        if (len == 0) {
            why = "an empty address";
        } else if (colon == NULL || colon == p ||
                   !parse_uint(portbuf, 65535, &port) || port == 0) {
            why = "not HOST:PORT (port 1 to 65535)";
        } else if (*n == max) {
            why = "too many addresses";
        }
        char *s = why == NULL ? strndup(p, len) : NULL;
        if (why == NULL && s == NULL) {
            why = "out of memory";
        }
        if (why != NULL) {
            snprintf(err, errlen, "--seeds: \"%.*s\": %s", (int)len, p, why);
            while (*n > 0) {
                free(out[--*n]);
            }
            return -1;
        }
        out[(*n)++] = s;
        p += len;
        if (*p == '\0') {
            return 0;
        }
    }
}

bool cli_valid_table_name(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
            return false;
        }
    }
    return n >= 1 && n <= 64;
}

int cli_args_parse_version(const char *s, uint64_t *version)
{
    uint64_t v;
    if (!parse_uint(s, UINT64_MAX, &v) || v == 0) {
        return -1;
    }
    *version = v;
    return 0;
}

int cli_args_parse_pair(const char *s, char *table, size_t tablelen,
                        uint64_t *version, char *err, size_t errlen)
{
    const char *eq = strrchr(s, '=');
    uint64_t v;
    if (eq == NULL || eq == s) {
        snprintf(err, errlen, "\"%s\" is not TABLE=VERSION", s);
        return -1;
    }
    if (!parse_uint(eq + 1, UINT64_MAX, &v) || v == 0) {
        snprintf(err, errlen, "\"%s\": \"%s\" is not a version number", s,
                 eq + 1);
        return -1;
    }
    size_t n = (size_t)(eq - s);
    if (n >= tablelen) {
        snprintf(err, errlen, "\"%s\": table name too long", s);
        return -1;
    }
    memcpy(table, s, n);
    table[n] = '\0';
    if (!cli_valid_table_name(table)) {
        snprintf(err, errlen, "\"%s\": \"%s\" is not a table name "
                 "([A-Za-z0-9_.-], 1 to 64)", s, table);
        return -1;
    }
    *version = v;
    return 0;
}
