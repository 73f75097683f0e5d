/*
 * resp.h: a pure, incremental parser for Redis protocol (RESP2) requests.
 *
 * The parser does no I/O and never copies arguments out of the caller's
 * buffer: the caller keeps the bytes of the request being parsed in one
 * contiguous, writable buffer that starts at the request's first byte, and
 * calls resp_parse() again with the same start and a longer length whenever
 * more bytes arrive. The parser remembers how far it got, so a request split
 * at any byte costs no rescanning, and arguments are returned as offsets from
 * the request start (so the caller may move the buffer between calls as long
 * as the request start moves with it).
 *
 * Both request forms Redis accepts are handled: multibulk arrays
 * (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands (`GET k\r\n`, as
 * typed into telnet). Every limit is checked before anything is allocated:
 * a `$2147483648` header is refused as soon as its line is complete.
 * Multibulk arguments are slices of the caller's bytes. Inline arguments are
 * quoted and unescaped as Redis's sdssplitargs() does them (`"a\nb"`,
 * `'it\'s'`, `key"with space"`); an argument whose decoded form differs from
 * its bytes is decoded in place, over its own bytes, which is why the buffer
 * is writable.
 */
#ifndef LARDER_RESP_H
#define LARDER_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Results of resp_parse(). */
enum resp_status {
    RESP_OK = 0,   /* one whole request parsed; see resp_parser.argv */
    RESP_AGAIN,    /* the request is incomplete: call again with more bytes */
    RESP_EPROTO,   /* malformed or over a limit: resp_parser.err says why */
};

/* Limits applied while parsing; see resp_limits_default(). */
struct resp_limits {
    size_t max_bulk_len;   /* largest $N argument (default 512 MiB) */
    size_t max_array_len;  /* largest *N argument count (default 1M) */
    size_t max_inline_len; /* longest inline command line (default 64 KiB) */
};

/* One argument: bytes [off, off + len) from the request's first byte. */
struct resp_arg {
    size_t off;
    size_t len;
};

struct resp_parser {
    struct resp_limits limits;
    /* Result of the last RESP_OK: argc arguments (owned by the parser). */
    struct resp_arg *argv;
    size_t argc;
    size_t argv_cap;
    /* Progress through the current request (private). */
    int state;
    size_t pos;          /* bytes of the request examined so far */
    size_t line;         /* offset of the header line being read */
    int64_t multibulk;   /* arguments still expected */
    int64_t bulk;        /* length of the bulk being read, -1 if none */
    /* Set on RESP_EPROTO: a message suitable for "-ERR <err>". */
    char err[128];
};

/* The defaults documented above. */
struct resp_limits resp_limits_default(void);

/* Prepares a parser; the limits are copied (NULL: the defaults). Never
 * fails: nothing is allocated until the first request arrives. */
void resp_parser_init(struct resp_parser *p, const struct resp_limits *limits);

/* Frees what the parser owns. The parser may be initialised again. */
void resp_parser_deinit(struct resp_parser *p);

/*
 * Parses one request from buf[0, len), where buf[0] is the first byte of the
 * request (already partly parsed if the last call returned RESP_AGAIN).
 * On RESP_OK, *used is the request's length in bytes, p->argc/p->argv hold
 * its arguments (valid until the next call), and the parser is reset for the
 * next request, which starts at buf + *used. On RESP_AGAIN, *used is 0 and
 * resp_parser_want() says how many bytes are needed at least. On RESP_EPROTO
 * the connection cannot be resynchronised: reply with an error and close.
 * Empty inline lines are skipped: they yield RESP_OK with argc == 0.
 *
 * The buffer is borrowed, and written to only by a call that returns RESP_OK
 * for an inline request with escapes or quotes joined to a word: that call
 * may rewrite bytes of buf[0, *used) (those of the arguments it decodes), and
 * no other byte. Multibulk requests, bytes after *used, and the buffer on
 * RESP_AGAIN or RESP_EPROTO are left untouched.
 */
enum resp_status resp_parse(struct resp_parser *p, char *buf, size_t len,
                            size_t *used);

/*
 * The smallest total length of the request's buffer at which the next call
 * can make progress (for sizing a read buffer before a large bulk arrives).
 */
size_t resp_parser_want(const struct resp_parser *p);

/* Forgets any partly parsed request. */
void resp_parser_reset(struct resp_parser *p);

#endif
