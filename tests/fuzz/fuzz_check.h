/*
 * fuzz_check.h: CHECK(cond), the assertion of the fuzz targets. Unlike
 * assert(3) it is never compiled out, and it names the file and line, so
 * libFuzzer reports a broken invariant as a crash with a readable reason.
 */
#ifndef LARDER_FUZZ_CHECK_H
#define LARDER_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
