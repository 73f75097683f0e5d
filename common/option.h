/*
 * option.h: options declared once, as an X-macro table, and used for
 * command-line parsing, config files, --help and CONFIG GET/SET.
 *
 * A module declares its options like this:
 *
 *   #define NODE_OPTIONS(X)                                              \
 *       X(port, "port", OPTION_UINT, "7379", NULL, 0, "TCP port")        \
 *       X(bind, "bind", OPTION_STR, "127.0.0.1", NULL, 0, "address")
 *   struct node_options { NODE_OPTIONS(OPTION_DECLARE) };
 *   struct node_options opts = { NODE_OPTIONS(OPTION_INIT) };
 *
 * and hands (struct option *)&opts with OPTION_COUNT(opts) to the functions
 * below. Values are kept parsed (num) and, for strings and enums, as an
 * owned copy (str).
 */
#ifndef LARDER_OPTION_H
#define LARDER_OPTION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum option_type {
    OPTION_BOOL,  /* yes/no (also true/false, 1/0) */
    OPTION_UINT,  /* a non-negative integer */
    OPTION_BYTES, /* a size: 100, 10kb, 64mb, 1gb (k/m/g are powers of 10) */
    OPTION_STR,   /* any string */
    OPTION_ENUM,  /* one of the '|'-separated choices; num is its index */
};

/* Flag: the option may be changed at run time (CONFIG SET). */
#define OPTION_RELOADABLE 0x1u

struct option {
    const char *name;
    enum option_type type;
    const char *defval;
    const char *choices;
    unsigned flags;
    const char *help;
    uint64_t num; /* BOOL, UINT, BYTES, ENUM */
    char *str;    /* STR and ENUM: owned copy of the value */
};

#define OPTION_DECLARE(id, name, type, def, choices, flags, help) \
    struct option id;
#define OPTION_INIT(id, nm, ty, def, ch, fl, hp) \
    .id = {.name = nm, .type = ty, .defval = def, .choices = ch, .flags = fl, \
           .help = hp},
#define OPTION_COUNT(opts) (sizeof(opts) / sizeof(struct option))

/* Sets every option to its default. Returns 0, or -1 if a default is bad. */
int option_load_defaults(struct option *opts, size_t n);

/* Frees the owned strings. */
void option_free(struct option *opts, size_t n);

/* The option called `name`, or NULL. */
struct option *option_find(struct option *opts, size_t n, const char *name);

/*
 * Parses `value` into o. On error returns -1 and writes a message into err
 * (and o keeps its previous value).
 */
int option_set(struct option *o, const char *value, char *err, size_t errlen);

/*
 * Applies "--name value" and "--name=value" arguments (argv[1..argc)).
 * Returns 0, or -1 with a message in err for an unknown option, a missing
 * value or a bad value.
 */
int option_parse_args(struct option *opts, size_t n, int argc, char **argv,
                      char *err, size_t errlen);

/*
 * Applies a config file of "name value" lines ('#' starts a comment; the
 * value may be double-quoted). Returns 0 or -1 with "file:line: why" in err.
 */
int option_load_file(struct option *opts, size_t n, const char *path,
                     char *err, size_t errlen);

/* Writes the value as CONFIG GET shows it (sizes in plain bytes). */
void option_format(const struct option *o, char *out, size_t outlen);

/* Writes --help text: one entry per option with its default. */
void option_print_help(const struct option *opts, size_t n, FILE *f);

/* Parses a size such as "64mb"; -1 on error. */
int option_parse_bytes(const char *s, uint64_t *out);

#endif
