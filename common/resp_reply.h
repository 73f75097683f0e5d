/*
 * resp_reply.h: a pure, incremental parser for Redis protocol *replies*
 * (RESP2 and RESP3), the client side of the codec in resp.h.
 *
 * The parser does no I/O. The caller keeps the bytes of the reply being
 * parsed in one contiguous buffer that starts at the reply's first byte and
 * calls resp_reply_parse() again with the same start and a longer length
 * whenever more bytes arrive; the parser remembers how far it got, so a reply
 * split at any byte is scanned once. Finished strings are copied into the
 * reply tree, so the buffer is only borrowed for the duration of a call and
 * may move between calls.
 *
 * Every RESP2 and RESP3 type is understood: simple strings (+), errors (-
 * and the blob error !), integers (:), bulk strings ($), nulls ($-1, *-1, _),
 * arrays (*), maps (%), sets (~), doubles (,), booleans (#), verbatim
 * strings (=), big numbers ((), and push messages (>). Attributes (|) are
 * parsed, checked against the limits and dropped: the reply returned is the
 * one they annotate. Streamed strings and aggregates ($?, *?) are refused:
 * no Redis server sends them.
 *
 * Limits (nesting depth, bulk length, elements of one aggregate, header line
 * length) are checked as soon as the header that would exceed them is
 * complete, before anything is allocated for it; element arrays grow with
 * the elements that actually arrive, never with what a header claims.
 */
#ifndef LARDER_RESP_REPLY_H
#define LARDER_RESP_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* Results of resp_reply_parse(). */
enum resp_reply_status {
    RESP_REPLY_OK = 0,    /* one whole reply parsed */
    RESP_REPLY_NEED_MORE, /* incomplete: call again with more bytes */
    RESP_REPLY_ERROR,     /* malformed, over a limit or out of memory */
};

enum resp_reply_type {
    RESP_REPLY_STATUS = 0, /* +OK                  str/len */
    RESP_REPLY_ERRORMSG,   /* -ERR x, !<n> blob     str/len */
    RESP_REPLY_INTEGER,    /* :42                  integer */
    RESP_REPLY_BULK,       /* $3 abc               str/len */
    RESP_REPLY_NULL,       /* $-1, *-1, _          (nothing) */
    RESP_REPLY_ARRAY,      /* *n                   elements/element */
    RESP_REPLY_MAP,        /* %n: 2n elements, key then value */
    RESP_REPLY_SET,        /* ~n                   elements/element */
    RESP_REPLY_DOUBLE,     /* ,3.5 ,inf ,nan       dval, and str/len */
    RESP_REPLY_BOOL,       /* #t #f                integer (1 or 0) */
    RESP_REPLY_VERBATIM,   /* =n txt:...           format, str/len */
    RESP_REPLY_BIGNUM,     /* (123...              str/len (the digits) */
    RESP_REPLY_PUSH,       /* >n                   elements/element */
};

/*
 * One node of a reply tree. Owned by whoever the parser handed the root to;
 * free the whole tree with resp_reply_free(). Strings are NUL-terminated
 * copies (len excludes the NUL, and may contain NUL bytes).
 */
struct resp_reply {
    enum resp_reply_type type;
    int64_t integer;
    double dval;
    char *str;
    size_t len;
    char format[4];                /* VERBATIM: e.g. "txt" */
    size_t elements;               /* MAP: twice the number of pairs */
    struct resp_reply **element;
};

/* Limits applied while parsing; see resp_reply_limits_default(). */
struct resp_reply_limits {
    size_t max_depth;    /* nesting of aggregates (default 32, at most 128) */
    size_t max_bulk;     /* longest $ = ! string (default 512 MiB) */
    size_t max_elements; /* elements of one aggregate (default 16M; a map's
                            pairs count twice) */
    size_t max_line;     /* longest header or simple line (default 1 MiB) */
};

/* Deepest nesting resp_reply_limits.max_depth may ask for. */
#define RESP_REPLY_DEPTH_CAP 128

struct resp_reply_frame {
    struct resp_reply *agg; /* the aggregate being filled (borrowed) */
    size_t want;            /* elements it still expects */
    size_t cap;             /* slots allocated in agg->element */
    int attribute;          /* 1: an attribute, owned here, dropped at end */
};

struct resp_reply_parser {
    struct resp_reply_limits limits;
    /* Progress through the current reply (private). */
    struct resp_reply *root;        /* owned until returned */
    struct resp_reply_frame stack[RESP_REPLY_DEPTH_CAP];
    size_t depth;
    size_t pos;       /* bytes of the reply consumed so far */
    size_t scan;      /* where the search for the next '\n' resumes */
    int blob_type;    /* type byte of a blob whose data is awaited, or 0 */
    size_t blob_len;
    int failed;
    /* Set on RESP_REPLY_ERROR: what was wrong. */
    char err[128];
};

/* The defaults documented above. */
struct resp_reply_limits resp_reply_limits_default(void);

/*
 * Prepares a parser; the limits are copied (NULL: the defaults; a max_depth
 * above RESP_REPLY_DEPTH_CAP is lowered to it). Allocates nothing.
 */
void resp_reply_parser_init(struct resp_reply_parser *p,
                            const struct resp_reply_limits *limits);

/* Frees a partly parsed reply. The parser may be initialised again. */
void resp_reply_parser_deinit(struct resp_reply_parser *p);

/* Forgets any partly parsed reply (and a previous error). */
void resp_reply_parser_reset(struct resp_reply_parser *p);

/*
 * Parses one reply from buf[0, len), where buf[0] is the reply's first byte
 * (already partly parsed if the last call returned RESP_REPLY_NEED_MORE).
 * On RESP_REPLY_OK, *out is the reply (the caller owns it: free it with
 * resp_reply_free()), *used its length in bytes, and the parser is ready for
 * the next reply, which starts at buf + *used. On NEED_MORE, *used is 0 and
 * resp_reply_parser_want() says how long the buffer must get at least. On
 * RESP_REPLY_ERROR, p->err says why and the stream cannot be resynchronised;
 * every further call fails until resp_reply_parser_reset().
 */
enum resp_reply_status resp_reply_parse(struct resp_reply_parser *p,
                                        const char *buf, size_t len,
                                        size_t *used,
                                        struct resp_reply **out);

/* The smallest buffer length at which the next call can make progress. */
size_t resp_reply_parser_want(const struct resp_reply_parser *p);

/* Frees a reply tree; NULL is ignored. */
void resp_reply_free(struct resp_reply *r);

/* The type's name as RESP3 documents it ("bulk", "map", ...). */
const char *resp_reply_type_name(enum resp_reply_type t);

#endif
