/*
 * This file implements the Prometheus text exposition writer declared in
 * prom_text.h: HELP/TYPE lines, samples with escaped label values, and the
 * printable spelling of binary label values.
 */
#include "prom_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"counter", "gauge", "histogram"};

bool prom_valid_name(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return false;
    }
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || c == ':';
        if (!alpha && (p == name || c < '0' || c > '9')) {
            return false;
        }
    }
    return true;
}

void prom_family(struct buf *b, const char *name, enum prom_type type,
                 const char *help)
{
    buf_append_str(b, "# HELP ");
    buf_append_str(b, name);
    buf_append(b, " ", 1);
    for (const char *p = help; *p; p++) {
        if (*p == '\\') {
            buf_append(b, "\\\\", 2);
        } else if (*p == '\n') {
            buf_append(b, "\\n", 2);
        } else {
            buf_append(b, p, 1);
        }
    }
    buf_append_str(b, "\n# TYPE ");
    buf_append_str(b, name);
    buf_append(b, " ", 1);
    buf_append_str(b, type_names[type]);
    buf_append(b, "\n", 1);
}

void prom_escape_label(struct buf *b, const char *s, size_t len)
{
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < len; i++) {
        const char *esc = s[i] == '\\' ? "\\\\"
                          : s[i] == '"' ? "\\\""
                          : s[i] == '\n' ? "\\n"
                                         : NULL;
        if (esc != NULL) {
            buf_append(b, s + i - run, run);
            buf_append(b, esc, 2);
            run = 0;
        } else {
            run++;
        }
    }
    buf_append(b, s + len - run, run);
}

void prom_printable(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            buf_append(b, "\\\\", 2);
        } else if (c >= 0x20 && c < 0x7f) {
            buf_append(b, s + i, 1);
        } else {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 4);
        }
    }
}

static void sample_head(struct buf *b, const char *name,
                        const struct prom_label *labels, size_t nlabels)
{
    buf_append_str(b, name);
    if (nlabels > 0) {
        buf_append(b, "{", 1);
        for (size_t i = 0; i < nlabels; i++) {
            if (i > 0) {
                buf_append(b, ",", 1);
            }
            buf_append_str(b, labels[i].name);
            buf_append(b, "=\"", 2);
            prom_escape_label(b, labels[i].value, labels[i].len);
            buf_append(b, "\"", 1);
        }
        buf_append(b, "}", 1);
    }
    buf_append(b, " ", 1);
}

void prom_sample_u64(struct buf *b, const char *name,
                     const struct prom_label *labels, size_t nlabels,
                     uint64_t value)
{
    sample_head(b, name, labels, nlabels);
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", value);
    buf_append(b, num, (size_t)n);
}

void prom_sample_double(struct buf *b, const char *name,
                        const struct prom_label *labels, size_t nlabels,
                        double value)
{
    sample_head(b, name, labels, nlabels);
    if (isnan(value)) {
        buf_append_str(b, "NaN\n");
    } else if (isinf(value)) {
        buf_append_str(b, value > 0 ? "+Inf\n" : "-Inf\n");
    } else {
        /* The shortest of 15 or 17 digits that reads back the same. */
        char num[40];
        snprintf(num, sizeof(num), "%.15g", value);
        if (strtod(num, NULL) != value) {
            snprintf(num, sizeof(num), "%.17g", value);
        }
        buf_append_str(b, num);
        buf_append(b, "\n", 1);
    }
}
