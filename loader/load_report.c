/*
 * This file implements load_report.h with jansson for the JSON form.
 */
#include "load_report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j != NULL) {
        return j;
    }
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) {
        copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    }
    j = json_string(copy);
    free(copy);
    return j;
}

char *load_report_json(const struct load_config *c,
                       const struct load_result *r)
{
    json_t *o = json_object();
    json_t *secs = json_object();
    json_t *bad = json_array();
    if (o == NULL || secs == NULL || bad == NULL) {
        json_decref(o);
        json_decref(secs);
        json_decref(bad);
        return NULL;
    }
    double total = 0;
    for (int p = 0; p < LOAD_PHASES; p++) {
        json_object_set_new(secs, load_phase_name((enum load_phase)p),
                            json_real(r->seconds[p]));
        total += r->seconds[p];
    }
    json_object_set_new(secs, "total", json_real(total));
    for (size_t i = 0; i < r->nbad_samples; i++) {
        const struct load_bad_row *b = &r->bad_samples[i];
        json_array_append_new(
            bad, json_pack("{s:o,s:I,s:I,s:o}", "file", jstr(b->file),
                           "line", (json_int_t)b->line, "offset",
                           (json_int_t)b->offset, "reason",
                           jstr(b->reason)));
    }
#define SET_U(name, v) json_object_set_new(o, name, json_integer((json_int_t)(v)))
    json_object_set_new(o, "table", jstr(c->table));
    SET_U("version", r->version);
    json_object_set_new(o, "state", json_string(r->state));
    SET_U("previous_version", r->previous_version);
    SET_U("rows", r->rows);
    SET_U("rows_read", r->rows_read);
    SET_U("bad_rows", r->bad_rows);
    SET_U("duplicates", r->duplicates);
    SET_U("bytes", r->bytes);
    SET_U("key_bytes", r->key_bytes);
    SET_U("value_bytes", r->value_bytes);
    SET_U("input_bytes", r->input_bytes);
    SET_U("files", r->files);
    SET_U("read_threads", r->read_threads);
    SET_U("partitions", r->partitions);
    SET_U("min_replicas", r->min_replicas);
    json_object_set_new(o, "run_id", jstr(c->run_id));
    json_object_set_new(o, "push_id", jstr(c->push_id));
    json_object_set_new(o, "seconds", secs);
    SET_U("peak_rss_bytes", r->peak_rss_bytes);
    json_object_set_new(o, "bad_row_samples", bad);
    SET_U("exit_code", r->exit_code);
    if (r->exit_code != 0) {
        json_object_set_new(o, "error", jstr(r->error));
    }
#undef SET_U
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

void load_report_text(FILE *f, const struct load_config *c,
                      const struct load_result *r)
{
    char size[32];
    capacity_format_bytes(r->bytes, size, sizeof(size));
    if (r->state[0] == 'n') {
        fprintf(f, "%s: push id %s already loaded as version %llu: nothing "
                "to do\n", c->table, c->push_id,
                (unsigned long long)r->version);
        return;
    }
    double total = 0;
    for (int p = 0; p < LOAD_PHASES; p++) {
        total += r->seconds[p];
    }
    fprintf(f, "%s version %llu %s: %llu rows (%llu read, %llu bad, %llu "
            "duplicates dropped), %s in %u partitions, %.1f s\n", c->table,
            (unsigned long long)r->version, r->state,
            (unsigned long long)r->rows, (unsigned long long)r->rows_read,
            (unsigned long long)r->bad_rows,
            (unsigned long long)r->duplicates, size, r->partitions, total);
}
