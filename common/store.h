/*
 * store.h: where snapshot files live between the loader and the nodes.
 *
 * A store is named by URI: "file:///abs/dir" (or "file://rel/dir"), or
 * "s3://bucket/prefix" (S3 or any S3-compatible server: s3_client.h says
 * how the endpoint, credentials and retries are chosen). Objects are
 * addressed by relative keys such as "<table>/v-000012/part-00017.seg";
 * in S3 the object is "prefix/<key>". A put is atomic: readers never see a
 * partly written object (file://: temporary name, fsync, rename; S3 makes
 * an object visible only whole).
 */
#ifndef LARDER_STORE_H
#define LARDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Opens a store; -1 with a message in err for a bad URI. A relative
 * file:// directory is made absolute (against the current directory), so
 * store_uri() names the same objects from any process. Opening does not
 * create the directory; puts create what they need.
 */
int store_open(const char *uri, struct store **out, char *err, size_t errlen);

void store_close(struct store **s);

/*
 * Copies the local file at src_path into the store under key. Returns 0 or
 * -1 with err. *checksum_out (if not NULL) receives the xxh3-64 of the
 * bytes copied.
 */
int store_put_file(struct store *s, const char *key, const char *src_path,
                   uint64_t *checksum_out, char *err, size_t errlen);

/*
 * Puts the local file at src_path into the store under key, as
 * store_put_file() does, and removes src_path: for a caller that has no
 * further use for the file (the loader's built segments). A file:// store
 * on the same file system takes the file by rename, after an fsync, so its
 * bytes are neither read nor written again; otherwise they are copied and
 * the copy's xxh3-64 must equal expected_checksum (unless that is 0).
 * Returns 0 (src_path is gone), or -1 with err (src_path may remain; a
 * copy that does not match is removed from the store again).
 */
int store_move_file(struct store *s, const char *key, const char *src_path,
                    uint64_t expected_checksum, char *err, size_t errlen);

/* Stores a small object from memory (manifests). */
int store_put_bytes(struct store *s, const char *key, const void *data,
                    size_t len, char *err, size_t errlen);

/*
 * Copies the object at key to dst_path (atomically: temporary file,
 * rename), verifying that its xxh3-64 equals expected_checksum unless that
 * is 0. The copy is not fsynced: it is a cache of the store, and a caller
 * verifies it against its checksum before every use (a node does, when it
 * maps a segment), so after a crash a damaged copy is fetched again. Creates dst_path's missing parent directories. Returns 0, -1 with
 * err (a missing object's message names its key; a checksum mismatch says
 * so and leaves dst_path as it was: no new file).
 */
int store_get_file(struct store *s, const char *key, const char *dst_path,
                   uint64_t expected_checksum, char *err, size_t errlen);

/*
 * Unmaps the copy buffer the calling thread keeps between store_get_file()
 * and store_put_file() copies (STORE_COPY_BUF, 4 MiB), if it has one. A
 * node calls it when a pull is over, so that an idle node holds none.
 * Thread exit unmaps it as well.
 */
void store_release_copy_buffer(void);

/*
 * Limits store_get_file() copies to bytes_per_s on average, summed over
 * the threads using s (0: no limit, the default): a node's
 * --pull-bandwidth, so a pull never saturates the network or the disk
 * under the requests it serves. Call it before the copies start.
 */
int store_set_bandwidth(struct store *s, uint64_t bytes_per_s);

/*
 * Reads a small object (at most 256 MiB) into a malloc'd buffer the caller
 * frees; the buffer has a NUL after its *len bytes, for text.
 */
int store_get_bytes(struct store *s, const char *key, char **data,
                    size_t *len, char *err, size_t errlen);

/*
 * Deletes the object at key; deleting one that does not exist succeeds
 * (a retry of a half-done cleanup must not fail). file:// also removes the
 * key's directories that become empty. Returns 0, or -1 with err.
 */
int store_delete(struct store *s, const char *key, char *err, size_t errlen);

/*
 * The path of the local file that holds key, for stores whose objects are
 * files on this machine (file://), so a reader can map an object in place
 * instead of copying it. Returns 0, or -1 with err for a store without
 * local files (s3://) or a path longer than outlen. Says nothing about
 * whether the object exists.
 */
int store_local_path(const struct store *s, const char *key, char *out,
                     size_t outlen, char *err, size_t errlen);

/*
 * True if key is a valid object key: '/'-separated components of
 * [A-Za-z0-9_.-], none empty, "." or "..", at most 1024 bytes. Every
 * function above refuses other keys.
 */
bool store_key_valid(const char *key);

/* Builds the URI of a key, e.g. for a version's manifest_uri. */
void store_uri(const struct store *s, const char *key, char *out,
               size_t outlen);

#endif
