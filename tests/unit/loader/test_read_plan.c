/*
 * This file implements the unit tests of the read plan
 * (loader/read_plan.c): spans cover the input once, in order, with every
 * file's pieces contiguous; splittable files are cut near the even
 * boundaries, others go whole to the span they start in; a small input
 * gets fewer spans; empty files and inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "read_plan.h"

/*
 * Checks what holds for every plan: pieces in input order, each file's
 * pieces contiguous from 0 to its end, spans non-decreasing; returns the
 * bytes of span s (ends 0 resolved to the file's size).
 */
static uint64_t check_plan(const struct read_plan *p, const uint64_t *sizes,
                           size_t nfiles, uint32_t s)
{
    assert_int_equal(p->first[0], 0);
    assert_int_equal(p->first[p->nspans], p->npieces);
    for (uint32_t t = 0; t < p->nspans; t++) {
        assert_true(p->first[t] <= p->first[t + 1]);
    }
    size_t i = 0;
    for (size_t f = 0; f < nfiles; f++) {
        uint64_t at = 0;
        do {
            assert_true(i < p->npieces);
            assert_int_equal(p->pieces[i].file, f);
            assert_int_equal(p->pieces[i].start, at);
            at = p->pieces[i].end ? p->pieces[i].end : sizes[f];
            assert_true(p->pieces[i].end == 0 ||
                        p->pieces[i].end > p->pieces[i].start);
            i++;
        } while (at < sizes[f]);
        assert_int_equal(at, sizes[f]);
    }
    assert_int_equal(i, p->npieces);
    uint64_t bytes = 0;
    for (size_t j = p->first[s]; j < p->first[s + 1]; j++) {
        const struct read_piece *q = &p->pieces[j];
        bytes += (q->end ? q->end : sizes[q->file]) - q->start;
    }
    return bytes;
}

static void test_one_big_file_is_cut_evenly(void **state)
{
    (void)state;
    uint64_t sizes[] = {1000};
    bool split[] = {true};
    struct read_plan p;
    assert_int_equal(read_plan_make(sizes, split, 1, 4, 100, &p), 0);
    assert_int_equal(p.nspans, 4);
    assert_int_equal(p.npieces, 4);
    for (uint32_t s = 0; s < 4; s++) {
        assert_int_equal(check_plan(&p, sizes, 1, s), 250);
    }
    assert_int_equal(p.pieces[1].start, 250);
    assert_int_equal(p.pieces[3].end, 0); /* the last runs to the end */
    read_plan_free(&p);
    assert_null(p.pieces);
}

static void test_unsplittable_files_go_whole(void **state)
{
    (void)state;
    /* Boundaries at 300, 600 and 900 of 1200 bytes. */
    uint64_t sizes[] = {100, 700, 400};
    bool split[] = {true, false, true};
    struct read_plan p;
    assert_int_equal(read_plan_make(sizes, split, 3, 4, 1, &p), 0);
    assert_int_equal(p.nspans, 4);
    /* file 1 (bytes 100-800) starts in span 0 and stays whole there;
     * spans 1 and 2 begin inside it and are empty; file 2 is cut at 900
     * (its byte 100). */
    assert_int_equal(check_plan(&p, sizes, 3, 0), 800);
    assert_int_equal(check_plan(&p, sizes, 3, 1), 0);
    assert_int_equal(check_plan(&p, sizes, 3, 2), 100);
    assert_int_equal(check_plan(&p, sizes, 3, 3), 300);
    read_plan_free(&p);
}

static void test_small_input_gets_fewer_spans(void **state)
{
    (void)state;
    uint64_t sizes[] = {150, 150};
    bool split[] = {true, true};
    struct read_plan p;
    assert_int_equal(read_plan_make(sizes, split, 2, 8, 100, &p), 0);
    assert_int_equal(p.nspans, 3); /* 300 bytes, at least 100 each */
    for (uint32_t s = 0; s < 3; s++) {
        assert_int_equal(check_plan(&p, sizes, 2, s), 100);
    }
    read_plan_free(&p);
    /* Under two pieces' worth: one span, whole files. */
    assert_int_equal(read_plan_make(sizes, split, 2, 8, 151, &p), 0);
    assert_int_equal(p.nspans, 1);
    assert_int_equal(p.npieces, 2);
    assert_int_equal(p.pieces[0].end, 0);
    assert_int_equal(p.pieces[1].end, 0);
    read_plan_free(&p);
}

static void test_boundaries_on_file_edges_and_empty_files(void **state)
{
    (void)state;
    uint64_t sizes[] = {0, 500, 0, 500, 0};
    bool split[] = {true, true, true, true, true};
    struct read_plan p;
    assert_int_equal(read_plan_make(sizes, split, 5, 2, 1, &p), 0);
    assert_int_equal(p.nspans, 2);
    /* The boundary at 500 is the end of file 1: no file is cut. */
    assert_int_equal(check_plan(&p, sizes, 5, 0), 500);
    assert_int_equal(check_plan(&p, sizes, 5, 1), 500);
    assert_int_equal(p.npieces, 5);
    read_plan_free(&p);
    /* No bytes at all, no files at all. */
    assert_int_equal(read_plan_make(sizes, split, 1, 4, 1, &p), 0);
    assert_int_equal(p.nspans, 1);
    assert_int_equal(p.npieces, 1);
    read_plan_free(&p);
    assert_int_equal(read_plan_make(NULL, NULL, 0, 4, 1, &p), 0);
    assert_int_equal(p.nspans, 1);
    assert_int_equal(p.npieces, 0);
    assert_int_equal(p.first[1], 0);
    read_plan_free(&p);
}

static void test_random_plans_hold_together(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(rand() % 6);
        uint64_t sizes[6];
        bool split[6];
        uint64_t total = 0;
        for (size_t f = 0; f < n; f++) {
            sizes[f] = (uint64_t)(rand() % 4 == 0 ? 0 : rand() % 5000);
            split[f] = rand() % 3 != 0;
            total += sizes[f];
        }
        uint32_t spans = 1 + (uint32_t)(rand() % 9);
        uint64_t piece = 1 + (uint64_t)(rand() % 800);
        struct read_plan p;
        assert_int_equal(read_plan_make(sizes, split, n, spans, piece, &p),
                         0);
        assert_true(p.nspans >= 1 && p.nspans <= spans);
        uint64_t sum = 0;
        for (uint32_t s = 0; s < p.nspans; s++) {
            sum += check_plan(&p, sizes, n, s);
        }
        assert_int_equal(sum, total);
        read_plan_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_big_file_is_cut_evenly),
        cmocka_unit_test(test_unsplittable_files_go_whole),
        cmocka_unit_test(test_small_input_gets_fewer_spans),
        cmocka_unit_test(test_boundaries_on_file_edges_and_empty_files),
        cmocka_unit_test(test_random_plans_hold_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
