/*
 * snappy_decode.h: decompression of one raw snappy block (the "snappy"
 * codec of Avro container files: each file block is one raw snappy
 * block followed by a CRC-32 of the uncompressed data, which the caller
 * checks). Pure: bytes in, bytes out, every length and offset checked, so
 * damaged input gives an error and never a read or write out of bounds.
 *
 * The format: a varint (7 bits a byte, low bits first) giving the
 * uncompressed length, then elements, each a tag byte whose low two bits
 * say what it is — a literal (its bytes follow), or a copy of earlier
 * output given by length and backward offset (1, 2 or 4 offset bytes).
 */
#ifndef LARDER_SNAPPY_DECODE_H
#define LARDER_SNAPPY_DECODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The uncompressed length src announces, in *out; 0, or -1 if src does
 * not start with a valid length (at most 2^32 - 1).
 */
int snappy_decode_length(const uint8_t *src, size_t srclen, size_t *out);

/*
 * Decompresses src into dst, which holds exactly the announced length
 * (dstlen). Returns 0, or -1 with a reason in err if src is not a valid
 * snappy block of that length.
 */
int snappy_decode(const uint8_t *src, size_t srclen, uint8_t *dst,
                  size_t dstlen, char *err, size_t errlen);

#endif
