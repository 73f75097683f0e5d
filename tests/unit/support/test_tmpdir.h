/*
 * test_tmpdir.h: the temporary directories unit tests work in. Header
 * only, for the test programs of every component.
 */
#ifndef LARDER_TEST_TMPDIR_H
#define LARDER_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int test_tmpdir_rm_entry(const char *path,
                                       const struct stat *sb, int flag,
                                       struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything under it; quiet when it is gone already. */
static inline void test_tmpdir_remove(const char *dir)
{
    nftw(dir, test_tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
