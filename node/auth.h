/*
 * auth.h: who may talk to a node, and what they may do.
 *
 * Passwords are never kept in plain text. Each is stored as a salted
 * PBKDF2-HMAC-SHA256 hash, written `pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX`
 * (`larderd --hash-password` prints one), and checked by deriving the hash
 * of the offered password and comparing the two in constant time.
 *
 * A user table lists the users a node accepts: the `default` user from
 * --requirepass (role admin) and the users of an ACL file (--acl-file), one
 * `user NAME ROLE HASH` line each, ROLE being `reader` or `admin`. A table
 * is immutable once published. Reloading (SIGHUP, CONFIG SET) builds a new
 * table with the next generation number and publishes it with one atomic
 * pointer store; workers load the pointer inside their read section (the
 * batch epoch of qsbr.h), so an old table is freed only once no worker can
 * still hold it.
 *
 * Each connection keeps an auth_session: the user it authenticated as, that
 * user's role, and the generation it was last checked against. When the
 * published generation moves on, the session is checked again on the
 * client's next command: a user that is gone loses access, a user whose
 * role changed gets the new role, a user whose password changed stays
 * logged in (as in Redis).
 *
 * Protected mode: a node bound to a non-loopback address refuses a
 * configuration without any password, unless protected mode is off.
 */
#ifndef LARDER_AUTH_H
#define LARDER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_SCHEME "pbkdf2-sha256"
#define AUTH_HASH_LEN 32    /* SHA-256 output */
#define AUTH_SALT_LEN 16    /* salt of newly made hashes */
#define AUTH_SALT_MIN 8     /* shortest salt accepted in a hash */
#define AUTH_SALT_MAX 64
#define AUTH_ITER_MIN 1000  /* iteration counts accepted in a hash */
#define AUTH_ITER_MAX 10000000
#define AUTH_NAME_MAX 64    /* longest user name */
#define AUTH_USERS_MAX 100000
#define AUTH_FILE_MAX (16u << 20) /* largest ACL file read */
/* Longest formatted hash, with its NUL. */
#define AUTH_HASH_STR_MAX (sizeof(AUTH_SCHEME) + 12 + 2 * AUTH_SALT_MAX + \
                           2 * AUTH_HASH_LEN + 4)
#define AUTH_DEFAULT_USER "default"

enum auth_role {
    AUTH_ROLE_READER = 1, /* commands flagged CMD_READER only */
    AUTH_ROLE_ADMIN = 2,  /* every command */
};

/* A salted password hash. */
struct auth_hash {
    uint32_t iterations;
    uint8_t salt_len;
    uint8_t salt[AUTH_SALT_MAX];
    uint8_t hash[AUTH_HASH_LEN];
};

/*
 * Hashes a password with a fresh random salt. Returns 0, or -1 if the
 * random generator or the derivation failed.
 */
int auth_hash_password(const char *pw, size_t pwlen, uint32_t iterations,
                       struct auth_hash *out);

/* Writes `pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX` (lowercase hex). */
void auth_hash_format(const struct auth_hash *h, char *out, size_t outlen);

/*
 * Parses the formatted form (hex in either case). Returns 0, or -1 with
 * the reason in err.
 */
int auth_hash_parse(const char *s, size_t len, struct auth_hash *out,
                    char *err, size_t errlen);

/*
 * True if pw hashes to h. Costs h->iterations HMAC rounds whatever the
 * password; the hashes are compared with CRYPTO_memcmp.
 */
bool auth_hash_verify(const struct auth_hash *h, const char *pw,
                      size_t pwlen);

const char *auth_role_name(enum auth_role role);

struct auth_user {
    char name[AUTH_NAME_MAX + 1];
    enum auth_role role;
    struct auth_hash hash;
    unsigned line; /* line of the ACL file; 0 for --requirepass */
};

/* A growable list of users, as parsed from an ACL file. Owns v. */
struct auth_users {
    struct auth_user *v;
    size_t n;
    size_t cap;
};

void auth_users_deinit(struct auth_users *u);

/*
 * Parses the text of an ACL file (no I/O): lines of `user NAME ROLE HASH`,
 * blank lines and `#` comments; CRLF line ends are accepted. Appends the
 * users to *out. Returns 0, or -1 with "SOURCE:LINE: reason" in err (and
 * *out keeps what was appended before the bad line).
 */
int auth_acl_parse(const char *text, size_t len, const char *source,
                   struct auth_users *out, char *err, size_t errlen);

/* Reads and parses an ACL file (at most AUTH_FILE_MAX bytes). */
int auth_acl_load(const char *path, struct auth_users *out, char *err,
                  size_t errlen);

/* An immutable set of users, sorted by name. */
struct auth_table {
    uint64_t generation; /* 1 for the first table, +1 per reload */
    bool required;       /* clients must authenticate */
    struct auth_hash dummy; /* verified against for unknown users */
    struct auth_table *retired_next; /* owned by struct auth once retired */
    size_t nusers;
    struct auth_user users[];
};

/*
 * Builds a table from the ACL file's users and, if defpass is not NULL,
 * the default user with that hash (role admin). required is true if there
 * is a password or an ACL file (has_acl_file), even one with no users.
 * dummy_iterations sets the cost of a check for an unknown user. Returns
 * the table (generation 0; the caller frees it with free()), or NULL with
 * the reason in err (a duplicate user, "default" defined twice).
 */
struct auth_table *auth_table_create(const struct auth_users *users,
                                     const struct auth_hash *defpass,
                                     bool has_acl_file,
                                     uint32_t dummy_iterations, char *err,
                                     size_t errlen);

/* The user called name[0, len), or NULL. */
const struct auth_user *auth_table_find(const struct auth_table *t,
                                        const char *name, size_t len);

/*
 * Checks a user name and password: the user if they match, else NULL. The
 * time taken does not reveal whether the user exists (an unknown user is
 * checked against the table's dummy hash).
 */
const struct auth_user *auth_table_verify(const struct auth_table *t,
                                          const char *name, size_t namelen,
                                          const char *pw, size_t pwlen);

/* One connection's identity. Zero-initialised: not yet checked. */
struct auth_session {
    uint64_t generation; /* of the table last checked against; 0: none */
    bool authenticated;
    enum auth_role role;
    char user[AUTH_NAME_MAX + 1];
};

/*
 * Brings a session up to date with table t (call when the generations
 * differ). Without required auth every session is the default user, an
 * admin. Otherwise an authenticated session keeps its user if t still
 * has it (with t's role for it) and loses access if not; an
 * unauthenticated one stays so.
 */
void auth_session_refresh(struct auth_session *s, const struct auth_table *t);

/*
 * AUTH: checks the credentials against t and, if they are right, makes the
 * session that user. Without required auth only the default user exists
 * and takes any password. Returns false (the session unchanged) if wrong.
 */
bool auth_session_login(struct auth_session *s, const struct auth_table *t,
                        const char *name, size_t namelen, const char *pw,
                        size_t pwlen);

/*
 * Parses an HTTP "Authorization: Basic BASE64(user:password)" header value
 * (no I/O). The user part may be empty, meaning the default user, as in
 * AUTH with one argument. Returns 0 with user and pw NUL-terminated, or -1
 * for another scheme, bad base64, no ':' or a part longer than its
 * buffer. pw may hold the password afterwards: the caller cleanses it.
 */
int auth_basic_parse(const char *header, char *user, size_t userlen,
                     char *pw, size_t pwlen);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 written as numbers. */
bool auth_addr_is_loopback(const char *addr);

/* What a (re)configuration asks for. */
struct auth_config {
    const char *bind;        /* the listening address, for protected mode */
    bool protected_mode;
    const char *requirepass; /* plain text; "": none; NULL: keep current */
    const char *acl_file;    /* path; "": none */
    uint32_t iterations;     /* for hashing requirepass */
};

/* The published table, its reload lock and the tables awaiting freeing. */
struct auth;

/*
 * Checks cfg (protected mode, the ACL file) and publishes the first table.
 * Returns 0, or -1 with the reason in err.
 */
int auth_create(const struct auth_config *cfg, struct auth **out, char *err,
                size_t errlen);

/* Frees everything; no reader may run any more. Sets *a to NULL. */
void auth_destroy(struct auth **a);

/*
 * Names the readers' epoch counters (qsbr.h) that guard old tables; until
 * it is called, a reload keeps every old table until auth_destroy().
 * epochs must outlive a.
 */
void auth_set_readers(struct auth *a, uint64_t *const *epochs, size_t n);

/*
 * Builds a table from cfg and publishes it (any thread; reloads are
 * serialised). On error nothing changes. Returns 0, or -1 with err.
 */
int auth_reload(struct auth *a, const struct auth_config *cfg, char *err,
                size_t errlen);

/*
 * Frees retired tables that no reader can hold any more. Call it from one
 * thread only, regularly (the main thread's timer). Returns how many are
 * still waiting.
 */
size_t auth_reclaim(struct auth *a);

/* Reader: the published table, valid until the reader's read section
 * ends. */
const struct auth_table *auth_current(const struct auth *a);

/* Whether clients must authenticate now (any thread, no read section). */
bool auth_required(const struct auth *a);

/*
 * The default user's hash, formatted, or "" if there is none (what CONFIG
 * GET requirepass shows instead of the password).
 */
void auth_requirepass_format(struct auth *a, char *out, size_t outlen);

#endif
