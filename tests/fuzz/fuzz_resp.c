/*
 * This file implements the fuzz target of the RESP request parser
 * (common/resp.c). An input is a stream of pipelined requests, parsed
 * twice with the same limits:
 *
 *   - whole: all bytes at once, request after request;
 *   - split: first only the bytes before a split point chosen from the
 *     input (its first and last byte), then, once the parser asks for
 *     more, all of them, the partly parsed request moving to a new buffer
 *     (which resp.h allows as long as its start moves with it).
 *
 * Both runs must report the same requests, arguments, final status and
 * message (compared as transcripts). Each call gets a heap buffer holding
 * exactly the visible bytes, so AddressSanitizer catches a read past
 * them, and the buffer is writable, as resp_parse() requires. Checked on
 * every call, from resp.h's contract: *used is within the buffer and is
 * 0 unless RESP_OK; arguments lie inside the request; no byte after the
 * request changes, nor any byte of a multibulk request or of a call that
 * did not return RESP_OK; RESP_AGAIN asks for more than it was given;
 * RESP_EPROTO says why. Every parsed request, re-encoded as a multibulk
 * array, must parse back to the same arguments.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "resp.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so that inputs of a few KB reach every limit check. */
static const struct resp_limits fuzz_limits = {
    .max_bulk_len = 1024,
    .max_array_len = 128,
    .max_inline_len = 512,
};

/* One run over the input. */
struct run {
    struct resp_parser p;
    struct transcript t;
    size_t start; /* input offset of the request being parsed */
};

/*
 * Encodes argv (whose bytes are in req) as a multibulk array, parses it
 * with a fresh parser and checks that the same arguments come back.
 */
static void check_reencoded(const struct resp_parser *p, const char *req)
{
    size_t cap = 32;
    for (size_t i = 0; i < p->argc; i++) {
        cap += p->argv[i].len + 32;
    }
    char *enc = malloc(cap);
    CHECK(enc != NULL);
    size_t n = (size_t)snprintf(enc, cap, "*%zu\r\n", p->argc);
    for (size_t i = 0; i < p->argc; i++) {
        n += (size_t)snprintf(enc + n, cap - n, "$%zu\r\n", p->argv[i].len);
        memcpy(enc + n, req + p->argv[i].off, p->argv[i].len);
        n += p->argv[i].len;
        memcpy(enc + n, "\r\n", 2);
        n += 2;
    }
    struct resp_parser q;
    resp_parser_init(&q, &fuzz_limits);
    size_t used = 0;
    CHECK(resp_parse(&q, enc, n, &used) == RESP_OK);
    CHECK(used == n);
    CHECK(q.argc == p->argc);
    for (size_t i = 0; i < q.argc; i++) {
        CHECK(q.argv[i].len == p->argv[i].len);
        CHECK(memcmp(enc + q.argv[i].off, req + p->argv[i].off,
                     q.argv[i].len) == 0);
    }
    resp_parser_deinit(&q);
    free(enc);
}

/*
 * Parses requests from r->start on while the input's first `visible`
 * bytes suffice, in a fresh buffer holding input[r->start, visible).
 * Returns RESP_AGAIN (more bytes needed) or RESP_EPROTO.
 */
static enum resp_status run_feed(struct run *r, const uint8_t *data,
                                 size_t visible)
{
    size_t base = r->start;
    size_t n = visible - base;
    char *buf = malloc(n > 0 ? n : 1);
    CHECK(buf != NULL);
    memcpy(buf, data + base, n);
    for (;;) {
        size_t off = r->start - base;
        size_t len = n - off;
        const char *orig = (const char *)data + r->start;
        size_t used = SIZE_MAX;
        enum resp_status st = resp_parse(&r->p, buf + off, len, &used);
        if (st != RESP_OK) {
            CHECK(used == 0);
            CHECK(memcmp(buf + off, orig, len) == 0);
            if (st == RESP_AGAIN) {
                CHECK(resp_parser_want(&r->p) > len);
            } else {
                CHECK(st == RESP_EPROTO);
                CHECK(r->p.err[0] != '\0');
            }
            free(buf);
            return st;
        }
        CHECK(used > 0 && used <= len);
        CHECK(memcmp(buf + off + used, orig + used, len - used) == 0);
        if (orig[0] == '*') {
            CHECK(memcmp(buf + off, orig, used) == 0);
        }
        transcript_u64(&r->t, RESP_OK);
        transcript_u64(&r->t, used);
        transcript_u64(&r->t, r->p.argc);
        for (size_t i = 0; i < r->p.argc; i++) {
            const struct resp_arg *a = &r->p.argv[i];
            CHECK(a->off <= used && a->len <= used - a->off);
            transcript_str(&r->t, buf + off + a->off, a->len);
        }
        check_reencoded(&r->p, buf + off);
        r->start += used;
    }
}

/* Records how a run ended. */
static void run_end(struct run *r, enum resp_status st)
{
    transcript_u64(&r->t, st);
    transcript_u64(&r->t, r->start);
    if (st == RESP_AGAIN) {
        transcript_u64(&r->t, resp_parser_want(&r->p));
    } else {
        transcript_str(&r->t, r->p.err, strlen(r->p.err));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run whole = {0};
    resp_parser_init(&whole.p, &fuzz_limits);
    run_end(&whole, run_feed(&whole, data, size));

    size_t split = 0;
    if (size > 0) {
        split = ((size_t)data[0] | (size_t)data[size - 1] << 8) % (size + 1);
    }
    struct run part = {0};
    resp_parser_init(&part.p, &fuzz_limits);
    enum resp_status st = run_feed(&part, data, split);
    if (st == RESP_AGAIN) {
        st = run_feed(&part, data, size);
    }
    run_end(&part, st);

    transcript_expect_equal(&whole.t, &part.t, "whole vs split");
    transcript_clear(&whole.t);
    transcript_clear(&part.t);
    resp_parser_deinit(&whole.p);
    resp_parser_deinit(&part.p);
    return 0;
}
