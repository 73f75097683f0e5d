/*
 * This file implements progress.h: a line rewritten in place with a
 * carriage return and "erase to end of line" (ESC [ K), which every
 * terminal the loader will meet understands.
 */
#include "progress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "capacity.h"

#define PROGRESS_ERASE "\r\033[K"

struct progress {
    int fd;
    uint64_t total;
    double start;     /* monotonic seconds */
    double last_draw; /* 0: never drawn */
    bool drawn;       /* the line is on the screen */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress *progress_create(int fd, uint64_t total_bytes)
{
    if (!isatty(fd)) {
        return NULL;
    }
    struct progress *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->fd = fd;
    p->total = total_bytes;
    p->start = now_s();
    return p;
}

/* Writes all of s; a terminal that fails to take it is left as it is. */
static void put(const struct progress *p, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(p->fd, s, n);
        if (w <= 0) {
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* Appends "m:ss" or "h:mm:ss" for s seconds. */
static int format_duration(char *out, size_t outlen, double s)
{
    unsigned long long t = (unsigned long long)(s + 0.5);
    if (t >= 3600) {
        return snprintf(out, outlen, "%llu:%02llu:%02llu", t / 3600,
                        t / 60 % 60, t % 60);
    }
    return snprintf(out, outlen, "%llu:%02llu", t / 60, t % 60);
}

int progress_format(char *out, size_t outlen, uint64_t rows, uint64_t bytes,
                    uint64_t total, double seconds)
{
    char done[32], all[32], rate[32];
    capacity_format_bytes(bytes, done, sizeof(done));
    bool known = total > 0 && bytes <= total;
    double bps = seconds > 0 ? (double)bytes / seconds : 0;
    capacity_format_bytes((uint64_t)bps, rate, sizeof(rate));
    int n;
    if (known) {
        capacity_format_bytes(total, all, sizeof(all));
        n = snprintf(out, outlen, "read %llu rows, %s of %s (%.0f%%), ",
                     (unsigned long long)rows, done, all,
                     100.0 * (double)bytes / (double)total);
    } else {
        n = snprintf(out, outlen, "read %llu rows, %s, ",
                     (unsigned long long)rows, done);
    }
    if (n < 0 || (size_t)n >= outlen) {
        return n;
    }
    int m = snprintf(out + n, outlen - (size_t)n, "%.0f rows/s, %s/s",
                     seconds > 0 ? (double)rows / seconds : 0.0, rate);
    if (m < 0 || (size_t)(n + m) >= outlen) {
        return m < 0 ? m : n + m;
    }
    n += m;
    if (known && bps > 0) {
        char eta[32];
        format_duration(eta, sizeof(eta), (double)(total - bytes) / bps);
        m = snprintf(out + n, outlen - (size_t)n, ", ETA %s", eta);
        n = m < 0 ? m : n + m;
    }
    return n;
}

void progress_update(struct progress *p, uint64_t rows, uint64_t bytes)
{
    if (p == NULL) {
        return;
    }
    double t = now_s();
    if (p->last_draw != 0 &&
        (t - p->last_draw) * 1000 < PROGRESS_INTERVAL_MS) {
        return;
    }
    p->last_draw = t;
    char text[200], line[256];
    if (progress_format(text, sizeof(text), rows, bytes, p->total,
                        t - p->start) < 0) {
        return;
    }
    int n = snprintf(line, sizeof(line), "\r%s\033[K", text);
    put(p, line, (size_t)n);
    p->drawn = true;
}

void progress_clear(struct progress *p)
{
    if (p == NULL || !p->drawn) {
        return;
    }
    put(p, PROGRESS_ERASE, sizeof(PROGRESS_ERASE) - 1);
    p->drawn = false;
}

void progress_destroy(struct progress **pp)
{
    progress_clear(*pp);
    free(*pp);
    *pp = NULL;
}
