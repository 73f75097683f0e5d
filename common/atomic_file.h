/*
 * atomic_file.h: writing a file so that readers see either no file (or the
 * old one) or the complete new one, even across a crash. The bytes go to a
 * temporary file "<path>.tmp.<pid>" in the same directory; commit fsyncs
 * it, renames it over path and fsyncs the directory. A crash before the
 * rename leaves only the temporary file, which no reader opens.
 *
 * One atomic_file per path at a time in a process (the temporary name
 * carries only the process id).
 *
 * A file that is disposable (a loader's scratch segment) or verified
 * before every use (a node's copy of a store object, checked against its
 * checksum whenever it is mapped) may skip the fsyncs: set no_sync after
 * atomic_file_open(). The rename still makes it appear whole to readers
 * of a running system; after a crash it may be empty or partial under its
 * final name, which the verification catches. Skipping them took a 10M-row
 * load from 5.8 s to 3.6 s here (docs/bench/load.md).
 */
#ifndef LARDER_ATOMIC_FILE_H
#define LARDER_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>

struct atomic_file {
    int fd;     /* the temporary file, -1 when none is open */
    char *path; /* owned */
    char *tmp;  /* owned */
    bool no_sync; /* skip the fsyncs at commit (see above) */
};

/*
 * Creates the temporary file for path (its directory must exist; see
 * atomic_file_make_dirs). Returns 0, or -1 with err and errno set.
 */
int atomic_file_open(struct atomic_file *f, const char *path, char *err,
                     size_t errlen);

/* Writes all n bytes (retrying short writes). 0, or -1 with err. */
int atomic_file_write(struct atomic_file *f, const void *data, size_t n,
                      char *err, size_t errlen);

/*
 * fsync, close, rename over path, fsync the directory (no fsyncs with
 * no_sync). Returns 0, or -1 with err (the temporary file is then
 * removed). f is reset either way.
 */
int atomic_file_commit(struct atomic_file *f, char *err, size_t errlen);

/*
 * Moves the complete file src into place as dst, with the same guarantee
 * as a commit: fsyncs src, renames it over dst and fsyncs dst's directory.
 * dst's directory must exist. Returns 0, or -1 with err and errno set
 * (EXDEV: src and dst are on different file systems; nothing changed).
 */
int atomic_file_move(const char *src, const char *dst, char *err,
                     size_t errlen);

/* Closes and removes the temporary file, if any; f is reset. Idempotent. */
void atomic_file_abort(struct atomic_file *f);

/*
 * Creates dir and its missing parents (like mkdir -p), fsyncing the parent
 * of each directory it creates. Returns 0, or -1 with err.
 */
int atomic_file_make_dirs(const char *dir, char *err, size_t errlen);

/* Creates the missing parent directories of the file at path. */
int atomic_file_make_parent_dirs(const char *path, char *err, size_t errlen);

#endif
