/*
 * test_proc.h: reads a "<field>: <n> kB" line of a /proc file of this
 * process, such as RssAnon in /proc/self/status or FilePmdMapped in
 * /proc/self/smaps_rollup. Header only, for the test programs of every
 * component.
 */
#ifndef LARDER_TEST_PROC_H
#define LARDER_TEST_PROC_H

#include <stdio.h>
#include <string.h>

/* The kB that path's line "<field>: <n> kB" gives, or -1 if it has none
 * or cannot be read. */
static inline long test_proc_kb(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t flen = strlen(field);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':' &&
            sscanf(line + flen + 1, "%ld", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb;
}

#endif
