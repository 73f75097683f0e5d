/*
 * memfile.h: the one file a fuzz target hands to code that insists on a
 * path (segment_open, the loader's input readers). The file is a memfd,
 * so rewriting it for every input costs no disk I/O, and it is named by
 * its /proc/self/fd/N path, which open(2), fopen(3) and mmap(2) all take.
 */
#ifndef LARDER_FUZZ_MEMFILE_H
#define LARDER_FUZZ_MEMFILE_H

#include <stddef.h>

struct memfile {
    int fd;        /* -1 until memfile_open */
    char path[48]; /* /proc/self/fd/<fd> */
};

/* Creates the (empty) file; name only labels it in /proc. Aborts on error. */
void memfile_open(struct memfile *f, const char *name);

/*
 * Replaces the whole content by data[0, size) and returns the path. Aborts
 * on error: a harness that cannot write its input must not report success.
 */
const char *memfile_set(struct memfile *f, const void *data, size_t size);

#endif
