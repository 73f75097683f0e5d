/*
 * This file implements the fuzz target of the S3 XML parsers
 * (common/s3_xml.c). The first byte of an input chooses the parser, the
 * rest is the document:
 *   0  s3_xml_parse_list: a refusal has a message and leaves the list
 *      empty; an accepted list is consistent (every key and ETag a
 *      NUL-terminated string, every prefix too, at most S3_XML_MAX_ENTRIES
 *      entries, a truncated page has a continuation token), parses the
 *      same twice, and two pages appended
 *      give both pages' entries in order and leave the second page empty
 *      (LeakSanitizer sees anything lost on the way);
 *   1  s3_xml_parse_error: a code when accepted, all zero when refused;
 *   2  s3_xml_parse_upload_id into a heap buffer of exactly the size the
 *      first byte also chooses (1 + (byte / 3) % 64), so a write past it
 *      shows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every byte of s, so a dangling or unterminated string shows. */
static size_t touch(const char *s)
{
    CHECK(s != NULL);
    return strlen(s);
}

static void check_list(const struct s3_list *l)
{
    CHECK(l->n_objects + l->n_prefixes <= S3_XML_MAX_ENTRIES);
    CHECK((l->n_objects == 0) == (l->objects == NULL));
    CHECK((l->n_prefixes == 0) == (l->prefixes == NULL));
    for (size_t i = 0; i < l->n_objects; i++) {
        touch(l->objects[i].key);
        touch(l->objects[i].etag);
    }
    for (size_t i = 0; i < l->n_prefixes; i++) {
        touch(l->prefixes[i]);
    }
    CHECK(!l->truncated ||
          (l->next_token != NULL && l->next_token[0] != '\0'));
    if (l->next_token != NULL) {
        touch(l->next_token);
    }
}

static bool same_object(const struct s3_object *a, const struct s3_object *b)
{
    return strcmp(a->key, b->key) == 0 && strcmp(a->etag, b->etag) == 0 &&
           a->size == b->size;
}

static void fuzz_list(const char *xml, size_t len)
{
    struct s3_list page;
    char err[256] = "";
    if (s3_xml_parse_list(xml, len, &page, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        CHECK(page.objects == NULL && page.n_objects == 0);
        CHECK(page.prefixes == NULL && page.n_prefixes == 0);
        CHECK(page.next_token == NULL && !page.truncated);
        return;
    }
    check_list(&page);

    struct s3_list again;
    CHECK(s3_xml_parse_list(xml, len, &again, err, sizeof(err)) == 0);
    CHECK(again.n_objects == page.n_objects &&
          again.n_prefixes == page.n_prefixes &&
          again.truncated == page.truncated);

    /* all = page + again; again must be left empty. */
    size_t n = page.n_objects, np = page.n_prefixes;
    struct s3_list all = page;
    CHECK(s3_list_append(&all, &again) == 0);
    CHECK(again.n_objects == 0 && again.objects == NULL);
    CHECK(again.n_prefixes == 0 && again.prefixes == NULL);
    CHECK(all.n_objects == 2 * n && all.n_prefixes == 2 * np);
    for (size_t i = 0; i < n; i++) {
        CHECK(same_object(&all.objects[i], &all.objects[n + i]));
    }
    for (size_t i = 0; i < np; i++) {
        CHECK(strcmp(all.prefixes[i], all.prefixes[np + i]) == 0);
    }
    /* Appending an empty page changes nothing. */
    struct s3_list empty;
    memset(&empty, 0, sizeof(empty));
    CHECK(s3_list_append(&all, &empty) == 0);
    CHECK(all.n_objects == 2 * n && all.n_prefixes == 2 * np);
    s3_list_free(&again);
    s3_list_free(&all);
    CHECK(all.objects == NULL && all.n_objects == 0 && all.next_token == NULL);
}

static void fuzz_error(const char *xml, size_t len)
{
    struct s3_error_doc e;
    memset(&e, 0x55, sizeof(e));
    if (s3_xml_parse_error(xml, len, &e) != 0) {
        static const struct s3_error_doc zero;
        CHECK(memcmp(&e, &zero, sizeof(e)) == 0);
        return;
    }
    CHECK(memchr(e.code, '\0', sizeof(e.code)) != NULL && e.code[0] != '\0');
    CHECK(memchr(e.message, '\0', sizeof(e.message)) != NULL);
}

static void fuzz_upload_id(const char *xml, size_t len, size_t outlen)
{
    char *out = malloc(outlen);
    CHECK(out != NULL);
    memset(out, 'x', outlen);
    if (s3_xml_parse_upload_id(xml, len, out, outlen) != 0) {
        CHECK(out[0] == '\0');
    } else {
        size_t n = strnlen(out, outlen);
        CHECK(n > 0 && n < outlen);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        fuzz_list(doc, len);
        break;
    case 1:
        fuzz_error(doc, len);
        break;
    default:
        fuzz_upload_id(doc, len, 1 + (size_t)(data[0] / 3) % 64);
        break;
    }
    return 0;
}
