/*
 * test_membership.h: what the unit tests of membership users share. Header
 * only; the test program links larder_membership.
 */
#ifndef LARDER_TEST_MEMBERSHIP_H
#define LARDER_TEST_MEMBERSHIP_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "membership.h"

/*
 * Leaves a live record for node id under the local: membership in dir,
 * written by a process that has exited since, as a node killed with -9
 * leaves it: the member counts as not live, and its ready records do not
 * count. Returns 0, or -1 if that could not be arranged.
 */
static inline int test_memb_dead_live_record(const char *dir, const char *id)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        char uri[4200], err[256];
        struct membership *m = NULL;
        snprintf(uri, sizeof(uri), "local:%s", dir);
        int ok = membership_open(uri, &m, err, sizeof(err)) == MEMB_OK &&
                 membership_live_set(m, id, "ready") == MEMB_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        return -1;
    }
    return 0;
}

#endif
