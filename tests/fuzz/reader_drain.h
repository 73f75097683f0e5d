/*
 * reader_drain.h: the body of every input-reader fuzz target
 * (fuzz_reader_<format>.c): write the input to a file, open it with one
 * format of loader/input_reader.h and read every row, checking what
 * input_reader.h promises about each status, row and value; for a
 * splittable format, also read in pieces (input_reader_options.range_*).
 */
#ifndef LARDER_FUZZ_READER_DRAIN_H
#define LARDER_FUZZ_READER_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"

/*
 * Reads data[0, size) as a file of format f to its end (or to a status
 * that ends it) with the given --max-record-size, aborting on any broken
 * promise. A limit well below the inputs' size lets them reach it.
 */
void reader_drain(const struct input_format *f, size_t max_record,
                  const uint8_t *data, size_t size);

/*
 * reader_drain() of a splittable format f, and then, unless the input is
 * gzip data, the same file again in two or three consecutive pieces, each
 * read by a reader of its own, at cut points taken from the input:
 *   a = (data[0] | data[size - 1] << 8) mod (size + 1),
 *   r = data[1] | data[size - 2] << 8;
 * two pieces [0, a), [a, end) when r mod 3 is 0, else three pieces
 * [0, a), [a, b), [b, end) with b = a + (r / 3) mod (size - a + 1).
 * Aborts unless the pieces together return what the whole read returned,
 * in the same order: statuses, offsets, messages, field names and values,
 * and line numbers of the rows before a (pieces after the first count
 * lines from their own start). A file the whole read refuses must be
 * refused by every piece with the same status and message.
 */
void reader_drain_pieces(const struct input_format *f, size_t max_record,
                         const uint8_t *data, size_t size);

#endif
