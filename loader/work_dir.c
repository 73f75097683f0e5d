/*
 * This file implements the loader's scratch directories: creation with
 * mkdtemp, recursive removal with nftw, and reclaiming directories of
 * loaders that died (kill -9, a crash, a lost machine), recognised by the
 * process id in their name no longer existing.
 */
#include "work_dir.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define WORK_DIR_PREFIX "larder-load."
#define WORK_DIR_NFTW_FDS 16

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int work_dir_remove(const char *path)
{
    return nftw(path, remove_entry, WORK_DIR_NFTW_FDS,
                FTW_DEPTH | FTW_PHYS);
}

/* The pid in "larder-load.<pid>.<suffix>", or 0 if the name differs. */
static pid_t owner_pid(const char *name)
{
    size_t plen = strlen(WORK_DIR_PREFIX);
    if (strncmp(name, WORK_DIR_PREFIX, plen) != 0) {
        return 0;
    }
    char *end;
    long pid = strtol(name + plen, &end, 10);
    if (end == name + plen || *end != '.' || pid <= 0) {
        return 0;
    }
    return (pid_t)pid;
}

static unsigned reclaim(const char *parent)
{
    DIR *d = opendir(parent);
    if (d == NULL) {
        return 0;
    }
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        pid_t pid = owner_pid(de->d_name);
        if (pid == 0 || pid == getpid()) {
            continue;
        }
        if (kill(pid, 0) == 0 || errno != ESRCH) {
            continue; /* alive, or not ours to judge */
        }
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != getuid()) {
            continue;
        }
        if (work_dir_remove(path) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

int work_dir_create(const char *parent, char *out, size_t outlen,
                    unsigned *reclaimed, char *err, size_t errlen)
{
    if (parent == NULL || parent[0] == '\0') {
        parent = getenv("TMPDIR");
        if (parent == NULL || parent[0] == '\0') {
            parent = "/tmp";
        }
    }
    unsigned n = reclaim(parent);
    if (reclaimed != NULL) {
        *reclaimed = n;
    }
    int len = snprintf(out, outlen, "%s/" WORK_DIR_PREFIX "%ld.XXXXXX",
                       parent, (long)getpid());
    if (len < 0 || (size_t)len >= outlen) {
        snprintf(err, errlen, "work directory path too long");
        return -1;
    }
    if (mkdtemp(out) == NULL) {
        snprintf(err, errlen, "cannot create a work directory under %s: %s",
                 parent, strerror(errno));
        return -1;
    }
    return 0;
}
