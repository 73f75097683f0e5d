/*
 * This file implements larder's logger: one line per event on stderr, as
 * text or as one JSON object, written with a single write() so lines from
 * different threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
    LOG_MSG_MAX = 1024, /* message bytes kept; longer ones are cut */
    LOG_LINE_MAX = 6 * LOG_MSG_MAX + 128, /* a JSON line at worst */
};

static int log_level = LOG_LVL_NOTICE;
static int log_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "verbose", "notice",
                                          "warning"};
static const char level_marks[] = {'.', '-', '*', '#'};

void log_set_level(enum log_level level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

void log_set_format(enum log_format format)
{
    __atomic_store_n(&log_format, (int)format, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
    return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * Length of the valid UTF-8 sequence at s[0, n): 1 to 4, or 0 if the bytes
 * there are not valid UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF included).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return len;
}

/* Appends msg[0, n) to out as the inside of a JSON string; returns the new
 * length. out has room for 6 bytes per input byte. */
static size_t json_escape(char *out, size_t at, const char *msg, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)msg;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char)c;
            i++;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            out[at++] = '\\';
            out[at++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + at, "\\u00", 4);
            out[at + 4] = hex[c >> 4];
            out[at + 5] = hex[c & 15];
            at += 6;
            i++;
        } else {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                memcpy(out + at, "\\ufffd", 6);
                at += 6;
                i++;
            } else {
                memcpy(out + at, s + i, len);
                at += len;
                i += len;
            }
        }
    }
    return at;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if ((int)level < __atomic_load_n(&log_level, __ATOMIC_RELAXED)) {
        return;
    }
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m;
    if (mlen > sizeof(msg) - 1) {
        mlen = sizeof(msg) - 1;
    }
    char ts[64];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    char line[LOG_LINE_MAX];
    size_t len;
    if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == LOG_FORMAT_JSON) {
        int n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%d,"
                         "\"msg\":\"", ts, level_names[level], (int)getpid());
        len = json_escape(line, (size_t)n, msg, mlen);
        line[len++] = '"';
        line[len++] = '}';
    } else {
        int n = snprintf(line, sizeof(line), "%d:%s %c ", (int)getpid(), ts,
                         level_marks[level]);
        memcpy(line + n, msg, mlen);
        len = (size_t)n + mlen;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
