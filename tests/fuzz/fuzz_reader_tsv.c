/*
 * This file implements the fuzz target of the TSV input reader
 * (loader/reader_tsv.c): an input is a whole file, read to its end and
 * then again in two or three pieces at cut points taken from the input,
 * by reader_drain_pieces(), which checks every row and that the pieces
 * give what the whole file gives (see reader_drain.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "reader_drain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --max-record-size: lines of inputs of a few hundred bytes reach it, so
 * too-long lines meet the cut points often. */
#define FUZZ_MAX_RECORD 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_drain_pieces(&input_format_tsv, FUZZ_MAX_RECORD, data, size);
    return 0;
}
