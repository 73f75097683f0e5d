/*
 * This file implements the command table: lookup by name (any case),
 * arity checks, and the dispatch that runs a parsed request.
 */
#include "command.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "memeq.h"
#include "server.h"

static const struct command commands[] = {
    {"get", 2, CMD_READONLY | CMD_FAST | CMD_READER, 1, 1, 1, cmd_get},
    {"set", -3, CMD_WRITE, 1, 1, 1, cmd_set},
    {"mget", -2, CMD_READONLY | CMD_FAST | CMD_READER, 1, -1, 1, cmd_mget},
    {"mset", -3, CMD_WRITE, 1, -1, 2, cmd_mset},
    {"del", -2, CMD_WRITE, 1, -1, 1, cmd_del},
    {"exists", -2, CMD_READONLY | CMD_FAST | CMD_READER, 1, -1, 1, cmd_exists},
    {"expire", 3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_expire},
    {"pexpire", 3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_pexpire},
    {"persist", 2, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_persist},
    {"ttl", 2, CMD_READONLY | CMD_FAST | CMD_READER, 1, 1, 1, cmd_ttl},
    {"pttl", 2, CMD_READONLY | CMD_FAST | CMD_READER, 1, 1, 1, cmd_pttl},
    {"dbsize", 1, CMD_READONLY | CMD_FAST | CMD_READER, 0, 0, 0, cmd_dbsize},
    {"flushall", -1, CMD_WRITE, 0, 0, 0, cmd_flushall},
    {"flushdb", -1, CMD_WRITE, 0, 0, 0, cmd_flushall},
    {"ping", -1, CMD_FAST | CMD_READER, 0, 0, 0, cmd_ping},
    {"echo", 2, CMD_FAST | CMD_READER, 0, 0, 0, cmd_echo},
    {"select", 2, CMD_FAST | CMD_READER, 0, 0, 0, cmd_select},
    {"quit", -1, CMD_FAST | CMD_READER | CMD_NOAUTH, 0, 0, 0, cmd_quit},
    {"hello", -1, CMD_FAST | CMD_READER | CMD_NOAUTH, 0, 0, 0, cmd_hello},
    {"client", -2, CMD_READER, 0, 0, 0, cmd_client},
    {"command", -1, CMD_READER, 0, 0, 0, cmd_command},
    {"config", -2, CMD_ADMIN, 0, 0, 0, cmd_config},
    {"auth", -2, CMD_FAST | CMD_READER | CMD_NOAUTH, 0, 0, 0, cmd_auth},
    {"info", -1, CMD_READER, 0, 0, 0, cmd_info},
    {"t.get", -3, CMD_READONLY | CMD_FAST | CMD_READER, 2, 2, 1, cmd_tget},
    {"t.mget", -3, CMD_READONLY | CMD_FAST | CMD_READER, 2, -1, 1, cmd_tmget},
    {"t.info", 2, CMD_READONLY | CMD_READER, 0, 0, 0, cmd_tinfo},
    {"larder.active", 1, CMD_READONLY | CMD_READER, 0, 0, 0, cmd_larder_active},
    {"larder.versions", 2, CMD_READONLY | CMD_READER, 0, 0, 0, cmd_larder_versions},
    {"larder.view", -1, CMD_READONLY | CMD_READER, 0, 0, 0, cmd_larder_view},
    {"larder.drain", -1, CMD_ADMIN, 0, 0, 0, cmd_larder_drain},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define INDEX_SIZE 128 /* power of two, well above NCOMMANDS */
#define MAX_NAME 32 /* longer than every name in commands[] */

/*
 * An index slot: a command (NULL: empty), the length of its name, the name
 * (lower case) padded with NULs to MAX_NAME bytes, and a mask with 0x20
 * where the name has a letter. A name matches a slot when, OR-ed with the
 * mask, it equals the slot's name (memeq_masked()): that folds only ASCII
 * letters, as strncasecmp() does in the C locale, so '@' never matches
 * '`' nor '\x0e' '.'. It is compared in a few word-sized steps.
 */
struct command_slot {
    const struct command *cmd;
    size_t len;
    unsigned char name[MAX_NAME];
    unsigned char fold[MAX_NAME];
};

static struct command_slot index_slots[INDEX_SIZE];

/*
 * The index position of name[0, len) (1 <= len < MAX_NAME): a hash of its
 * first and last bytes and its length, every byte OR-ed with 0x20 so that
 * the cases of a letter hash alike. The bytes are read as two words that
 * overlap for short names, as memeq_masked() reads them; the middle of a
 * long name is left to the comparison.
 */
static size_t name_slot(const unsigned char *name, size_t len)
{
    uint64_t a, b;
    if (len >= 8) {
        a = memeq_load64(name);
        b = memeq_load64(name + len - 8);
    } else if (len >= 4) {
        a = memeq_load32(name);
        b = memeq_load32(name + len - 4);
    } else {
        a = name[0];
        b = (uint64_t)name[len / 2] << 8 | name[len - 1];
    }
    a |= UINT64_C(0x2020202020202020);
    b |= UINT64_C(0x2020202020202020);
    uint64_t h = (a * UINT64_C(0x9e3779b97f4a7c15) ^ b ^ len) *
                 UINT64_C(0xc2b2ae3d27d4eb4f);
    return (size_t)(h >> 32) & (INDEX_SIZE - 1);
}

void command_setup(void)
{
    memset(index_slots, 0, sizeof(index_slots));
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const unsigned char *name = (const unsigned char *)commands[i].name;
        size_t len = strlen(commands[i].name);
        size_t at = name_slot(name, len);
        while (index_slots[at].cmd != NULL) {
            at = (at + 1) & (INDEX_SIZE - 1);
        }
        struct command_slot *slot = &index_slots[at];
        slot->cmd = &commands[i];
        slot->len = len;
        memcpy(slot->name, name, len);
        for (size_t k = 0; k < len; k++) {
            slot->fold[k] = name[k] >= 'a' && name[k] <= 'z' ? 0x20 : 0;
        }
    }
}

/* Probes the slots from name's position; see struct command_slot. */
const struct command *command_lookup(const char *name, size_t len)
{
    if (len == 0 || len >= MAX_NAME) {
        return NULL;
    }
    const unsigned char *n = (const unsigned char *)name;
    for (size_t at = name_slot(n, len);; at = (at + 1) & (INDEX_SIZE - 1)) {
        const struct command_slot *slot = &index_slots[at];
        if (slot->cmd == NULL) {
            return NULL;
        }
        if (slot->len == len && memeq_masked(n, slot->fold, slot->name, len)) {
            return slot->cmd;
        }
    }
}

const struct command *command_all(size_t *n)
{
    *n = NCOMMANDS;
    return commands;
}

bool cmd_is(const struct cmd_ctx *ctx, size_t i, const char *word)
{
    size_t len = strlen(word);
    return cmd_len(ctx, i) == len && strncasecmp(cmd_arg(ctx, i), word, len) == 0;
}

bool cmd_int(const struct cmd_ctx *ctx, size_t i, long long *out)
{
    /* Redis' rules: optional '-', digits, no leading zeros, no "-0". */
    const char *p = cmd_arg(ctx, i);
    size_t len = cmd_len(ctx, i);
    bool neg = len > 0 && p[0] == '-';
    size_t k = neg ? 1 : 0;
    if (len == k || len - k > 19 || (p[k] == '0' && (len - k > 1 || neg))) {
        return false;
    }
    unsigned long long v = 0;
    for (; k < len; k++) {
        if (p[k] < '0' || p[k] > '9') {
            return false;
        }
        v = v * 10 + (unsigned long long)(p[k] - '0');
    }
    if (v > (unsigned long long)LLONG_MAX + neg) {
        return false;
    }
    *out = neg ? (long long)(0ULL - v) : (long long)v;
    return true;
}

void command_execute(struct cmd_ctx *ctx)
{
    const struct command *cmd = command_lookup(cmd_arg(ctx, 0), cmd_len(ctx, 0));
    ctx->cmd = cmd;
    if (cmd == NULL) {
        char name[64];
        size_t len = cmd_len(ctx, 0);
        if (len > 40) {
            len = 40;
        }
        memcpy(name, cmd_arg(ctx, 0), len);
        name[len] = '\0';
        for (char *p = name; *p; p++) {
            if (!isprint((unsigned char)*p)) {
                *p = '?';
            }
        }
        reply_errorf(&ctx->r, "ERR unknown command '%s', with args beginning with: ",
                     name);
        STAT_ADD(&ctx->w->stats, total_error_replies, 1);
        return;
    }
    if ((cmd->arity > 0 && ctx->argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && ctx->argc < (size_t)-cmd->arity)) {
        reply_errorf(&ctx->r, "ERR wrong number of arguments for '%s' command",
                     cmd->name);
        STAT_ADD(&ctx->w->stats, total_error_replies, 1);
        return;
    }
    if (!cmd_auth_allowed(ctx, cmd)) {
        STAT_ADD(&ctx->w->stats, total_error_replies, 1);
        return;
    }
    size_t before = ctx->r.out->len;
    cmd->fn(ctx);
    STAT_ADD(&ctx->w->stats, total_commands_processed, 1);
    if (ctx->r.out->len > before && ctx->r.out->data[before] == '-') {
        STAT_ADD(&ctx->w->stats, total_error_replies, 1);
    }
}
