/*
 * This file implements larder's logger: one line per event on stderr,
 * written with a single write() so lines from different threads never
 * interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_LVL_NOTICE;

static const char *const level_names[] = {"debug", "verbose", "notice",
                                          "warning"};
static const char level_marks[] = {'.', '-', '*', '#'};

void log_set_level(enum log_level level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
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

void log_write(enum log_level level, const char *fmt, ...)
{
    if ((int)level < __atomic_load_n(&log_level, __ATOMIC_RELAXED)) {
        return;
    }
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%d:%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c ", (int)getpid(),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                     level_marks[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
