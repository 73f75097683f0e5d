/*
 * test_pieces.h: a byte source that hands out its data in small pieces of
 * 1 to 4,099 bytes, as an HTTP body arrives, in the read(2) shape of
 * store_read_fn. Header only, for the test programs of every component.
 */
#ifndef LARDER_TEST_PIECES_H
#define LARDER_TEST_PIECES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

struct test_pieces {
    const uint8_t *data; /* borrowed */
    size_t len;
    size_t pos;
    size_t reads; /* calls so far */
};

/* Copies the next piece (at most len bytes) into buf; 0 at the end. */
static inline ssize_t test_pieces_read(void *src, void *buf, size_t len,
                                       char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct test_pieces *p = src;
    size_t n = 1 + (p->reads++ * 7919) % 4099;
    if (n > len) {
        n = len;
    }
    if (n > p->len - p->pos) {
        n = p->len - p->pos;
    }
    memcpy(buf, p->data + p->pos, n);
    p->pos += n;
    return (ssize_t)n;
}

#endif
