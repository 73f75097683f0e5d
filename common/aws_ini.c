/*
 * This file implements aws_ini.h: one pass over the buffer, line by line,
 * remembering only which section the line is in and the indentation of
 * the last key line, which is what tells a continuation from a key.
 */
#include "aws_ini.h"

#include <string.h>
#include <strings.h>

/* One line of the buffer, without its line end. */
struct ini_line {
    const char *p;
    size_t len;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims blanks at both ends of [*p, *p + *len). */
static void trim(const char **p, size_t *len)
{
    while (*len > 0 && is_blank(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*p)[*len - 1])) {
        (*len)--;
    }
}

/* Takes the next line from [*pos, end); false at the end. */
static bool next_line(const char **pos, const char *end, struct ini_line *l)
{
    if (*pos >= end) {
        return false;
    }
    const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
    const char *stop = nl != NULL ? nl : end;
    l->p = *pos;
    l->len = (size_t)(stop - *pos);
    if (l->len > 0 && l->p[l->len - 1] == '\r') {
        l->len--;
    }
    *pos = nl != NULL ? nl + 1 : end;
    return true;
}

/*
 * True if the section header text h[hlen] (between the brackets) names
 * `want`: trimmed, with runs of blanks inside compared as one space.
 */
static bool section_is(const char *h, size_t hlen, const char *want)
{
    trim(&h, &hlen);
    size_t i = 0;
    const char *w = want;
    while (i < hlen) {
        if (is_blank(h[i])) {
            while (i < hlen && is_blank(h[i])) {
                i++;
            }
            if (*w != ' ') {
                return false;
            }
            w++;
            continue;
        }
        if (*w == '\0' || *w != h[i]) {
            return false;
        }
        w++;
        i++;
    }
    return *w == '\0';
}

/*
 * The one pass behind both lookups: sets *found_section if the section
 * exists and, when key is non-NULL, points *val[*vlen] at the last value
 * of key in it (*val NULL if absent).
 */
static void scan(const char *buf, size_t len, const char *section,
                 const char *key, bool *found_section, const char **val,
                 size_t *vlen)
{
    const char *pos = buf, *end = buf + len;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        pos += 3;
    }
    *found_section = false;
    *val = NULL;
    *vlen = 0;
    bool in_section = false;
    bool have_key_line = false; /* a key line seen in this section */
    size_t key_indent = 0;
    struct ini_line l;
    while (next_line(&pos, end, &l)) {
        size_t indent = 0;
        while (indent < l.len && is_blank(l.p[indent])) {
            indent++;
        }
        const char *t = l.p + indent;
        size_t tlen = l.len - indent;
        if (tlen == 0 || t[0] == '#' || t[0] == ';') {
            continue;
        }
        if (have_key_line && indent > key_indent) {
            continue; /* continues the value of the key line above */
        }
        if (t[0] == '[') {
            const char *close = NULL;
            for (size_t i = tlen; i > 1; i--) {
                if (t[i - 1] == ']') {
                    close = t + i - 1;
                    break;
                }
            }
            if (close == NULL) {
                continue;
            }
            in_section = section_is(t + 1, (size_t)(close - t - 1), section);
            if (in_section) {
                *found_section = true;
            }
            have_key_line = false;
            continue;
        }
        size_t sep = 0;
        while (sep < tlen && t[sep] != '=' && t[sep] != ':') {
            sep++;
        }
        if (sep == tlen) {
            continue;
        }
        have_key_line = true;
        key_indent = indent;
        if (!in_section || key == NULL) {
            continue;
        }
        const char *k = t;
        size_t klen = sep;
        trim(&k, &klen);
        if (klen != strlen(key) || strncasecmp(k, key, klen) != 0) {
            continue;
        }
        const char *v = t + sep + 1;
        size_t n = tlen - sep - 1;
        /* A value is a C string for every caller: one holding a NUL byte
         * ends there, and is trimmed as such (else it would come back
         * cut at the NUL but untrimmed, and "too long" when it fits). */
        const char *nul = memchr(v, '\0', n);
        if (nul != NULL) {
            n = (size_t)(nul - v);
        }
        trim(&v, &n);
        *val = v;
        *vlen = n;
    }
}

bool aws_ini_has_section(const char *buf, size_t len, const char *section)
{
    bool found;
    const char *val;
    size_t vlen;
    scan(buf, len, section, NULL, &found, &val, &vlen);
    return found;
}

int aws_ini_get(const char *buf, size_t len, const char *section,
                const char *key, char *out, size_t outlen)
{
    bool found;
    const char *val;
    size_t vlen;
    if (outlen > 0) {
        out[0] = '\0';
    }
    scan(buf, len, section, key, &found, &val, &vlen);
    if (val == NULL) {
        return 0;
    }
    if (vlen >= outlen) {
        return -1;
    }
    memcpy(out, val, vlen);
    out[vlen] = '\0';
    return 1;
}
