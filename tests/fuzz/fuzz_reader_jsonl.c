/*
 * This file implements the fuzz target of the JSONL input reader
 * (loader/reader_jsonl.c): an input is a whole file, read to its end by
 * reader_drain(), which checks every row (see reader_drain.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "reader_drain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --max-record-size: lines of a few KB inputs reach it. */
#define FUZZ_MAX_RECORD 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_drain(&input_format_jsonl, FUZZ_MAX_RECORD, data, size);
    return 0;
}
