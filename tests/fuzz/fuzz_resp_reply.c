/*
 * This file implements the fuzz target of the RESP2/RESP3 reply parser
 * (common/resp_reply.c). An input is a stream of replies, parsed twice
 * with the same limits:
 *
 *   - whole: all bytes at once, reply after reply;
 *   - split: first only the bytes before a split point chosen from the
 *     input (its first and last byte), then, once the parser asks for
 *     more, all of them, in a new buffer (resp_reply.h lets the buffer
 *     move between calls).
 *
 * Both runs must return the same reply trees, final status and message
 * (compared as transcripts). Each call gets a heap buffer holding exactly
 * the visible bytes, so AddressSanitizer catches a read past them.
 * Checked on every call, from resp_reply.h's contract: *used is within
 * the buffer and 0 unless RESP_REPLY_OK, NEED_MORE asks for more than it
 * was given, an error says why and sticks; and on every tree: strings are
 * NUL-terminated copies within the bulk limit, maps hold pairs, no
 * aggregate exceeds the element limit nor the tree the depth limit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "resp_reply.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so that inputs of a few KB reach every limit check. */
static const struct resp_reply_limits fuzz_limits = {
    .max_depth = 8,
    .max_bulk = 1024,
    .max_elements = 64,
    .max_line = 256,
};

struct run {
    struct resp_reply_parser p;
    struct transcript t;
    size_t start; /* input offset of the reply being parsed */
};

static bool has_str(enum resp_reply_type t)
{
    return t == RESP_REPLY_STATUS || t == RESP_REPLY_ERRORMSG ||
           t == RESP_REPLY_BULK || t == RESP_REPLY_DOUBLE ||
           t == RESP_REPLY_VERBATIM || t == RESP_REPLY_BIGNUM;
}

static bool is_aggregate(enum resp_reply_type t)
{
    return t == RESP_REPLY_ARRAY || t == RESP_REPLY_MAP ||
           t == RESP_REPLY_SET || t == RESP_REPLY_PUSH;
}

/* Checks a tree (depth: its nesting, 1 at the root) and records it. */
static void record_tree(struct transcript *t, const struct resp_reply *r,
                        size_t depth)
{
    CHECK(r != NULL);
    CHECK(depth <= fuzz_limits.max_depth + 1);
    CHECK(resp_reply_type_name(r->type)[0] != 'u'); /* not "unknown" */
    transcript_u64(t, r->type);
    if (has_str(r->type)) {
        CHECK(r->str != NULL && r->str[r->len] == '\0');
        CHECK(r->len <= fuzz_limits.max_bulk); /* lines are shorter */
        transcript_str(t, r->str, r->len);
    } else {
        CHECK(r->str == NULL);
    }
    if (r->type == RESP_REPLY_INTEGER || r->type == RESP_REPLY_BOOL) {
        transcript_u64(t, (uint64_t)r->integer);
    }
    if (r->type == RESP_REPLY_BOOL) {
        CHECK(r->integer == 0 || r->integer == 1);
    }
    if (r->type == RESP_REPLY_DOUBLE) {
        uint64_t bits;
        memcpy(&bits, &r->dval, sizeof(bits));
        transcript_u64(t, bits);
    }
    if (r->type == RESP_REPLY_VERBATIM) {
        CHECK(memchr(r->format, '\0', sizeof(r->format)) != NULL);
        transcript_put(t, r->format, strlen(r->format));
    }
    if (!is_aggregate(r->type)) {
        CHECK(r->elements == 0);
        return;
    }
    CHECK(r->elements <= fuzz_limits.max_elements);
    CHECK(r->type != RESP_REPLY_MAP || r->elements % 2 == 0);
    CHECK(r->elements == 0 || r->element != NULL);
    transcript_u64(t, r->elements);
    for (size_t i = 0; i < r->elements; i++) {
        record_tree(t, r->element[i], depth + 1);
    }
}

/*
 * Parses replies from r->start on while the input's first `visible`
 * bytes suffice, in a fresh buffer holding input[r->start, visible).
 * Returns RESP_REPLY_NEED_MORE or RESP_REPLY_ERROR.
 */
static enum resp_reply_status run_feed(struct run *r, const uint8_t *data,
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
        size_t used = SIZE_MAX;
        struct resp_reply *reply = (struct resp_reply *)&used;
        enum resp_reply_status st =
            resp_reply_parse(&r->p, buf + off, len, &used, &reply);
        if (st != RESP_REPLY_OK) {
            CHECK(used == 0 && reply == NULL);
            if (st == RESP_REPLY_NEED_MORE) {
                CHECK(resp_reply_parser_want(&r->p) > len);
            } else {
                CHECK(st == RESP_REPLY_ERROR);
                CHECK(r->p.err[0] != '\0');
                size_t again = 1;
                CHECK(resp_reply_parse(&r->p, buf + off, len, &again,
                                       &reply) == RESP_REPLY_ERROR);
                CHECK(again == 0 && reply == NULL);
            }
            free(buf);
            return st;
        }
        CHECK(used > 0 && used <= len);
        transcript_u64(&r->t, RESP_REPLY_OK);
        transcript_u64(&r->t, used);
        record_tree(&r->t, reply, 1);
        resp_reply_free(reply);
        r->start += used;
    }
}

static void run_end(struct run *r, enum resp_reply_status st)
{
    transcript_u64(&r->t, st);
    transcript_u64(&r->t, r->start);
    if (st == RESP_REPLY_NEED_MORE) {
        transcript_u64(&r->t, resp_reply_parser_want(&r->p));
    } else {
        transcript_str(&r->t, r->p.err, strlen(r->p.err));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run *whole = calloc(1, sizeof(*whole));
    struct run *part = calloc(1, sizeof(*part));
    CHECK(whole != NULL && part != NULL);

    resp_reply_parser_init(&whole->p, &fuzz_limits);
    run_end(whole, run_feed(whole, data, size));

    size_t split = 0;
    if (size > 0) {
        split = ((size_t)data[0] | (size_t)data[size - 1] << 8) % (size + 1);
    }
    resp_reply_parser_init(&part->p, &fuzz_limits);
    enum resp_reply_status st = run_feed(part, data, split);
    if (st == RESP_REPLY_NEED_MORE) {
        st = run_feed(part, data, size);
    }
    run_end(part, st);

    transcript_expect_equal(&whole->t, &part->t, "whole vs split");
    transcript_clear(&whole->t);
    transcript_clear(&part->t);
    resp_reply_parser_deinit(&whole->p);
    resp_reply_parser_deinit(&part->p);
    free(whole);
    free(part);
    return 0;
}
