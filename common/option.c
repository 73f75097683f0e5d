/*
 * This file implements option tables: parsing values by type, command-line
 * arguments, Redis-style config files, the --help listing and the textual
 * form used by CONFIG GET.
 */
#include "option.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_uint(const char *s, uint64_t *out)
{
    if (*s == '\0' || !isdigit((unsigned char)*s)) {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

int option_parse_bytes(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1000},
        {"kb", 1024},
        {"m", 1000 * 1000},
        {"mb", 1024 * 1024},
        {"g", 1000ULL * 1000 * 1000},
        {"gb", 1024ULL * 1024 * 1024},
    };
    if (*s == '\0' || !isdigit((unsigned char)*s)) {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mul) {
                return -1;
            }
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* The index of `value` among the '|'-separated choices, or -1. */
static int choice_index(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    int idx = 0;
    const char *p = choices;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vlen && strncasecmp(p, value, len) == 0) {
            return idx;
        }
        if (bar == NULL) {
            return -1;
        }
        p = bar + 1;
        idx++;
    }
}

int option_set(struct option *o, const char *value, char *err, size_t errlen)
{
    uint64_t num = 0;
    switch (o->type) {
    case OPTION_BOOL:
        if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
            strcmp(value, "1") == 0) {
            num = 1;
        } else if (strcasecmp(value, "no") == 0 ||
                   strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            num = 0;
        } else {
            snprintf(err, errlen, "option '%s' takes yes or no, not '%s'",
                     o->name, value);
            return -1;
        }
        break;
    case OPTION_UINT:
        if (parse_uint(value, &num) != 0) {
            snprintf(err, errlen,
                     "option '%s' takes a non-negative integer, not '%s'",
                     o->name, value);
            return -1;
        }
        break;
    case OPTION_BYTES:
        if (option_parse_bytes(value, &num) != 0) {
            snprintf(err, errlen,
                     "option '%s' takes a size such as 100mb, not '%s'",
                     o->name, value);
            return -1;
        }
        break;
    case OPTION_ENUM: {
        int idx = choice_index(o->choices, value);
        if (idx < 0) {
            snprintf(err, errlen, "option '%s' takes one of %s, not '%s'",
                     o->name, o->choices, value);
            return -1;
        }
        num = (uint64_t)idx;
        break;
    }
    case OPTION_STR:
        break;
    }
    if (o->type == OPTION_STR || o->type == OPTION_ENUM) {
        char *copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (o->type == OPTION_ENUM) {
            for (char *c = copy; *c; c++) {
                *c = (char)tolower((unsigned char)*c);
            }
        }
        free(o->str);
        o->str = copy;
    }
    o->num = num;
    return 0;
}

int option_load_defaults(struct option *opts, size_t n)
{
    char err[256];
    for (size_t i = 0; i < n; i++) {
        if (option_set(&opts[i], opts[i].defval, err, sizeof(err)) != 0) {
            return -1;
        }
    }
    return 0;
}

void option_free(struct option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(opts[i].str);
        opts[i].str = NULL;
    }
}

struct option *option_find(struct option *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(opts[i].name, name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int option_parse_args(struct option *opts, size_t n, int argc, char **argv,
                      char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", arg);
            return -1;
        }
        char name[128];
        const char *value;
        const char *eq = strchr(arg + 2, '=');
        size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nlen >= sizeof(name)) {
            snprintf(err, errlen, "unknown option '%s'", arg);
            return -1;
        }
        memcpy(name, arg + 2, nlen);
        name[nlen] = '\0';
        struct option *o = option_find(opts, n, name);
        if (o == NULL) {
            snprintf(err, errlen, "unknown option '--%s' (see --help)", name);
            return -1;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "option '--%s' needs a value", name);
            return -1;
        }
        if (option_set(o, value, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Strips leading and trailing blanks in place; returns the new start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) {
        s[--len] = '\0';
    }
    return s;
}

int option_load_file(struct option *opts, size_t n, const char *path,
                     char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *name = s;
        while (*s && !isspace((unsigned char)*s)) {
            s++;
        }
        if (*s) {
            *s++ = '\0';
        }
        char *value = trim(s);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        struct option *o = option_find(opts, n, name);
        char why[256];
        if (o == NULL) {
            snprintf(err, errlen, "%s:%d: unknown option '%s'", path, lineno,
                     name);
            rc = -1;
        } else if (option_set(o, value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

void option_format(const struct option *o, char *out, size_t outlen)
{
    switch (o->type) {
    case OPTION_BOOL:
        snprintf(out, outlen, "%s", o->num ? "yes" : "no");
        break;
    case OPTION_UINT:
    case OPTION_BYTES:
        snprintf(out, outlen, "%llu", (unsigned long long)o->num);
        break;
    case OPTION_STR:
    case OPTION_ENUM:
        snprintf(out, outlen, "%s", o->str ? o->str : "");
        break;
    }
}

void option_print_help(const struct option *opts, size_t n, FILE *f)
{
    static const char *const type_names[] = {"yes|no", "N", "SIZE", "STR",
                                             NULL};
    for (size_t i = 0; i < n; i++) {
        const struct option *o = &opts[i];
        const char *arg = o->type == OPTION_ENUM ? o->choices
                                                 : type_names[o->type];
        fprintf(f, "  --%s %s\n      %s (default: %s)%s\n", o->name, arg,
                o->help, *o->defval ? o->defval : "\"\"",
                (o->flags & OPTION_RELOADABLE) ? " [CONFIG SET]" : "");
    }
}
