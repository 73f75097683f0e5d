/*
 * This file implements s3_xml.h on expat. One small machine serves the
 * three documents: it tracks the element path (root/child/grandchild), gathers
 * the text of the current element (bounded by S3_XML_MAX_TEXT) and hands
 * each finished element to the document's end handler, which picks out the
 * paths it knows. Namespaces are not processed: S3 declares a default one,
 * so element names arrive unprefixed.
 */
#include "s3_xml.h"

#include <expat.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S3_XML_MAX_DEPTH 8
#define S3_XML_NAME_MAX 48

struct s3_xml_parse;

/* Called at the end of each element with its path depth and text. */
typedef int (*s3_xml_end_fn)(struct s3_xml_parse *p, const char *text,
                             size_t len);

struct s3_xml_parse {
    XML_Parser xp;
    /* Element names from the root; longer ones are cut (they match no
     * path larder looks for). */
    char path[S3_XML_MAX_DEPTH][S3_XML_NAME_MAX];
    int depth;     /* elements open */
    int too_deep;  /* elements open past S3_XML_MAX_DEPTH */
    char *text;
    size_t text_len;
    size_t text_cap;
    bool failed;
    char why[128];
    s3_xml_end_fn on_end;
    void *doc; /* the structure being filled */
};

static void s3_xml_fail(struct s3_xml_parse *p, const char *why)
{
    if (!p->failed) {
        p->failed = true;
        if (why != p->why) {
            snprintf(p->why, sizeof(p->why), "%s", why);
        }
        XML_StopParser(p->xp, XML_FALSE);
    }
}

/* True if the open elements are exactly the names given, from the root. */
static bool s3_xml_at(const struct s3_xml_parse *p, int n, const char *a,
                      const char *b, const char *c)
{
    const char *names[3] = {a, b, c};
    if (p->depth != n || p->too_deep > 0) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(p->path[i], names[i]) != 0) {
            return false;
        }
    }
    return true;
}

static void XMLCALL s3_xml_start(void *arg, const XML_Char *name,
                                 const XML_Char **attrs)
{
    struct s3_xml_parse *p = arg;
    if (p->depth >= S3_XML_MAX_DEPTH) {
        p->too_deep++;
    } else {
        snprintf(p->path[p->depth], S3_XML_NAME_MAX, "%s", name);
        p->depth++;
    }
    p->text_len = 0;
}

static void XMLCALL s3_xml_chars(void *arg, const XML_Char *s, int len)
{
    struct s3_xml_parse *p = arg;
    size_t n = (size_t)len;
    if (p->failed || p->too_deep > 0) {
        return;
    }
    if (p->text_len + n > S3_XML_MAX_TEXT) {
        s3_xml_fail(p, "an element's text is too long");
        return;
    }
    if (p->text_len + n + 1 > p->text_cap) {
        size_t cap = p->text_cap == 0 ? 256 : p->text_cap;
        while (cap < p->text_len + n + 1) {
            cap *= 2;
        }
        char *t = realloc(p->text, cap);
        if (t == NULL) {
            s3_xml_fail(p, "out of memory");
            return;
        }
        p->text = t;
        p->text_cap = cap;
    }
    memcpy(p->text + p->text_len, s, n);
    p->text_len += n;
    p->text[p->text_len] = '\0';
}

static void XMLCALL s3_xml_end(void *arg, const XML_Char *name)
{
    struct s3_xml_parse *p = arg;
    if (p->too_deep > 0) {
        p->too_deep--;
        return;
    }
    if (!p->failed && p->on_end(p, p->text_len > 0 ? p->text : "",
                                p->text_len) != 0) {
        s3_xml_fail(p, p->why[0] != '\0' ? p->why : "unexpected content");
    }
    p->depth--;
    p->text_len = 0;
}

/*
 * Runs the parser over the whole document. Returns 0, or -1 with why set
 * (malformed XML or the handler's refusal).
 */
static int s3_xml_run(struct s3_xml_parse *p, const char *xml, size_t len,
                      s3_xml_end_fn on_end, void *doc)
{
    p->on_end = on_end;
    p->doc = doc;
    p->xp = XML_ParserCreate("UTF-8");
    if (p->xp == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, s3_xml_start, s3_xml_end);
    XML_SetCharacterDataHandler(p->xp, s3_xml_chars);
    int rc = 0;
    if (len > (size_t)INT32_MAX) {
        snprintf(p->why, sizeof(p->why), "document too large");
        rc = -1;
    } else if (XML_Parse(p->xp, xml, (int)len, XML_TRUE) !=
                   XML_STATUS_OK || p->failed) {
        if (!p->failed) {
            snprintf(p->why, sizeof(p->why), "malformed XML at line %lu: %s",
                     (unsigned long)XML_GetCurrentLineNumber(p->xp),
                     XML_ErrorString(XML_GetErrorCode(p->xp)));
        }
        rc = -1;
    }
    XML_ParserFree(p->xp);
    free(p->text);
    p->text = NULL;
    return rc;
}

/* ---- ListObjectsV2 ------------------------------------------------------- */

struct s3_list_doc {
    struct s3_list *out;
    bool root_ok;
    bool have_key;
    bool have_size;
    char *key;
    char *etag;
    uint64_t size;
};

static bool s3_list_full(const struct s3_list *l)
{
    return l->n_objects + l->n_prefixes >= S3_XML_MAX_ENTRIES;
}

static int s3_list_add_object(struct s3_xml_parse *p, struct s3_list_doc *d)
{
    struct s3_list *l = d->out;
    if (!d->have_key || !d->have_size) {
        snprintf(p->why, sizeof(p->why), "an object without %s",
                 d->have_key ? "a Size" : "a Key");
        return -1;
    }
    if (s3_list_full(l)) {
        snprintf(p->why, sizeof(p->why), "more than %u entries",
                 S3_XML_MAX_ENTRIES);
        return -1;
    }
    struct s3_object *o =
        realloc(l->objects, (l->n_objects + 1) * sizeof(*o));
    if (o == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    l->objects = o;
    if (d->etag == NULL && (d->etag = strdup("")) == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    o[l->n_objects].key = d->key;
    o[l->n_objects].etag = d->etag;
    o[l->n_objects].size = d->size;
    l->n_objects++;
    d->key = NULL;
    d->etag = NULL;
    d->have_key = false;
    d->have_size = false;
    return 0;
}

static int s3_list_add_prefix(struct s3_xml_parse *p, struct s3_list *l,
                              const char *text)
{
    if (s3_list_full(l)) {
        snprintf(p->why, sizeof(p->why), "more than %u entries",
                 S3_XML_MAX_ENTRIES);
        return -1;
    }
    char **v = realloc(l->prefixes, (l->n_prefixes + 1) * sizeof(*v));
    if (v == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    l->prefixes = v;
    if ((v[l->n_prefixes] = strdup(text)) == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    l->n_prefixes++;
    return 0;
}

/* Replaces *slot with a copy of text. */
static int s3_xml_keep(struct s3_xml_parse *p, char **slot, const char *text)
{
    free(*slot);
    *slot = strdup(text);
    if (*slot == NULL) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return -1;
    }
    return 0;
}

static int s3_list_end(struct s3_xml_parse *p, const char *text, size_t len)
{
    struct s3_list_doc *d = p->doc;
    struct s3_list *l = d->out;
    const char *root = "ListBucketResult";
    if (p->depth == 1) {
        d->root_ok = strcmp(p->path[0], root) == 0;
        return 0;
    }
    if (strcmp(p->path[0], root) != 0) {
        snprintf(p->why, sizeof(p->why), "not a ListBucketResult");
        return -1;
    }
    if (s3_xml_at(p, 3, root, "Contents", "Key")) {
        d->have_key = true;
        return s3_xml_keep(p, &d->key, text);
    }
    if (s3_xml_at(p, 3, root, "Contents", "ETag")) {
        return s3_xml_keep(p, &d->etag, text);
    }
    if (s3_xml_at(p, 3, root, "Contents", "Size")) {
        /* Digits only: strtoull alone would take " -1" as 2^64 - 1. */
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (len == 0 || !isdigit((unsigned char)text[0]) || errno != 0 ||
            *end != '\0') {
            snprintf(p->why, sizeof(p->why), "bad Size '%.40s'", text);
            return -1;
        }
        d->size = (uint64_t)v;
        d->have_size = true;
        return 0;
    }
    if (s3_xml_at(p, 2, root, "Contents", NULL)) {
        return s3_list_add_object(p, d);
    }
    if (s3_xml_at(p, 3, root, "CommonPrefixes", "Prefix")) {
        return s3_list_add_prefix(p, l, text);
    }
    if (s3_xml_at(p, 2, root, "IsTruncated", NULL)) {
        l->truncated = strcmp(text, "true") == 0;
        return 0;
    }
    if (s3_xml_at(p, 2, root, "NextContinuationToken", NULL)) {
        return s3_xml_keep(p, &l->next_token, text);
    }
    return 0;
}

int s3_xml_parse_list(const char *xml, size_t len, struct s3_list *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct s3_xml_parse p;
    memset(&p, 0, sizeof(p));
    struct s3_list_doc d = {.out = out};
    int rc = s3_xml_run(&p, xml, len, s3_list_end, &d);
    free(d.key);
    free(d.etag);
    if (rc == 0 && !d.root_ok) {
        snprintf(p.why, sizeof(p.why), "not a ListBucketResult");
        rc = -1;
    }
    if (rc == 0 && out->truncated &&
        (out->next_token == NULL || out->next_token[0] == '\0')) {
        snprintf(p.why, sizeof(p.why),
                 "truncated without a NextContinuationToken");
        rc = -1;
    }
    if (rc != 0) {
        s3_list_free(out);
        snprintf(err, errlen, "bad ListObjectsV2 result: %s", p.why);
    }
    return rc;
}

int s3_list_append(struct s3_list *all, struct s3_list *page)
{
    if (page->n_objects > 0) {
        struct s3_object *o = realloc(
            all->objects, (all->n_objects + page->n_objects) * sizeof(*o));
        if (o == NULL) {
            return -1;
        }
        all->objects = o;
        memcpy(o + all->n_objects, page->objects,
               page->n_objects * sizeof(*o));
        all->n_objects += page->n_objects;
        free(page->objects);
        page->objects = NULL;
        page->n_objects = 0;
    }
    if (page->n_prefixes > 0) {
        char **v = realloc(all->prefixes,
                           (all->n_prefixes + page->n_prefixes) * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        all->prefixes = v;
        memcpy(v + all->n_prefixes, page->prefixes,
               page->n_prefixes * sizeof(*v));
        all->n_prefixes += page->n_prefixes;
        free(page->prefixes);
        page->prefixes = NULL;
        page->n_prefixes = 0;
    }
    return 0;
}

void s3_list_free(struct s3_list *l)
{
    for (size_t i = 0; i < l->n_objects; i++) {
        free(l->objects[i].key);
        free(l->objects[i].etag);
    }
    for (size_t i = 0; i < l->n_prefixes; i++) {
        free(l->prefixes[i]);
    }
    free(l->objects);
    free(l->prefixes);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

/* ---- error documents ----------------------------------------------------- */

static int s3_error_end(struct s3_xml_parse *p, const char *text, size_t len)
{
    struct s3_error_doc *e = p->doc;
    if (s3_xml_at(p, 2, "Error", "Code", NULL)) {
        snprintf(e->code, sizeof(e->code), "%s", text);
    } else if (s3_xml_at(p, 2, "Error", "Message", NULL)) {
        snprintf(e->message, sizeof(e->message), "%s", text);
    }
    return 0;
}

int s3_xml_parse_error(const char *xml, size_t len, struct s3_error_doc *out)
{
    memset(out, 0, sizeof(*out));
    if (xml == NULL || len == 0) {
        return -1;
    }
    struct s3_xml_parse p;
    memset(&p, 0, sizeof(p));
    if (s3_xml_run(&p, xml, len, s3_error_end, out) != 0 ||
        out->code[0] == '\0') {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

/* ---- multipart upload ---------------------------------------------------- */

struct s3_upload_doc {
    char *out;
    size_t outlen;
    bool found;
};

static int s3_upload_end(struct s3_xml_parse *p, const char *text, size_t len)
{
    struct s3_upload_doc *u = p->doc;
    if (s3_xml_at(p, 2, "InitiateMultipartUploadResult", "UploadId", NULL)) {
        if (len == 0 || len >= u->outlen) {
            snprintf(p->why, sizeof(p->why), "bad UploadId");
            return -1;
        }
        memcpy(u->out, text, len + 1);
        u->found = true;
    }
    return 0;
}

int s3_xml_parse_upload_id(const char *xml, size_t len, char *out,
                           size_t outlen)
{
    struct s3_xml_parse p;
    memset(&p, 0, sizeof(p));
    struct s3_upload_doc u = {.out = out, .outlen = outlen};
    if (outlen == 0 || xml == NULL ||
        s3_xml_run(&p, xml, len, s3_upload_end, &u) != 0 || !u.found) {
        if (outlen > 0) {
            out[0] = '\0';
        }
        return -1;
    }
    return 0;
}
