/*
 * webhdfs_json.h: the JSON bodies of the WebHDFS REST API that larder
 * reads, parsed from memory (no I/O): a GETFILESTATUS answer
 * ({"FileStatus":{...}}), a LISTSTATUS answer
 * ({"FileStatuses":{"FileStatus":[...]}}) and the error body of a failed
 * call ({"RemoteException":{"exception":...,"javaClassName":...,
 * "message":...}}). object_source_webhdfs.c does the HTTP around them.
 */
#ifndef LARDER_WEBHDFS_JSON_H
#define LARDER_WEBHDFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct webhdfs_status {
    char *name;        /* pathSuffix, malloc'd; "" for GETFILESTATUS */
    bool is_dir;       /* type DIRECTORY (FILE and SYMLINK are not) */
    bool is_file;      /* type FILE */
    uint64_t length;   /* bytes; 0 for a directory */
};

/*
 * Parses a GETFILESTATUS body into *out (the caller frees out->name with
 * webhdfs_status_free). 0, or -1 with err when the body is not a
 * FileStatus object (errno EBADMSG, or ENOMEM).
 */
int webhdfs_parse_file_status(const char *body, size_t len,
                              struct webhdfs_status *out, char *err,
                              size_t errlen);

/*
 * Parses a LISTSTATUS body: *out gets a malloc'd array of *n entries in
 * the order of the body (the caller frees it with webhdfs_list_free).
 * Every entry must have a type, a length and a pathSuffix that is a
 * single path component (not empty, no '/', not "." or ".."), else the
 * whole body is refused: -1, errno EBADMSG, with err. ENOMEM likewise.
 */
int webhdfs_parse_list(const char *body, size_t len,
                       struct webhdfs_status **out, size_t *n, char *err,
                       size_t errlen);

void webhdfs_status_free(struct webhdfs_status *s);
void webhdfs_list_free(struct webhdfs_status *list, size_t n);

struct webhdfs_error {
    char exception[128]; /* e.g. "FileNotFoundException"; "" if absent */
    char java_class[256];
    char message[512];
};

/*
 * Parses a RemoteException body. Returns 0 when the body is one (fields
 * missing from it are left ""), -1 when it is not (not JSON, or another
 * shape), in which case *out is all "".
 */
int webhdfs_parse_remote_exception(const char *body, size_t len,
                                   struct webhdfs_error *out);

/*
 * The errno an exception stands for: ENOENT for FileNotFoundException,
 * EACCES for AccessControlException, SecurityException and
 * InvalidToken; EIO for anything else (unknown or empty). Names are
 * matched with or without their Java package (javaClassName works too).
 */
int webhdfs_exception_errno(const char *exception);

#endif
