/*
 * This file implements the fuzz target of the placement codec and of the
 * computation that starts from a stored placement (membership/placement.c):
 * an input is a placement's JSON, as a node reads it from ZooKeeper or its
 * data directory.
 *
 * A refusal must come with a message and no placement. An accepted one
 * must survive a round trip (placement_to_json, placement_from_json: equal
 * by placement_equal, and the second text equals the first); every
 * accessor must work on it (placement_table_at, placement_nodes in each
 * set for every partition, placement_moves). It is then the `prev` of
 * placement_compute over a fixed list of four members and the same tables
 * (when they are small): computing twice gives equal placements, the
 * result round-trips too, and computing again from the result with the
 * same members and tables leaves every target list as it was (the
 * stability placement.h promises).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SLOTS = 1 << 14, MAX_IDS = 64 };

static const struct place_member members[] = {
    {.id = "n1", .zone = "a", .capacity = 100},
    {.id = "n2", .zone = "b", .capacity = 100},
    {.id = "n3", .zone = "a", .capacity = 50},
    {.id = "n4", .zone = "", .capacity = 0},
};

/* Serialises pl, parses it back and checks both steps are fixed points. */
static void round_trip(const struct placement *pl)
{
    char *json = placement_to_json(pl);
    if (json == NULL) {
        /* Only a generation above INT64_MAX cannot be written. */
        CHECK(placement_generation(pl) > INT64_MAX);
        return;
    }
    struct placement *again = NULL;
    char err[256] = "";
    if (placement_from_json(json, strlen(json), &again, err, sizeof(err)) !=
        PLACE_OK) {
        fprintf(stderr, "written placement refused: %s\n%s\n", err, json);
        abort();
    }
    CHECK(placement_equal(pl, again));
    char *json2 = placement_to_json(again);
    CHECK(json2 != NULL && strcmp(json, json2) == 0);
    free(json2);
    free(json);
    placement_destroy(&again);
    CHECK(again == NULL);
}

/* Walks every accessor; returns the number of replica slots. */
static uint64_t walk(const struct placement *pl)
{
    uint64_t slots = 0;
    size_t nt = placement_table_count(pl);
    struct place_table_info info;
    CHECK(placement_table_at(pl, nt, &info) == PLACE_NOTFOUND);
    for (size_t t = 0; t < nt; t++) {
        CHECK(placement_table_at(pl, t, &info) == PLACE_OK);
        CHECK(info.name != NULL && info.partitions >= 1);
        CHECK(info.replicas >= 1);
        size_t n;
        CHECK(placement_nodes(pl, info.name, info.partitions, PLACE_TARGET,
                              NULL, 0, &n) == PLACE_NOTFOUND);
        for (uint32_t p = 0; p < info.partitions; p++) {
            const char *ids[MAX_IDS];
            size_t ncur = 0, ntgt = 0, nrt = 0;
            CHECK(placement_nodes(pl, info.name, p, PLACE_CURRENT, ids,
                                  MAX_IDS, &ncur) == PLACE_OK);
            CHECK(placement_nodes(pl, info.name, p, PLACE_TARGET, ids,
                                  MAX_IDS, &ntgt) == PLACE_OK);
            CHECK(ntgt == info.replicas);
            for (size_t i = 0; i < ntgt && i < MAX_IDS; i++) {
                CHECK(ids[i] != NULL && ids[i][0] != '\0');
            }
            CHECK(placement_nodes(pl, info.name, p, PLACE_ROUTING, ids,
                                  MAX_IDS, &nrt) == PLACE_OK);
            CHECK(nrt >= ncur && nrt >= ntgt && nrt <= ncur + ntgt);
            CHECK(ncur >= 1);
            slots += ncur + ntgt;
        }
    }
    CHECK(placement_nodes(pl, "no-such-table", 0, PLACE_CURRENT, NULL, 0,
                          &(size_t){0}) == PLACE_NOTFOUND);
    struct place_move *moves = NULL;
    size_t nmoves = 0;
    CHECK(placement_moves(pl, &moves, &nmoves) == PLACE_OK);
    CHECK((nmoves == 0) == (moves == NULL));
    for (size_t i = 0; i < nmoves; i++) {
        CHECK(moves[i].table < nt);
        CHECK(placement_table_at(pl, moves[i].table, &info) == PLACE_OK);
        CHECK(moves[i].partition < info.partitions);
        CHECK(i == 0 || moves[i - 1].table < moves[i].table ||
              (moves[i - 1].table == moves[i].table &&
               moves[i - 1].partition < moves[i].partition));
    }
    free(moves);
    return slots;
}

/* True if a and b have the same target lists (by node id) everywhere. */
static bool same_targets(const struct placement *a, const struct placement *b)
{
    size_t nt = placement_table_count(a);
    if (nt != placement_table_count(b)) {
        return false;
    }
    for (size_t t = 0; t < nt; t++) {
        struct place_table_info ia, ib;
        CHECK(placement_table_at(a, t, &ia) == PLACE_OK);
        CHECK(placement_table_at(b, t, &ib) == PLACE_OK);
        if (strcmp(ia.name, ib.name) != 0 || ia.partitions != ib.partitions) {
            return false;
        }
        for (uint32_t p = 0; p < ia.partitions; p++) {
            const char *la[MAX_IDS], *lb[MAX_IDS];
            size_t na = 0, nb = 0;
            CHECK(placement_nodes(a, ia.name, p, PLACE_TARGET, la, MAX_IDS,
                                  &na) == PLACE_OK);
            CHECK(placement_nodes(b, ib.name, p, PLACE_TARGET, lb, MAX_IDS,
                                  &nb) == PLACE_OK);
            if (na != nb) {
                return false;
            }
            for (size_t i = 0; i < na && i < MAX_IDS; i++) {
                if (strcmp(la[i], lb[i]) != 0) {
                    return false;
                }
            }
        }
    }
    return true;
}

static void compute_from(const struct placement *prev)
{
    size_t nt = placement_table_count(prev);
    struct place_table *tables = calloc(nt > 0 ? nt : 1, sizeof(*tables));
    CHECK(tables != NULL);
    uint64_t parts = 0;
    for (size_t t = 0; t < nt; t++) {
        struct place_table_info info;
        CHECK(placement_table_at(prev, t, &info) == PLACE_OK);
        snprintf(tables[t].name, sizeof(tables[t].name), "%s", info.name);
        tables[t].partitions = info.partitions;
        tables[t].replication = info.replication;
        parts += info.partitions;
    }
    if (parts > 4096) {
        free(tables);
        return;
    }
    size_t nm = sizeof(members) / sizeof(members[0]);
    struct placement *a = NULL, *b = NULL, *c = NULL;
    struct place_report ra, rb;
    char err[256] = "";
    enum place_status st =
        placement_compute(members, nm, tables, nt, prev, &a, &ra, err,
                          sizeof(err));
    if (st != PLACE_OK) {
        fprintf(stderr, "placement_compute refused: %s\n", err);
        abort();
    }
    CHECK(placement_compute(members, nm, tables, nt, prev, &b, &rb, err,
                            sizeof(err)) == PLACE_OK);
    CHECK(placement_equal(a, b));
    CHECK(ra.capped_tables == rb.capped_tables &&
          ra.over_bound == rb.over_bound &&
          strcmp(ra.first_capped, rb.first_capped) == 0);
    CHECK(placement_generation(a) == placement_generation(prev) + 1);
    walk(a);
    round_trip(a);
    CHECK(placement_compute(members, nm, tables, nt, a, &c, NULL, err,
                            sizeof(err)) == PLACE_OK);
    if (!same_targets(a, c)) {
        char *ja = placement_to_json(a), *jc = placement_to_json(c);
        fprintf(stderr, "target moved with the same members and tables:\n"
                "%s\n%s\n", ja ? ja : "?", jc ? jc : "?");
        abort();
    }
    placement_destroy(&c);
    placement_destroy(&b);
    placement_destroy(&a);
    free(tables);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NULL, so a refusal must be seen to reset it. */
    struct placement *pl = (struct placement *)&pl;
    char err[256] = "";
    if (placement_from_json((const char *)data, size, &pl, err,
                            sizeof(err)) != PLACE_OK) {
        CHECK(pl == NULL && err[0] != '\0');
        return 0;
    }
    CHECK(pl != NULL);
    round_trip(pl);
    uint64_t slots = walk(pl);
    if (slots <= MAX_SLOTS) {
        compute_from(pl);
    }
    placement_destroy(&pl);
    return 0;
}
