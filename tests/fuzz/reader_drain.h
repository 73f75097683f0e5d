/*
 * reader_drain.h: the body of every input-reader fuzz target
 * (fuzz_reader_<format>.c): write the input to a file, open it with one
 * format of loader/input_reader.h and read every row, checking what
 * input_reader.h promises about each status, row and value.
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

#endif
