/*
 * prom_text.h: a writer of the Prometheus text exposition format (version
 * 0.0.4), appending to a struct buf. It does no I/O and knows nothing of
 * the node; node/metrics.c decides what to write.
 *
 * A metric family is announced once with prom_family() (its # HELP and
 * # TYPE lines) and followed by its samples:
 *
 *     prom_family(b, "larder_commands_total", PROM_COUNTER, "Commands run.");
 *     struct prom_label l[] = {{"command", "get", 3}};
 *     prom_sample_u64(b, "larder_commands_total", l, 1, 42);
 *
 * Escaping follows the format: in HELP text '\' and newline become "\\"
 * and "\n"; in label values '\', '"' and newline become "\\", "\"" and
 * "\n". Label values are otherwise copied byte for byte, so a caller with
 * binary data (keys) makes it printable first (prom_printable()).
 */
#ifndef LARDER_PROM_TEXT_H
#define LARDER_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The content type of what the writer produces. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type {
    PROM_COUNTER = 0,
    PROM_GAUGE,
    PROM_HISTOGRAM,
};

struct prom_label {
    const char *name;  /* a valid label name */
    const char *value; /* value[0, len), escaped when written */
    size_t len;
};

/* True if name matches [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool prom_valid_name(const char *name);

/* Writes "# HELP name help" and "# TYPE name type". */
void prom_family(struct buf *b, const char *name, enum prom_type type,
                 const char *help);

/* Writes one sample "name{labels} value" with an integer value. */
void prom_sample_u64(struct buf *b, const char *name,
                     const struct prom_label *labels, size_t nlabels,
                     uint64_t value);

/* The same with a floating-point value (NaN and infinities as the format
 * spells them: NaN, +Inf, -Inf). */
void prom_sample_double(struct buf *b, const char *name,
                        const struct prom_label *labels, size_t nlabels,
                        double value);

/* Appends s[0, len) as a label value, escaped (without the quotes). */
void prom_escape_label(struct buf *b, const char *s, size_t len);

/*
 * Appends bytes in a printable, reversible spelling for a label value:
 * printable ASCII is kept, '\' becomes "\\" and every other byte (control
 * characters, DEL, bytes >= 0x80) becomes "\xHH". Distinct inputs give
 * distinct outputs, so two keys never share a series.
 */
void prom_printable(struct buf *b, const char *s, size_t len);

#endif
