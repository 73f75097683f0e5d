/*
 * This file implements memfile.h: a memfd rewritten for each fuzz input.
 */
#include "memfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void memfile_open(struct memfile *f, const char *name)
{
    f->fd = memfd_create(name, MFD_CLOEXEC);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

const char *memfile_set(struct memfile *f, const void *data, size_t size)
{
    if (ftruncate(f->fd, 0) != 0) {
        perror("ftruncate");
        abort();
    }
    const char *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(f->fd, p + done, size - done, (off_t)done);
        if (n <= 0) {
            perror("pwrite");
            abort();
        }
        done += (size_t)n;
    }
    return f->path;
}
