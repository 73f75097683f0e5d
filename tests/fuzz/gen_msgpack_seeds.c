/*
 * This file implements gen_msgpack_seeds, which writes the msgpack
 * streams of corpus/fuzz_reader_msgpack/ with msgpack-c's packer:
 *
 *   gen_msgpack_seeds DIR
 *
 * The seeds cover plain rows (maps of scalars), every msgpack type (nil,
 * booleans, ints of each width, float 32 and 64, str, bin, arrays, nested
 * maps, ext), and the bad rows the reader skips (an object that is not a
 * map, a non-string key, a repeated field, an integer above int64), then a
 * stream cut inside an object and an empty stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

static void str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void plain_rows(msgpack_packer *pk)
{
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(pk, 3);
        str(pk, "id");
        msgpack_pack_int(pk, i);
        str(pk, "name");
        str(pk, i == 1 ? "" : "alice");
        str(pk, "score");
        msgpack_pack_double(pk, 0.5 * i);
    }
}

static void all_types(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 16);
    str(pk, "nil");
    msgpack_pack_nil(pk);
    str(pk, "t");
    msgpack_pack_true(pk);
    str(pk, "f");
    msgpack_pack_false(pk);
    str(pk, "fixint");
    msgpack_pack_int(pk, -5);
    str(pk, "u8");
    msgpack_pack_uint8(pk, 200);
    str(pk, "i16");
    msgpack_pack_int16(pk, -30000);
    str(pk, "u32");
    msgpack_pack_uint32(pk, 4000000000u);
    str(pk, "i64");
    msgpack_pack_int64(pk, INT64_MIN);
    str(pk, "u64");
    msgpack_pack_uint64(pk, (uint64_t)INT64_MAX);
    str(pk, "f32");
    msgpack_pack_float(pk, 1.25f);
    str(pk, "f64");
    msgpack_pack_double(pk, -2.5e300);
    str(pk, "bin");
    msgpack_pack_bin(pk, 3);
    msgpack_pack_bin_body(pk, "\0\1\2", 3);
    str(pk, "arr");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 1);
    str(pk, "two");
    msgpack_pack_array(pk, 0);
    str(pk, "map");
    msgpack_pack_map(pk, 2);
    str(pk, "item");
    str(pk, "a");
    str(pk, "score");
    msgpack_pack_float(pk, 0.9f);
    str(pk, "long_str");
    char text[40];
    memset(text, 'x', sizeof(text));
    msgpack_pack_str(pk, sizeof(text));
    msgpack_pack_str_body(pk, text, sizeof(text));
    str(pk, "recs");
    msgpack_pack_array(pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(pk, 2);
        str(pk, "item");
        str(pk, i ? "b" : "a");
        str(pk, "score");
        msgpack_pack_double(pk, 1.0 / (i + 2));
    }
}

static void bad_rows(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1); /* not a map */
    msgpack_pack_int(pk, 1);
    msgpack_pack_map(pk, 1); /* a non-string key */
    msgpack_pack_int(pk, 7);
    str(pk, "v");
    msgpack_pack_map(pk, 2); /* a repeated field */
    str(pk, "a");
    msgpack_pack_int(pk, 1);
    str(pk, "a");
    msgpack_pack_int(pk, 2);
    msgpack_pack_map(pk, 1); /* above int64 */
    str(pk, "big");
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_map(pk, 1); /* an ext value */
    str(pk, "ext");
    msgpack_pack_ext(pk, 2, 5);
    msgpack_pack_ext_body(pk, "\1\2", 2);
    msgpack_pack_map(pk, 1); /* a good row after them */
    str(pk, "ok");
    msgpack_pack_true(pk);
}

static int write_seed(const char *dir, const char *file,
                      void (*pack)(msgpack_packer *), size_t cut)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pack != NULL) {
        pack(&pk);
    }
    size_t len = sb.size > cut ? sb.size - cut : 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    int rc = f != NULL && fwrite(sb.data, 1, len, f) == len ? 0 : -1;
    if (f != NULL && fclose(f) != 0) {
        rc = -1;
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        perror(path);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int rc = write_seed(dir, "plain.msgpack", plain_rows, 0);
    rc |= write_seed(dir, "all_types.msgpack", all_types, 0);
    rc |= write_seed(dir, "bad_rows.msgpack", bad_rows, 0);
    rc |= write_seed(dir, "truncated.msgpack", plain_rows, 3);
    rc |= write_seed(dir, "empty.msgpack", NULL, 0);
    return rc == 0 ? 0 : 1;
}
