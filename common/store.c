/*
 * This file implements store.h above the backends of store_backend.h: it
 * parses a store URI, picks the backend by scheme, checks every key before
 * a backend sees it and builds object URIs.
 *
 * Keys are relative paths of [A-Za-z0-9_.-] components separated by single
 * '/': no leading or trailing '/', no empty, "." or ".." component, so a
 * key can never name anything outside its store.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store.h"

#include "store_backend.h"

#include "atomic_file.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The backends, by scheme. */
static const struct store_backend *const store_backends[] = {
    &store_file_backend,
    &store_s3_backend,
};

#define STORE_KEY_MAX 1024

/* A token-bucket pacer without a burst: free_ns is when the copies sent
 * so far would have finished at the rate. */
struct store_pacer {
    pthread_mutex_t lock;
    uint64_t bytes_per_s;
    uint64_t free_ns; /* CLOCK_MONOTONIC */
};

struct store {
    const struct store_backend *be;
    void *state;
    char *uri; /* scheme + canonical location */
    struct store_pacer *pacer; /* NULL: no limit */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void store_pacer_wait(struct store_pacer *p, uint64_t bytes)
{
    if (p == NULL || bytes == 0) {
        return;
    }
    uint64_t now = mono_ns();
    pthread_mutex_lock(&p->lock);
    if (p->free_ns < now) {
        p->free_ns = now;
    }
    /* bytes / rate seconds, in ns, without overflow for any file size */
    p->free_ns += bytes / p->bytes_per_s * 1000000000u +
                  bytes % p->bytes_per_s * 1000000000u / p->bytes_per_s;
    uint64_t until = p->free_ns;
    pthread_mutex_unlock(&p->lock);
    struct timespec ts = {(time_t)(until / 1000000000u),
                          (long)(until % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

/*
 * Copy buffers. Each thread keeps the STORE_COPY_BUF buffer of its last
 * copy, so a node's pull, hundreds of segment copies back to back, faults
 * its pages in once instead of once per copy (fresh pages cost a pull of
 * 10M rows about 0.3 s). The buffer is mapped rather than malloc'd because
 * glibc would keep a freed block this large in the thread's arena for
 * good; it is unmapped by store_release_copy_buffer() or when its thread
 * exits. Without a thread-specific key each copy maps its own.
 */
static pthread_key_t copy_buf_key;
static bool copy_buf_keyed;
static pthread_once_t copy_buf_once = PTHREAD_ONCE_INIT;

static void copy_buf_unmap(void *buf)
{
    munmap(buf, STORE_COPY_BUF);
}

static void copy_buf_make_key(void)
{
    copy_buf_keyed = pthread_key_create(&copy_buf_key, copy_buf_unmap) == 0;
}

/* Detaches and returns the buffer the calling thread keeps, or NULL. */
static char *copy_buf_detach(void)
{
    pthread_once(&copy_buf_once, copy_buf_make_key);
    char *buf = copy_buf_keyed ? pthread_getspecific(copy_buf_key) : NULL;
    if (buf != NULL) {
        pthread_setspecific(copy_buf_key, NULL);
    }
    return buf;
}

/* The calling thread's buffer (detached until copy_buf_give), or a new
 * one; NULL if out of memory. */
static char *copy_buf_take(void)
{
    char *kept = copy_buf_detach();
    if (kept != NULL) {
        return kept;
    }
    void *buf = mmap(NULL, STORE_COPY_BUF, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return buf == MAP_FAILED ? NULL : buf;
}

/* Keeps buf as the calling thread's buffer, or unmaps it. */
static void copy_buf_give(char *buf)
{
    if (!copy_buf_keyed || pthread_getspecific(copy_buf_key) != NULL ||
        pthread_setspecific(copy_buf_key, buf) != 0) {
        copy_buf_unmap(buf);
    }
}

void store_release_copy_buffer(void)
{
    char *buf = copy_buf_detach();
    if (buf != NULL) {
        copy_buf_unmap(buf);
    }
}

int store_copy_stream(store_read_fn read, void *src, const char *what,
                      const char *dst_path, bool sync,
                      uint64_t expected_checksum, uint64_t *checksum,
                      struct store_pacer *pacer, char *err, size_t errlen)
{
    struct atomic_file af = {.fd = -1};
    if (atomic_file_make_parent_dirs(dst_path, err, errlen) != 0 ||
        atomic_file_open(&af, dst_path, err, errlen) != 0) {
        return -1;
    }
    af.no_sync = !sync;
    char *buf = copy_buf_take();
    if (buf == NULL) {
        atomic_file_abort(&af);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    int rc = 0;
    bool eof = false;
    while (rc == 0 && !eof) {
        /* The buffer is filled before it is written, whatever sizes the
         * source reads in (an HTTP body comes in small pieces): whole
         * STORE_COPY_BUF writes let the page cache keep the file in huge
         * folios, which a node then maps with 2 MiB pages (segment.c). */
        size_t have = 0;
        while (have < STORE_COPY_BUF) {
            ssize_t n = read(src, buf + have, STORE_COPY_BUF - have, err,
                             errlen);
            if (n <= 0) {
                rc = n < 0 ? -1 : 0;
                eof = true;
                break;
            }
            have += (size_t)n;
        }
        if (rc != 0 || have == 0) {
            break;
        }
        XXH3_64bits_update(&st, buf, have);
        if (atomic_file_write(&af, buf, have, err, errlen) != 0) {
            rc = -1;
            break;
        }
        store_pacer_wait(pacer, (uint64_t)have);
    }
    copy_buf_give(buf);
    uint64_t sum = XXH3_64bits_digest(&st);
    if (rc == 0 && expected_checksum != 0 && sum != expected_checksum) {
        snprintf(err, errlen,
                 "checksum mismatch for %s: expected %016" PRIx64
                 ", got %016" PRIx64, what, expected_checksum, sum);
        rc = -1;
        errno = EIO;
    }
    if (rc != 0) {
        int saved = errno;
        atomic_file_abort(&af);
        errno = saved;
        return -1;
    }
    *checksum = sum;
    return atomic_file_commit(&af, err, errlen);
}

int store_set_bandwidth(struct store *s, uint64_t bytes_per_s)
{
    if (bytes_per_s == 0) {
        if (s->pacer != NULL) {
            pthread_mutex_destroy(&s->pacer->lock);
            free(s->pacer);
            s->pacer = NULL;
        }
        return 0;
    }
    if (s->pacer == NULL) {
        s->pacer = calloc(1, sizeof(*s->pacer));
        if (s->pacer == NULL) {
            return -1;
        }
        pthread_mutex_init(&s->pacer->lock, NULL);
    }
    s->pacer->bytes_per_s = bytes_per_s;
    return 0;
}

bool store_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > STORE_KEY_MAX) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = key[i];
        if (c == '/' || c == '\0') {
            size_t len = i - start;
            if (len == 0 || (len == 1 && key[start] == '.') ||
                (len == 2 && key[start] == '.' && key[start + 1] == '.')) {
                return false;
            }
            start = i + 1;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int store_open(const char *uri, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct store_backend *be = NULL;
    size_t nb = sizeof(store_backends) / sizeof(store_backends[0]);
    for (size_t i = 0; i < nb && be == NULL; i++) {
        size_t n = strlen(store_backends[i]->scheme);
        if (strncmp(uri, store_backends[i]->scheme, n) == 0) {
            be = store_backends[i];
        }
    }
    if (be == NULL) {
        snprintf(err, errlen,
                 "store '%s': unsupported URI (expected file://DIR or "
                 "s3://BUCKET/PREFIX)",
                 uri);
        return -1;
    }
    size_t scheme_len = strlen(be->scheme);
    char *location = strdup(uri + scheme_len);
    struct store *s = calloc(1, sizeof(*s));
    if (s == NULL || location == NULL) {
        free(location);
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = strlen(location);
    while (n > 1 && location[n - 1] == '/') {
        location[--n] = '\0';
    }
    int rc = -1;
    if (n == 0) {
        snprintf(err, errlen, "store '%s': no location after %s", uri,
                 be->scheme);
    } else if (be->open(location, &s->state, err, errlen) == 0) {
        const char *canon = be->location(s->state);
        size_t len = scheme_len + strlen(canon) + 1;
        s->uri = malloc(len);
        if (s->uri == NULL) {
            be->close(s->state);
            snprintf(err, errlen, "out of memory");
        } else {
            snprintf(s->uri, len, "%s%s", be->scheme, canon);
            rc = 0;
        }
    }
    free(location);
    if (rc != 0) {
        free(s);
        return -1;
    }
    s->be = be;
    *out = s;
    return 0;
}

void store_close(struct store **sp)
{
    struct store *s = *sp;
    if (s == NULL) {
        return;
    }
    s->be->close(s->state);
    store_set_bandwidth(s, 0);
    free(s->uri);
    free(s);
    *sp = NULL;
}

/* Refuses a bad key with a message; 0 if the key is fine. */
static int check_key(const char *key, char *err, size_t errlen)
{
    if (store_key_valid(key)) {
        return 0;
    }
    snprintf(err, errlen, "invalid store key '%.200s'", key);
    errno = EINVAL;
    return -1;
}

int store_put_file(struct store *s, const char *key, const char *src_path,
                   uint64_t *checksum_out, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    return s->be->put_file(s->state, key, src_path, checksum_out, err,
                           errlen);
}

int store_move_file(struct store *s, const char *key, const char *src_path,
                    uint64_t expected_checksum, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    if (s->be->move_file != NULL) {
        int rc = s->be->move_file(s->state, key, src_path, err, errlen);
        if (rc <= 0) {
            return rc;
        }
    }
    uint64_t sum = 0;
    if (s->be->put_file(s->state, key, src_path, &sum, err, errlen) != 0) {
        return -1;
    }
    if (expected_checksum != 0 && sum != expected_checksum) {
        char ignored[256];
        s->be->remove(s->state, key, ignored, sizeof(ignored));
        snprintf(err, errlen, "checksum %016" PRIx64 " of the copy differs "
                 "from the file's %016" PRIx64 " (the copy is removed)", sum,
                 expected_checksum);
        errno = EIO;
        return -1;
    }
    if (unlink(src_path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", src_path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int store_put_bytes(struct store *s, const char *key, const void *data,
                    size_t len, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    return s->be->put_bytes(s->state, key, data, len, err, errlen);
}

int store_get_file(struct store *s, const char *key, const char *dst_path,
                   uint64_t expected_checksum, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    return s->be->get_file(s->state, key, dst_path, expected_checksum,
                           s->pacer, err, errlen);
}

int store_get_bytes(struct store *s, const char *key, char **data,
                    size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    return s->be->get_bytes(s->state, key, data, len, err, errlen);
}

int store_delete(struct store *s, const char *key, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    return s->be->remove(s->state, key, err, errlen);
}

int store_local_path(const struct store *s, const char *key, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    if (check_key(key, err, errlen) != 0) {
        return -1;
    }
    if (s->be->local_path == NULL) {
        snprintf(err, errlen, "store %s has no local files", s->uri);
        return -1;
    }
    return s->be->local_path(s->state, key, out, outlen, err, errlen);
}

void store_uri(const struct store *s, const char *key, char *out,
               size_t outlen)
{
    snprintf(out, outlen, "%s/%s", s->uri, key);
}
