/*
 * This file implements the fuzz target of the ACL file parser and the
 * password hash codec (node/auth.c): an input is an ACL file's text. A
 * refused input must come with a "SOURCE:LINE: " message; an accepted one
 * must hold only valid users, and writing them out again as an ACL file
 * must parse to the same users on consecutive lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const struct auth_user *u)
{
    size_t len = strlen(u->name);
    CHECK(len >= 1 && len <= AUTH_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        CHECK(u->name[i] >= '!' && u->name[i] <= '~');
    }
    CHECK(u->role == AUTH_ROLE_READER || u->role == AUTH_ROLE_ADMIN);
    CHECK(u->hash.iterations >= AUTH_ITER_MIN &&
          u->hash.iterations <= AUTH_ITER_MAX);
    CHECK(u->hash.salt_len >= AUTH_SALT_MIN &&
          u->hash.salt_len <= AUTH_SALT_MAX);
}

static bool same_user(const struct auth_user *a, const struct auth_user *b)
{
    return strcmp(a->name, b->name) == 0 && a->role == b->role &&
           a->hash.iterations == b->hash.iterations &&
           a->hash.salt_len == b->hash.salt_len &&
           memcmp(a->hash.salt, b->hash.salt, a->hash.salt_len) == 0 &&
           memcmp(a->hash.hash, b->hash.hash, AUTH_HASH_LEN) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_users users = {0}, again = {0};
    char err[512] = "";
    if (auth_acl_parse((const char *)data, size, "f", &users, err,
                       sizeof(err)) != 0) {
        CHECK(strncmp(err, "f:", 2) == 0 && err[2] != '\0');
        auth_users_deinit(&users);
        return 0;
    }
    size_t cap = users.n * (AUTH_NAME_MAX + AUTH_HASH_STR_MAX + 16) + 1;
    char *text = malloc(cap);
    CHECK(text != NULL);
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; i < users.n; i++) {
        char hash[AUTH_HASH_STR_MAX];
        check_valid(&users.v[i]);
        auth_hash_format(&users.v[i].hash, hash, sizeof(hash));
        len += (size_t)snprintf(text + len, cap - len, "user %s %s %s\n",
                                users.v[i].name,
                                auth_role_name(users.v[i].role), hash);
        CHECK(len < cap);
    }
    if (auth_acl_parse(text, len, "again", &again, err, sizeof(err)) != 0) {
        fprintf(stderr, "written users refused: %s\n%s", err, text);
        abort();
    }
    CHECK(again.n == users.n);
    for (size_t i = 0; i < users.n; i++) {
        CHECK(same_user(&users.v[i], &again.v[i]));
        CHECK(again.v[i].line == i + 1);
    }
    free(text);
    auth_users_deinit(&users);
    auth_users_deinit(&again);
    return 0;
}
