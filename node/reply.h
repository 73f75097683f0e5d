/*
 * reply.h: encodes RESP2 and RESP3 replies into a connection's output
 * buffer. Each function appends one value (or one aggregate header) in the
 * protocol version the client chose with HELLO; callers never write
 * protocol bytes themselves.
 */
#ifndef LARDER_REPLY_H
#define LARDER_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct reply {
    struct buf *out;
    int proto; /* 2 or 3 */
};

/* +OK and friends: s must not contain CR or LF. */
void reply_status(struct reply *r, const char *s);

/* An error; msg starts with the code word ("ERR ...", "OOM ..."). */
void reply_error(struct reply *r, const char *msg);

/* printf-style error. */
void reply_errorf(struct reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void reply_int(struct reply *r, long long v);
void reply_bulk(struct reply *r, const char *p, size_t len);
void reply_bulk_str(struct reply *r, const char *s);

/* Null: $-1 in RESP2, _ in RESP3. */
void reply_null(struct reply *r);

/* Aggregate headers; the caller then appends n (map: 2n) values. */
void reply_array(struct reply *r, size_t n);
void reply_map(struct reply *r, size_t n);

/*
 * An attribute header (RESP3 `|n`): n key-value pairs the caller appends,
 * describing the reply that follows them. RESP2 has no attributes:
 * reply_attribute() returns false and writes nothing, and the caller then
 * writes no pairs.
 */
bool reply_attribute(struct reply *r, size_t n);

/* A block of text: a bulk string in RESP2, a verbatim string in RESP3. */
void reply_verbatim(struct reply *r, const char *p, size_t len);

#endif
