/*
 * work_dir.h: the loader's private scratch directory (run files and
 * segments before they are published), named
 * <parent>/larder-load.<pid>.<random>, and the cleaning up of those that
 * loaders killed before they could remove them left behind.
 */
#ifndef LARDER_WORK_DIR_H
#define LARDER_WORK_DIR_H

#include <stddef.h>

/*
 * Removes the scratch directories under parent whose loader process no
 * longer exists (and that belong to this user), then creates a new one
 * for this process; its path goes to out. parent NULL or "" means $TMPDIR
 * or /tmp. Returns 0 or -1 with err. *reclaimed (if not NULL) receives the
 * number of stale directories removed.
 */
int work_dir_create(const char *parent, char *out, size_t outlen,
                    unsigned *reclaimed, char *err, size_t errlen);

/* Removes a directory and everything in it; 0 or -1 (errno set). */
int work_dir_remove(const char *path);

#endif
