/*
 * store_backend.h: the interface between store.c, which parses store URIs,
 * checks keys and dispatches by scheme, and one backend per scheme
 * (store_file.c for file://, store_s3.c for s3://; a new scheme plugs in
 * by adding its table to the list in store.c). Internal to common/.
 *
 * Backends receive keys already checked (store_key_valid) and report
 * failures as -1 with a message naming the key.
 */
#ifndef LARDER_STORE_BACKEND_H
#define LARDER_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Limits shared by every backend. */
#define STORE_MAX_SMALL_OBJECT ((size_t)256 << 20) /* store_get_bytes */
/* Streaming copies: at least one 2 MiB huge page, so that whole-buffer
 * writes can put a copied segment in huge page-cache folios. */
#define STORE_COPY_BUF ((size_t)4 << 20)

/*
 * Paces copies to a byte rate (store_set_bandwidth()): a backend calls
 * store_pacer_wait() after each chunk it moved, which sleeps as long as
 * needed to keep the average at the rate. Thread-safe; NULL means no
 * limit (the call returns at once).
 */
struct store_pacer;
void store_pacer_wait(struct store_pacer *p, uint64_t bytes);

/* A source read as read(2): > 0 bytes, 0 at its end, -1 with err. */
typedef ssize_t (*store_read_fn)(void *src, void *buf, size_t len,
                                 char *err, size_t errlen);

/*
 * What every backend's put_file and get_file share: copies everything
 * read from src into dst_path atomically (temporary file, rename; fsynced
 * when sync), through a STORE_COPY_BUF buffer, hashing it (*checksum) and
 * pacing with pacer (NULL: no limit). When expected_checksum is not 0 and
 * the hash differs, nothing is left at dst_path and err says "checksum
 * mismatch for <what>: expected X, got Y" (errno EIO). Creates dst_path's
 * missing directories. Returns 0, or -1 with err.
 */
int store_copy_stream(store_read_fn read, void *src, const char *what,
                      const char *dst_path, bool sync,
                      uint64_t expected_checksum, uint64_t *checksum,
                      struct store_pacer *pacer, char *err, size_t errlen);

struct store_backend {
    const char *scheme; /* with its "://", e.g. "file://" */
    /* location: the URI after the scheme, trailing slashes removed. */
    int (*open)(const char *location, void **state, char *err,
                size_t errlen);
    void (*close)(void *state);
    /* The canonical location (file://: an absolute path), for URIs. */
    const char *(*location)(const void *state);
    int (*put_file)(void *state, const char *key, const char *src_path,
                    uint64_t *checksum_out, char *err, size_t errlen);
    /*
     * Moves the local file src_path to the object key without copying it
     * (optional): 0 done, 1 when it cannot here (another file system), so
     * the caller copies instead, -1 with err.
     */
    int (*move_file)(void *state, const char *key, const char *src_path,
                     char *err, size_t errlen);
    int (*put_bytes)(void *state, const char *key, const void *data,
                     size_t len, char *err, size_t errlen);
    int (*get_file)(void *state, const char *key, const char *dst_path,
                    uint64_t expected_checksum, struct store_pacer *pacer,
                    char *err, size_t errlen);
    int (*get_bytes)(void *state, const char *key, char **data, size_t *len,
                     char *err, size_t errlen);
    /* Removes the object; a missing one is not an error. */
    int (*remove)(void *state, const char *key, char *err, size_t errlen);
    /*
     * The local file holding key, for backends whose objects are files on
     * this machine; NULL for a backend without local files.
     */
    int (*local_path)(const void *state, const char *key, char *out,
                      size_t outlen, char *err, size_t errlen);
};

extern const struct store_backend store_file_backend;
extern const struct store_backend store_s3_backend;

#endif
