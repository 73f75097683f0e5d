/*
 * This file implements the unit tests of loader/snappy_decode.c on
 * hand-assembled raw snappy blocks: literals (short and with extra length
 * bytes), copies with 1-, 2- and 4-byte offsets, overlapping copies that
 * repeat a pattern, and every way a block can be damaged — a copy from
 * before the start, an offset of 0, output beyond the announced length,
 * too little output, truncated elements, a bad length header. (Blocks
 * from the real compressor are covered by test_reader_avro.c, whose
 * snappy files libavro writes.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "snappy_decode.h"

static void decode_ok(const void *src, size_t n, const char *want,
                      size_t wantlen)
{
    size_t len;
    assert_int_equal(snappy_decode_length(src, n, &len), 0);
    assert_int_equal(len, wantlen);
    uint8_t out[512];
    char err[128] = "";
    assert_true(len <= sizeof(out));
    if (snappy_decode(src, n, out, len, err, sizeof(err)) != 0) {
        fail_msg("decode: %s", err);
    }
    assert_memory_equal(out, want, wantlen);
}

static void decode_bad(const void *src, size_t n, size_t dstlen,
                       const char *needle)
{
    uint8_t out[512];
    char err[128] = "";
    assert_true(dstlen <= sizeof(out));
    assert_int_equal(snappy_decode(src, n, out, dstlen, err, sizeof(err)),
                     -1);
    if (strstr(err, needle) == NULL) {
        fail_msg("'%s' lacks '%s'", err, needle);
    }
}

static void test_literals(void **state)
{
    decode_ok("\x05\x10hello", 7, "hello", 5);
    decode_ok("\x00", 1, "", 0);
    /* 100 bytes: tag 60 << 2 with one length byte (99). */
    uint8_t b[128] = {100, 0xF0, 99};
    char want[100];
    for (int i = 0; i < 100; i++) {
        b[3 + i] = (uint8_t)('a' + i % 26);
        want[i] = (char)('a' + i % 26);
    }
    decode_ok(b, 103, want, 100);
}

static void test_copies(void **state)
{
    /* "abc", then copy1 of 9 bytes from 3 back: overlapping, repeats. */
    decode_ok("\x0c\x08" "abc" "\x15\x03", 7, "abcabcabcabc", 12);
    /* copy2 (tag 2): 5 bytes from 5 back. */
    decode_ok("\x0a\x10" "hello" "\x12\x05\x00", 10, "hellohello", 10);
    /* copy4 (tag 3): 2 bytes from 4 back. */
    decode_ok("\x06\x0c" "wxyz" "\x07\x04\x00\x00\x00", 11, "wxyzwx", 6);
    /* A run of one byte: copy1 of 11 from 1 back. */
    decode_ok("\x0c\x00" "z" "\x1d\x01", 5, "zzzzzzzzzzzz", 12);
}

static void test_damaged(void **state)
{
    decode_bad("\x08\x08" "abc" "\x15\x04", 7, 8, "out of bounds");
    decode_bad("\x08\x08" "abc" "\x15\x00", 7, 8, "out of bounds");
    decode_bad("\x0c\x08" "abc" "\x15\x03", 7, 11, "length 12, expected 11");
    decode_bad("\x05\x08" "abc" "\x01\x03", 7, 5, "out of bounds");
    decode_bad("\x0d\x08" "abc" "\x15\x03", 7, 13, "12 bytes decoded, 13");
    decode_bad("\x05\x10" "hel", 5, 5, "overruns");
    decode_bad("\x05\xF0", 2, 5, "truncated literal length");
    decode_bad("\x05\x08" "abc" "\x12\x03", 7, 5, "truncated copy");
    decode_bad("\x80\x80\x80\x80\x80\x01", 6, 5, "invalid length");
    size_t len;
    assert_int_equal(snappy_decode_length((const uint8_t *)"\xff\xff\xff"
                                          "\xff\x7f", 5, &len), -1);
    assert_int_equal(snappy_decode_length((const uint8_t *)"\x80", 1, &len),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
