/*
 * This file implements the fuzz target of the Avro input reader
 * (loader/reader_avro.c): an input is a whole file, read to its end by
 * reader_drain(), which checks every row (see reader_drain.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "reader_drain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * --max-record-size: above the seeds' headers (a schema of ~1 KB), below
 * the largest inputs.
 */
#define FUZZ_MAX_RECORD 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_drain(&input_format_avro, FUZZ_MAX_RECORD, data, size);
    return 0;
}
