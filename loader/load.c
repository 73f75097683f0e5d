/*
 * This file implements the bulk load pipeline of load.h. The steps, in
 * order, each a function below:
 *
 *   prepare   options, input files, membership, store, the table's load
 *             lock and config, push-id check, scratch directory
 *   read      every input row -> row_encoder -> partition -> spill run,
 *             by a few threads, each a span of the input (read_plan.h);
 *             bad rows counted (the first ten reported), bad-row gates
 *   build     each partition's runs -> snapshot_writer -> a segment file,
 *             by a few threads, one partition each at a time
 *   gate      row-count change and schema change against the active
 *             version; the memory check against the live members'
 *             --batch-memory
 *   publish   segments (moved) and manifest to the store; table config
 *             (first load); version record STAGED
 *   wait      until every partition has min-replicas ready replicas, or a
 *             refusal, or the timeout
 *   activate  activation_apply() for table=version
 *
 * Whatever fails, the scratch directory is removed, the lock released and
 * an allocated version marked FAILED; nothing before "activate" touches
 * the active map.
 */
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "activation.h"
#include "byte_source.h"
#include "capacity.h"
#include "gates.h"
#include "input_files.h"
#include "log.h"
#include "manifest.h"
#include "manifest_fetch.h"
#include "membership.h"
#include "progress.h"
#include "read_plan.h"
#include "row_encoder.h"
#include "schema.h"
#include "snap_format.h"
#include "spill.h"
#include "store.h"
#include "store_retention.h"
#include "work_dir.h"

#define LOAD_DEFAULT_PARTITIONS 256
#define LOAD_MAX_PARTITIONS 65536
#define LOAD_DEFAULT_BUILD_THREADS 4 /* overlaps fsyncs even on 1-2 CPUs */
#define LOAD_MAX_BUILD_THREADS 64
#define LOAD_DEFAULT_READ_THREADS_MAX 8 /* --read-threads 0: CPUs, at most */
#define LOAD_MAX_READ_THREADS 64
#define LOAD_DEFAULT_READ_PIECE ((uint64_t)64 << 20) /* bytes a thread */
#define LOAD_INTERRUPT_CHECK 4096 /* rows between checks for a signal */
#define LOAD_WAIT_LOG_MS 10000    /* a "still waiting" line this often */

struct load_ctx {
    const struct load_config *c;
    struct load_result *r;
    struct input_files files;
    struct membership *m;
    struct store *store;
    struct memb_lock *lock;
    struct memb_table table;
    bool table_exists;
    uint32_t partitions;
    char work[4096];
    bool have_work;
    struct row_encoder *enc;
    struct spill **spills; /* one per reading thread (read_plan.h) */
    uint32_t nspills;
    struct progress *progress; /* NULL: no progress line */
    bool have_version;
    struct snap_file_info *infos; /* per partition, after build */
    char manifest_uri[MEMB_URI_MAX];
    uint64_t manifest_checksum;
    int64_t created_ms;
    double started_s; /* now_s() when the load began */
};

const char *load_phase_name(enum load_phase p)
{
    static const char *const names[] = {"read", "build", "publish", "wait",
                                        "activate"};
    return p < LOAD_PHASES ? names[p] : "?";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records the first failure: its exit code and message. Returns code. */
static int fail(struct load_ctx *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct load_ctx *x, int code, const char *fmt, ...)
{
    if (x->r->exit_code == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->r->error, sizeof(x->r->error), fmt, ap);
        va_end(ap);
        x->r->exit_code = code;
    }
    return x->r->exit_code;
}

/* A nonzero exit code if a signal asked the load to stop. */
static int check_interrupt(struct load_ctx *x)
{
    if (x->c->interrupted != NULL && *x->c->interrupted) {
        int sig = *x->c->interrupted;
        return fail(x, 128 + sig, "interrupted by signal %d (%s)", sig,
                    strsignal(sig));
    }
    return 0;
}

/* Exit code for a membership failure. */
static int memb_fail(struct load_ctx *x, enum memb_status st,
                     const char *what)
{
    int code = st == MEMB_INVALID ? LOAD_EXIT_USAGE
               : st == MEMB_BUSY  ? LOAD_EXIT_UNAVAILABLE
                                  : LOAD_EXIT_IO;
    return fail(x, code, "membership: %s: %s (%s)", what,
                memb_status_name(st), membership_error(x->m));
}

static void version_key(const struct load_ctx *x, const char *leaf,
                        char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/v-%06llu/%s", x->c->table,
             (unsigned long long)x->r->version, leaf);
}

/* ---- prepare ------------------------------------------------------------ */

static uint32_t default_min_replicas(const struct load_ctx *x,
                                     uint32_t live)
{
    if (x->c->min_replicas > 0) {
        return x->c->min_replicas;
    }
    uint32_t r = x->table.replication ? x->table.replication : live;
    return r > 2 ? r - 1 : 1;
}

/*
 * True if a version with this push id already did what is asked: it is
 * active, or retired after it was once active, or staged for a
 * --stage-only load. A failed version, or one retired without ever being
 * active (retention retires failed and staged versions too), does not
 * count: that push runs again.
 */
static int push_id_done(struct load_ctx *x, bool *done)
{
    *done = false;
    if (x->c->push_id == NULL || x->c->push_id[0] == '\0' ||
        !x->table_exists) {
        return 0;
    }
    struct memb_version *vs = NULL;
    size_t n = 0;
    enum memb_status st =
        membership_version_list(x->m, x->c->table, &vs, &n);
    if (st == MEMB_NOTFOUND) {
        return 0;
    }
    if (st != MEMB_OK) {
        return memb_fail(x, st, "listing versions");
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(vs[i].push_id, x->c->push_id) != 0) {
            continue;
        }
        bool ok = vs[i].state == MEMB_V_ACTIVE ||
                  (vs[i].state == MEMB_V_RETIRED &&
                   vs[i].activated_ms != 0) ||
                  (vs[i].state == MEMB_V_STAGED && x->c->stage_only);
        if (ok) {
            *done = true;
            x->r->version = vs[i].version;
            x->r->rows = vs[i].rows;
            x->r->bytes = vs[i].bytes;
            x->r->partitions = vs[i].partitions;
        }
    }
    free(vs);
    return 0;
}

/* The format path is read in: --format, else guessed from its name (NULL
 * when the name does not tell). */
static const struct input_format *file_format(const struct load_config *c,
                                              const char *path)
{
    return c->format ? c->format : input_format_guess(path);
}

static int prepare(struct load_ctx *x)
{
    const struct load_config *c = x->c;
    char err[1024];
    if (c->table == NULL || !membership_valid_name(c->table)) {
        return fail(x, LOAD_EXIT_USAGE, "invalid table name '%s' (want "
                    "[A-Za-z0-9_.-]{1,64})", c->table ? c->table : "");
    }
    if (c->partitions > LOAD_MAX_PARTITIONS) {
        return fail(x, LOAD_EXIT_USAGE, "--partitions %u is more than %u",
                    c->partitions, LOAD_MAX_PARTITIONS);
    }
    struct row_encoder_options eo = {c->key_field, c->fields,
                                     c->value_field};
    if (row_encoder_create(&eo, &x->enc, err, sizeof(err)) != 0) {
        return fail(x, LOAD_EXIT_USAGE, "%s", err);
    }
    switch (input_files_expand(c->inputs, c->ninputs, c->allow_incomplete,
                               &x->files, err, sizeof(err))) {
    case INPUT_FILES_OK:
        break;
    case INPUT_FILES_NOMEM:
        return fail(x, LOAD_EXIT_INTERNAL, "%s", err);
    case INPUT_FILES_INCOMPLETE:
        return fail(x, LOAD_EXIT_DATA, "%s", err);
    case INPUT_FILES_IO:
        return fail(x, LOAD_EXIT_IO, "%s", err);
    default:
        return fail(x, LOAD_EXIT_NOINPUT, "%s", err);
    }
    x->r->files = x->files.n;
    for (size_t i = 0; i < x->files.n; i++) {
        x->r->input_bytes += x->files.sizes[i];
        if (file_format(c, x->files.paths[i]) == NULL) {
            return fail(x, LOAD_EXIT_USAGE, "cannot tell the format of %s "
                        "from its name: give --format",
                        x->files.paths[i]);
        }
    }
    enum memb_status st =
        membership_open(c->membership_uri, &x->m, err, sizeof(err));
    if (st != MEMB_OK) {
        return fail(x, st == MEMB_INVALID ? LOAD_EXIT_USAGE : LOAD_EXIT_IO,
                    "membership %s: %s", c->membership_uri, err);
    }
    if (store_open(c->store_uri, &x->store, err, sizeof(err)) != 0) {
        return fail(x, LOAD_EXIT_USAGE, "store %s: %s", c->store_uri, err);
    }
    st = membership_lock(x->m, c->table, &x->lock);
    if (st == MEMB_BUSY) {
        return fail(x, LOAD_EXIT_UNAVAILABLE, "another load of %s is "
                    "running", c->table);
    }
    if (st != MEMB_OK) {
        return memb_fail(x, st, "taking the load lock");
    }
    st = membership_table_get(x->m, c->table, &x->table);
    if (st == MEMB_OK) {
        x->table_exists = true;
        if (x->table.kind != MEMB_TABLE_BATCH) {
            return fail(x, LOAD_EXIT_USAGE, "table %s is a live table, not "
                        "a batch table", c->table);
        }
        if (c->partitions != 0 && c->partitions != x->table.partitions) {
            return fail(x, LOAD_EXIT_USAGE, "--partitions %u differs from "
                        "table %s's %u (repartitioning is an explicit "
                        "operation)", c->partitions, c->table,
                        x->table.partitions);
        }
    } else if (st == MEMB_NOTFOUND) {
        memset(&x->table, 0, sizeof(x->table));
        snprintf(x->table.name, sizeof(x->table.name), "%s", c->table);
        x->table.kind = MEMB_TABLE_BATCH;
        x->table.partitions =
            c->partitions ? c->partitions : LOAD_DEFAULT_PARTITIONS;
        x->table.replication = 0;
    } else {
        return memb_fail(x, st, "reading the table config");
    }
    x->partitions = x->table.partitions;
    x->r->partitions = x->partitions;
    bool done;
    if (push_id_done(x, &done) != 0) {
        return x->r->exit_code;
    }
    if (done) {
        x->r->state = "noop";
        log_notice("push id %s already succeeded as %s version %llu: "
                   "nothing to do", c->push_id, c->table,
                   (unsigned long long)x->r->version);
        return 0;
    }
    unsigned reclaimed = 0;
    if (work_dir_create(c->work_dir, x->work, sizeof(x->work), &reclaimed,
                        err, sizeof(err)) != 0) {
        return fail(x, LOAD_EXIT_IO, "%s", err);
    }
    x->have_work = true;
    if (reclaimed > 0) {
        log_notice("removed %u scratch directories of loaders that died",
                   reclaimed);
    }
    return 0;
}

/* ---- read --------------------------------------------------------------- */

/* Copies src into dst[size], cut short if it does not fit. */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * The read phase runs on a few threads (read_plan.h): span t of the input
 * is read by thread t into spill writer t's run files, with its own row
 * encoder, and the build reads a partition's runs in writer order, so a
 * partition's rows keep their input order. Bad rows are kept per span and
 * reported in input order once every span is done; the bad-row limits
 * are checked against the count of all spans together.
 */
struct read_span {
    struct read_state *rs;
    uint32_t index;
    struct row_encoder *enc; /* span 0: x->enc (borrowed); others owned */
    struct spill *spill;     /* x->spills[index] (borrowed) */
    uint64_t rows;
    uint64_t bad_rows;
    struct load_bad_row samples[LOAD_BAD_SAMPLES];
    /* The sample's file (index in x->files) when its line was counted
     * from a piece's start; SIZE_MAX when the line is the file's. */
    size_t sample_file[LOAD_BAD_SAMPLES];
    size_t nsamples;
    uint64_t bytes_done; /* atomic: input bytes read, for progress */
    int code;            /* 0, or the exit code of this span's failure */
    char err[2048];
};

struct read_state {
    struct load_ctx *x;
    struct read_plan plan;
    const struct gate_bad_rows *gate;
    struct read_span *spans;
    uint64_t bad_rows; /* atomic: every span's */
    uint64_t rows;     /* atomic: every span's, for progress */
    int stop;          /* atomic: a span failed; the others stop too */
};

/*
 * Counts lines of one plain local file up to a byte offset, for rows of a
 * piece after the first, whose reader counted lines from the piece's
 * start: the line of the row at offset is one more than the newlines
 * before it. Offsets asked for in increasing order in one file (bad-row
 * samples in input order) are counted on from the last one, so a file is
 * read once however many samples it holds.
 */
struct line_counter {
    const char *path; /* NULL: nothing counted yet */
    uint64_t at;      /* bytes counted */
    uint64_t line;    /* the line that begins at `at`, if one does */
};

/* The 1-based line of the row at offset of path; 0 if unreadable. */
static uint64_t line_at(struct line_counter *lc, const char *path,
                        uint64_t offset)
{
    if (lc->path != path || offset < lc->at) {
        *lc = (struct line_counter){path, 0, 1};
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = malloc(1 << 20);
    bool ok = fd >= 0 && buf != NULL;
    while (ok && lc->at < offset) {
        size_t want = offset - lc->at < (1 << 20) ? (size_t)(offset - lc->at)
                                                  : (size_t)1 << 20;
        ssize_t n = pread(fd, buf, want, (off_t)lc->at);
        if (n <= 0) {
            ok = false;
            break;
        }
        for (const char *p = buf, *end = buf + n;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
            lc->line++;
        }
        lc->at += (uint64_t)n;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    if (!ok) {
        lc->path = NULL;
        return 0;
    }
    return lc->line;
}

static void span_fail(struct read_span *sp, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void span_fail(struct read_span *sp, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sp->err, sizeof(sp->err), fmt, ap);
    va_end(ap);
    sp->code = code;
    __atomic_store_n(&sp->rs->stop, 1, __ATOMIC_RELAXED);
}

static void note_bad_row(struct read_span *sp, const char *file,
                         const struct read_piece *piece,
                         const struct input_pos *pos, const char *why)
{
    sp->bad_rows++;
    __atomic_add_fetch(&sp->rs->bad_rows, 1, __ATOMIC_RELAXED);
    if (sp->nsamples >= LOAD_BAD_SAMPLES) {
        return;
    }
    sp->sample_file[sp->nsamples] = piece->start > 0 ? piece->file
                                                     : SIZE_MAX;
    struct load_bad_row *b = &sp->samples[sp->nsamples++];
    copy_str(b->file, sizeof(b->file), file);
    b->line = pos->line;
    b->offset = pos->offset;
    copy_str(b->reason, sizeof(b->reason), why);
}

/* Reads one piece into the span's runs; 0, or -1 after span_fail() or
 * when told to stop. */
static int read_piece(struct read_span *sp, const struct read_piece *piece)
{
    struct read_state *rs = sp->rs;
    struct load_ctx *x = rs->x;
    const struct load_config *c = x->c;
    const char *path = x->files.paths[piece->file];
    const struct input_format *fmt = file_format(c, path);
    struct input_reader_options ro = {.max_record = c->max_record,
                                      .range_start = piece->start,
                                      .range_end = piece->end};
    struct input_reader rd;
    char err[1024];
    enum input_status st = input_reader_open(&rd, fmt, path, &ro, err,
                                             sizeof(err));
    switch (st) {
    case INPUT_ROW:
        break;
    case INPUT_NOT_FOUND:
        span_fail(sp, LOAD_EXIT_NOINPUT, "%s", err);
        return -1;
    case INPUT_BAD_FILE:
        span_fail(sp, LOAD_EXIT_DATA, "%s: %s", path, err);
        return -1;
    default:
        span_fail(sp, LOAD_EXIT_IO, "%s: %s", path, err);
        return -1;
    }
    int rc = 0;
    uint64_t since_check = 0, counted = piece->start;
    for (;;) {
        struct input_row row;
        struct input_pos pos = {0, 0};
        st = input_reader_next(&rd, &row, &pos, err, sizeof(err));
        if (st == INPUT_EOF) {
            break;
        }
        if (++since_check == LOAD_INTERRUPT_CHECK) {
            since_check = 0;
            if ((c->interrupted != NULL && *c->interrupted) ||
                __atomic_load_n(&rs->stop, __ATOMIC_RELAXED)) {
                rc = -1;
                break;
            }
            __atomic_add_fetch(&rs->rows, LOAD_INTERRUPT_CHECK,
                               __ATOMIC_RELAXED);
            if (pos.offset > counted) {
                __atomic_add_fetch(&sp->bytes_done, pos.offset - counted,
                                   __ATOMIC_RELAXED);
                counted = pos.offset;
            }
            if (sp->index == 0 && x->progress != NULL) {
                uint64_t bytes = 0;
                for (uint32_t i = 0; i < rs->plan.nspans; i++) {
                    bytes += __atomic_load_n(&rs->spans[i].bytes_done,
                                             __ATOMIC_RELAXED);
                }
                progress_update(x->progress,
                                __atomic_load_n(&rs->rows, __ATOMIC_RELAXED),
                                bytes);
            }
        }
        if (st == INPUT_ROW) {
            struct row_encoded enc;
            enum row_status res = row_encoder_encode(sp->enc, &row, &enc,
                                                     err, sizeof(err));
            if (res == ROW_NOMEM) {
                span_fail(sp, LOAD_EXIT_INTERNAL, "%s", err);
                rc = -1;
                break;
            }
            if (res == ROW_OK) {
                uint64_t h = XXH3_64bits(enc.key, enc.klen);
                if (spill_add(sp->spill, (uint32_t)(h % x->partitions),
                              enc.key, enc.klen, enc.value, enc.vlen, err,
                              sizeof(err)) != 0) {
                    span_fail(sp, errno == ENOMEM ? LOAD_EXIT_INTERNAL
                                                  : LOAD_EXIT_IO,
                              "spilling rows: %s", err);
                    rc = -1;
                    break;
                }
                sp->rows++;
                continue;
            }
        } else if (st != INPUT_BAD_ROW) {
            span_fail(sp, st == INPUT_BAD_FILE ? LOAD_EXIT_DATA : LOAD_EXIT_IO,
                      "%s: %s", path, err);
            rc = -1;
            break;
        }
        note_bad_row(sp, path, piece, &pos, err);
        uint64_t bad = __atomic_load_n(&rs->bad_rows, __ATOMIC_RELAXED);
        if (gate_bad_rows_hopeless(rs->gate, bad)) {
            char msg[512];
            gate_bad_rows_check(rs->gate, sp->rows, bad, msg, sizeof(msg));
            struct line_counter lc = {0};
            uint64_t line = piece->start > 0 ? line_at(&lc, path, pos.offset)
                                             : pos.line;
            span_fail(sp, LOAD_EXIT_DATA, "%s (stopped reading at %s%s%llu)",
                      msg, path, line > 0 ? ":" : " at byte ",
                      (unsigned long long)(line > 0 ? line : pos.offset));
            rc = -1;
            break;
        }
    }
    input_reader_close(&rd);
    uint64_t end = piece->end ? piece->end : x->files.sizes[piece->file];
    if (end > counted) {
        __atomic_add_fetch(&sp->bytes_done, end - counted, __ATOMIC_RELAXED);
    }
    return rc;
}

static void *read_span_run(void *arg)
{
    struct read_span *sp = arg;
    const struct read_plan *plan = &sp->rs->plan;
    for (size_t i = plan->first[sp->index]; i < plan->first[sp->index + 1];
         i++) {
        if (read_piece(sp, &plan->pieces[i]) != 0) {
            break;
        }
    }
    return NULL;
}

/* The CPUs this process may run on (its affinity: taskset, a cpuset). */
static long usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return CPU_COUNT(&set);
    }
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* The threads the read phase may use: --read-threads, or the CPUs. */
static uint32_t read_threads(const struct load_config *c)
{
    uint32_t n = c->read_threads;
    if (n == 0) {
        long cpus = usable_cpus();
        n = cpus < 1 ? 1 : cpus > LOAD_DEFAULT_READ_THREADS_MAX
                               ? LOAD_DEFAULT_READ_THREADS_MAX
                               : (uint32_t)cpus;
    }
    return n > LOAD_MAX_READ_THREADS ? LOAD_MAX_READ_THREADS : n;
}

/* Plans the spans: files are cut only where their format allows it. */
static int plan_spans(struct load_ctx *x, struct read_plan *plan)
{
    const struct load_config *c = x->c;
    bool *splittable = calloc(x->files.n ? x->files.n : 1, sizeof(bool));
    if (splittable == NULL) {
        return -1;
    }
    uint32_t n = read_threads(c);
    for (size_t i = 0; n > 1 && i < x->files.n; i++) {
        const char *path = x->files.paths[i];
        splittable[i] = file_format(c, path)->splittable &&
                        byte_source_seekable(path);
    }
    int rc = read_plan_make(x->files.sizes, splittable, x->files.n, n,
                            c->read_piece ? c->read_piece
                                          : LOAD_DEFAULT_READ_PIECE,
                            plan);
    free(splittable);
    return rc;
}

/* Joins the spans' counts, schemas and bad-row samples in input order. */
static void merge_spans(struct read_state *rs)
{
    struct load_ctx *x = rs->x;
    struct load_result *r = x->r;
    struct line_counter lc = {0};
    for (uint32_t t = 0; t < rs->plan.nspans; t++) {
        struct read_span *sp = &rs->spans[t];
        r->rows_read += sp->rows;
        r->bad_rows += sp->bad_rows;
        if (t > 0) {
            row_encoder_merge_schema(x->enc, sp->enc);
        }
        for (size_t i = 0; i < sp->nsamples &&
                           r->nbad_samples < LOAD_BAD_SAMPLES; i++) {
            struct load_bad_row *b = &r->bad_samples[r->nbad_samples++];
            *b = sp->samples[i];
            if (sp->sample_file[i] != SIZE_MAX) {
                b->line = line_at(&lc, x->files.paths[sp->sample_file[i]],
                                  b->offset);
            }
            if (b->line > 0) {
                log_warning("bad row: %s:%llu: %s", b->file,
                            (unsigned long long)b->line, b->reason);
            } else {
                log_warning("bad row: %s at byte %llu: %s", b->file,
                            (unsigned long long)b->offset, b->reason);
            }
        }
    }
}

static int phase_read(struct load_ctx *x)
{
    const struct load_config *c = x->c;
    char err[1024];
    struct read_state rs = {.x = x};
    struct gate_bad_rows gate = {c->has_max_bad_rows, c->max_bad_rows,
                                 c->has_max_bad_ratio, c->max_bad_ratio};
    rs.gate = &gate;
    if (plan_spans(x, &rs.plan) != 0) {
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    uint32_t n = rs.plan.nspans;
    x->r->read_threads = n;
    x->spills = calloc(n, sizeof(*x->spills));
    rs.spans = calloc(n, sizeof(*rs.spans));
    if (x->spills == NULL || rs.spans == NULL) {
        free(rs.spans);
        read_plan_free(&rs.plan);
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    x->nspills = n;
    struct row_encoder_options eo = {c->key_field, c->fields,
                                     c->value_field};
    int rc = 0;
    for (uint32_t t = 0; t < n && rc == 0; t++) {
        struct read_span *sp = &rs.spans[t];
        sp->rs = &rs;
        sp->index = t;
        struct spill_options so = {x->work, x->partitions,
                                   c->spill_buffer / n, t, n};
        if (spill_create(&so, &x->spills[t], err, sizeof(err)) != 0) {
            rc = fail(x, LOAD_EXIT_INTERNAL, "%s", err);
        } else if (t == 0) {
            sp->enc = x->enc;
        } else if (row_encoder_create(&eo, &sp->enc, err, sizeof(err)) !=
                   0) {
            rc = fail(x, LOAD_EXIT_INTERNAL, "%s", err);
        }
        sp->spill = x->spills[t];
    }
    if (rc == 0) {
        if (c->progress) {
            x->progress = progress_create(STDERR_FILENO, x->r->input_bytes);
        }
        pthread_t tids[LOAD_MAX_READ_THREADS];
        uint32_t started = 0;
        for (uint32_t t = 1; t < n; t++) {
            if (pthread_create(&tids[t], NULL, read_span_run,
                               &rs.spans[t]) != 0) {
                span_fail(&rs.spans[t], LOAD_EXIT_INTERNAL,
                          "cannot start a reading thread");
                break;
            }
            started = t;
        }
        read_span_run(&rs.spans[0]);
        for (uint32_t t = 1; t <= started; t++) {
            pthread_join(tids[t], NULL);
        }
        progress_destroy(&x->progress);
        merge_spans(&rs);
        if (check_interrupt(x) == 0) {
            for (uint32_t t = 0; t < n && rc == 0; t++) {
                if (rs.spans[t].code != 0) {
                    rc = fail(x, rs.spans[t].code, "%s", rs.spans[t].err);
                }
            }
        } else {
            rc = -1;
        }
    }
    for (uint32_t t = 1; t < n; t++) {
        row_encoder_destroy(&rs.spans[t].enc);
    }
    free(rs.spans);
    read_plan_free(&rs.plan);
    if (rc != 0) {
        return x->r->exit_code;
    }
    for (uint32_t t = 0; t < n; t++) {
        if (spill_finish(x->spills[t], err, sizeof(err)) != 0) {
            return fail(x, LOAD_EXIT_IO, "spilling rows: %s", err);
        }
    }
    char msg[512];
    if (gate_bad_rows_check(&gate, x->r->rows_read, x->r->bad_rows, msg,
                            sizeof(msg)) != 0) {
        return fail(x, LOAD_EXIT_DATA, "%s", msg);
    }
    if (x->r->rows_read == 0 && !c->allow_empty) {
        return fail(x, LOAD_EXIT_DATA, "the input holds no rows (a version "
                    "without rows deletes every key; --allow-empty permits "
                    "it)");
    }
    return 0;
}

/* ---- build -------------------------------------------------------------- */

/*
 * Work over every partition by a few threads (build, publish): each takes
 * the next partition until none is left or one failed.
 */
struct build_state {
    struct load_ctx *x;
    /* Does partition p; 0, or an exit code after build_fail(). */
    int (*work)(struct build_state *b, uint32_t p);
    uint32_t next; /* next partition to take (atomic) */
    pthread_mutex_t mu;
    int code;      /* first failure */
    char err[2048];
};

static void build_fail(struct build_state *b, int code, const char *msg)
{
    pthread_mutex_lock(&b->mu);
    if (b->code == 0) {
        b->code = code;
        snprintf(b->err, sizeof(b->err), "%s", msg);
    }
    pthread_mutex_unlock(&b->mu);
}

static void seg_path(const struct load_ctx *x, uint32_t p, char *out,
                     size_t outlen)
{
    if (snprintf(out, outlen, "%s/part-%05u.seg", x->work, p) >= (int)outlen) {
        out[0] = '\0'; /* cannot happen: work is shorter than out */
    }
}

/*
 * Adds the rows of one run file to the writer, then deletes the file;
 * 0 or an exit code with err.
 */
static int build_from_run(struct snap_writer *w, const char *run, char *err,
                          size_t errlen)
{
    struct spill_run *sr = NULL;
    int code = 0;
    if (spill_run_open(run, &sr, err, errlen) != 0) {
        code = LOAD_EXIT_IO;
    }
    while (code == 0) {
        const char *k, *v;
        size_t kl, vl;
        int n = spill_run_next(sr, &k, &kl, &v, &vl, err, errlen);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            code = LOAD_EXIT_IO;
            break;
        }
        if (snap_writer_add(w, k, kl, v, vl, XXH3_64bits(k, kl), err,
                            errlen) != 0) {
            code = errno == ENOMEM ? LOAD_EXIT_INTERNAL : LOAD_EXIT_IO;
        }
    }
    spill_run_close(&sr);
    unlink(run);
    return code;
}

/*
 * Builds partition p's segment from its runs, one per reading thread, in
 * input order; 0 or an exit code.
 */
static int build_partition(struct build_state *b, uint32_t p)
{
    struct load_ctx *x = b->x;
    char run[4096], seg[4096], err[768], msg[1024];
    const char *hint = "";
    seg_path(x, p, seg, sizeof(seg));
    struct snap_writer_options o = {
        .table = x->c->table,
        .version = x->r->version,
        .partition = p,
        .partitions = x->partitions,
        .dims = 0,
        .on_duplicate = x->c->on_duplicate,
        .format = 0,
        .memory_budget = x->c->build_memory,
    };
    struct snap_writer *w = NULL;
    int code = 0;
    if (snap_writer_create(seg, &o, &w, err, sizeof(err)) != 0) {
        code = errno == ENOMEM ? LOAD_EXIT_INTERNAL : LOAD_EXIT_IO;
    }
    for (uint32_t t = 0; t < x->nspills; t++) {
        spill_run_path(x->spills[t], p, run, sizeof(run));
        if (code == 0) {
            code = build_from_run(w, run, err, sizeof(err));
        } else {
            unlink(run);
        }
    }
    if (code == 0 &&
        snap_writer_finish(w, &x->infos[p], err, sizeof(err)) != 0) {
        /* The writer reports a duplicate key under SNAP_DUP_ERROR as
         * EEXIST. */
        code = errno == EEXIST   ? LOAD_EXIT_DATA
               : errno == ENOMEM ? LOAD_EXIT_INTERNAL
                                 : LOAD_EXIT_IO;
        if (code == LOAD_EXIT_DATA) {
            hint = " (--on-duplicate last keeps the last row of a key)";
        }
    }
    snap_writer_destroy(&w);
    if (code != 0) {
        snprintf(msg, sizeof(msg), "partition %u: %s%s", p, err, hint);
        build_fail(b, code, msg);
    }
    return code;
}

static void *build_worker(void *arg)
{
    struct build_state *b = arg;
    struct load_ctx *x = b->x;
    for (;;) {
        uint32_t p = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (p >= x->partitions || __atomic_load_n(&b->code, __ATOMIC_RELAXED)) {
            return NULL;
        }
        if (x->c->interrupted != NULL && *x->c->interrupted) {
            return NULL;
        }
        if (b->work(b, p) != 0) {
            return NULL;
        }
    }
}

static uint32_t build_threads(const struct load_ctx *x)
{
    uint32_t n = x->c->build_threads;
    if (n == 0) {
        n = LOAD_DEFAULT_BUILD_THREADS;
    }
    if (n > LOAD_MAX_BUILD_THREADS) {
        n = LOAD_MAX_BUILD_THREADS;
    }
    return n > x->partitions ? x->partitions : n;
}

/* Runs b->work over every partition with build_threads() threads. */
static void run_partitions(struct build_state *b)
{
    pthread_mutex_init(&b->mu, NULL);
    uint32_t nthreads = build_threads(b->x);
    pthread_t tids[LOAD_MAX_BUILD_THREADS];
    uint32_t started = 0;
    for (uint32_t i = 1; i < nthreads; i++) {
        if (pthread_create(&tids[started], NULL, build_worker, b) != 0) {
            break;
        }
        started++;
    }
    build_worker(b);
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    pthread_mutex_destroy(&b->mu);
}

static void destroy_spills(struct load_ctx *x)
{
    for (uint32_t t = 0; t < x->nspills; t++) {
        spill_destroy(&x->spills[t]);
    }
    free(x->spills);
    x->spills = NULL;
    x->nspills = 0;
}

static int phase_build(struct load_ctx *x)
{
    enum memb_status st =
        membership_version_alloc(x->m, x->c->table, &x->r->version);
    if (st != MEMB_OK) {
        return memb_fail(x, st, "allocating a version");
    }
    x->have_version = true;
    x->created_ms = wall_ms();
    x->infos = calloc(x->partitions, sizeof(*x->infos));
    if (x->infos == NULL) {
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    struct build_state b = {.x = x, .work = build_partition};
    run_partitions(&b);
    if (b.code != 0) {
        return fail(x, b.code, "build: %s", b.err);
    }
    if (check_interrupt(x) != 0) {
        return x->r->exit_code;
    }
    struct load_result *r = x->r;
    for (uint32_t p = 0; p < x->partitions; p++) {
        r->rows += x->infos[p].rows;
        r->duplicates += x->infos[p].duplicates;
        r->bytes += x->infos[p].bytes;
        r->key_bytes += x->infos[p].key_bytes;
        r->value_bytes += x->infos[p].value_bytes;
    }
    destroy_spills(x);
    return 0;
}

/* ---- gates -------------------------------------------------------------- */

static int gate_row_change(struct load_ctx *x)
{
    struct memb_active a;
    enum memb_status st = membership_active_get(x->m, &a);
    if (st != MEMB_OK) {
        return memb_fail(x, st, "reading the active map");
    }
    uint64_t active = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (strcmp(a.entries[i].table, x->c->table) == 0) {
            active = a.entries[i].version;
        }
    }
    membership_active_free(&a);
    x->r->previous_version = active;
    if (!x->c->has_max_row_change) {
        return 0;
    }
    if (active == 0) {
        log_notice("gate: %s has no active version: --max-row-change has "
                   "nothing to compare with", x->c->table);
        return 0;
    }
    struct memb_version v;
    st = membership_version_get(x->m, x->c->table, active, &v);
    if (st != MEMB_OK) {
        return memb_fail(x, st, "reading the active version");
    }
    char msg[512];
    if (gate_row_change_check(x->c->max_row_change, v.rows, x->r->rows, msg,
                              sizeof(msg)) != 0) {
        return fail(x, LOAD_EXIT_GATE, "gate: %s (active version %llu)", msg,
                    (unsigned long long)active);
    }
    return 0;
}

/*
 * The schema-change gate: the fields and types this load saw must be
 * those recorded in the active version's manifest, unless
 * --allow-schema-change. Runs after gate_row_change(), which found the
 * active version. Versions without rows have no types to compare.
 */
static int gate_schema(struct load_ctx *x)
{
    uint64_t active = x->r->previous_version;
    if (x->c->allow_schema_change || active == 0) {
        return 0;
    }
    struct memb_version v;
    enum memb_status st = membership_version_get(x->m, x->c->table, active,
                                                 &v);
    if (st != MEMB_OK) {
        return memb_fail(x, st, "reading the active version");
    }
    if (v.rows == 0 || x->r->rows == 0) {
        log_notice("gate: schema not compared (%s version has no rows)",
                   v.rows == 0 ? "the active" : "the new");
        return 0;
    }
    struct manifest mf;
    char err[1024];
    if (manifest_fetch(v.manifest_uri, v.manifest_checksum, x->c->table,
                       active, &mf, NULL, err, sizeof(err)) != 0) {
        return fail(x, LOAD_EXIT_IO, "gate: cannot read the manifest of "
                    "active version %llu to compare schemas: %s "
                    "(--allow-schema-change skips the comparison)",
                    (unsigned long long)active, err);
    }
    if (mf.schema_json == NULL) {
        manifest_free(&mf);
        log_notice("gate: active version %llu records no schema: nothing "
                   "to compare with", (unsigned long long)active);
        return 0;
    }
    struct schema *was = schema_from_json(mf.schema_json, err, sizeof(err));
    manifest_free(&mf);
    if (was == NULL) {
        return fail(x, LOAD_EXIT_IO, "gate: active version %llu: %s "
                    "(--allow-schema-change skips the comparison)",
                    (unsigned long long)active, err);
    }
    struct buf msg = {0};
    size_t n = schema_compare(was, row_encoder_schema(x->enc), &msg);
    schema_destroy(&was);
    buf_append(&msg, "", 1);
    int rc = 0;
    if (buf_failed(&msg)) {
        rc = fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    } else if (n > 0) {
        rc = fail(x, LOAD_EXIT_GATE, "gate: schema differs from active "
                  "version %llu's: %s (--allow-schema-change accepts it)",
                  (unsigned long long)active, msg.data);
    }
    buf_deinit(&msg);
    return rc;
}

static int gate_memory(struct load_ctx *x)
{
    struct memb_member *ms = NULL;
    size_t n = 0;
    enum memb_status st = membership_member_list(x->m, &ms, &n);
    if (st == MEMB_NOTFOUND) {
        n = 0;
    } else if (st != MEMB_OK) {
        return memb_fail(x, st, "listing members");
    }
    uint32_t live = 0;
    for (size_t i = 0; i < n; i++) {
        live += ms[i].live != 0;
    }
    x->r->min_replicas = default_min_replicas(x, live);
    struct capacity_verdict v;
    char msg[1536];
    /* Every live node must fit its share, not only min-replicas of them:
     * the readiness wait ends once min-replicas are ready, possibly before
     * a node that cannot fit has refused, and the version would then be
     * activated on a node that has no room for it. */
    int rc = capacity_check(ms, n, x->table.replication, x->r->bytes, live,
                            &v, msg, sizeof(msg));
    free(ms);
    if (rc != 0) {
        return fail(x, LOAD_EXIT_MEMORY, "cluster lacks memory: %s", msg);
    }
    if (v.live == 0) {
        log_notice("gate: no live node to check memory with");
    }
    return 0;
}

/* ---- publish ------------------------------------------------------------ */

static void version_record(const struct load_ctx *x,
                           enum memb_version_state state,
                           struct memb_version *v)
{
    memset(v, 0, sizeof(*v));
    v->version = x->r->version;
    v->state = state;
    snprintf(v->manifest_uri, sizeof(v->manifest_uri), "%s",
             x->manifest_uri);
    v->manifest_checksum = x->manifest_checksum;
    v->rows = x->r->rows;
    v->bytes = x->r->bytes;
    v->partitions = x->partitions;
    v->format = SNAP_FORMAT_NEWEST;
    snprintf(v->run_id, sizeof(v->run_id), "%s",
             x->c->run_id ? x->c->run_id : "");
    snprintf(v->push_id, sizeof(v->push_id), "%s",
             x->c->push_id ? x->c->push_id : "");
    v->created_ms = x->created_ms;
}

static int put_manifest(struct load_ctx *x)
{
    struct manifest mf;
    memset(&mf, 0, sizeof(mf));
    snprintf(mf.table, sizeof(mf.table), "%s", x->c->table);
    mf.version = x->r->version;
    mf.format = SNAP_FORMAT_NEWEST;
    mf.partitions = x->partitions;
    mf.rows = x->r->rows;
    mf.bytes = x->r->bytes;
    mf.key_bytes = x->r->key_bytes;
    mf.value_bytes = x->r->value_bytes;
    snprintf(mf.run_id, sizeof(mf.run_id), "%s",
             x->c->run_id ? x->c->run_id : "");
    mf.created_ms = x->created_ms;
    mf.load_ms = (int64_t)((now_s() - x->started_s) * 1000.0);
    mf.schema_json = row_encoder_schema_json(x->enc);
    mf.files = calloc(x->partitions, sizeof(*mf.files));
    if (mf.schema_json == NULL || mf.files == NULL) {
        manifest_free(&mf);
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    for (uint32_t p = 0; p < x->partitions; p++) {
        struct manifest_file *f = &mf.files[p];
        char leaf[32];
        snprintf(leaf, sizeof(leaf), "part-%05u.seg", p);
        f->partition = p;
        version_key(x, leaf, f->key, sizeof(f->key));
        f->rows = x->infos[p].rows;
        f->bytes = x->infos[p].bytes;
        f->checksum = x->infos[p].checksum;
    }
    char *json = manifest_to_json(&mf);
    manifest_free(&mf);
    if (json == NULL) {
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    char key[512], err[1024];
    version_key(x, "manifest.json", key, sizeof(key));
    size_t len = strlen(json);
    int rc = store_put_bytes(x->store, key, json, len, err, sizeof(err));
    x->manifest_checksum = XXH3_64bits(json, len);
    free(json);
    if (rc != 0) {
        return fail(x, LOAD_EXIT_IO, "store: %s: %s", key, err);
    }
    store_uri(x->store, key, x->manifest_uri, sizeof(x->manifest_uri));
    return 0;
}

/*
 * Moves partition p's segment into the store (a rename for a file:// store
 * on the scratch directory's file system, else a copy checked against the
 * checksum the writer computed).
 */
static int publish_partition(struct build_state *b, uint32_t p)
{
    struct load_ctx *x = b->x;
    char err[1024], key[512], path[4096], msg[2048];
    char leaf[32];
    snprintf(leaf, sizeof(leaf), "part-%05u.seg", p);
    version_key(x, leaf, key, sizeof(key));
    seg_path(x, p, path, sizeof(path));
    if (store_move_file(x->store, key, path, x->infos[p].checksum, err,
                        sizeof(err)) != 0) {
        snprintf(msg, sizeof(msg), "store: %s: %s", key, err);
        build_fail(b, LOAD_EXIT_IO, msg);
        return LOAD_EXIT_IO;
    }
    return 0;
}

/*
 * Publishes the segments with the build threads (each put waits for its
 * fsync, or for the network: several at once keep the disk or the link
 * busy), then the manifest, the table config and the version record.
 */
static int phase_publish(struct load_ctx *x)
{
    struct build_state b = {.x = x, .work = publish_partition};
    run_partitions(&b);
    if (b.code != 0) {
        return fail(x, b.code, "%s", b.err);
    }
    if (check_interrupt(x) != 0) {
        return x->r->exit_code;
    }
    if (put_manifest(x) != 0) {
        return x->r->exit_code;
    }
    enum memb_status st;
    if (!x->table_exists) {
        st = membership_table_put(x->m, &x->table);
        if (st != MEMB_OK) {
            return memb_fail(x, st, "creating the table config");
        }
        x->table_exists = true;
    }
    struct memb_version v;
    version_record(x, MEMB_V_STAGED, &v);
    st = membership_version_put(x->m, x->c->table, &v);
    if (st != MEMB_OK) {
        return memb_fail(x, st, "registering the version");
    }
    return 0;
}

/* ---- wait and activate --------------------------------------------------- */

/* Sleeps; a signal cuts it short so the caller can look at it. */
static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int phase_wait(struct load_ctx *x)
{
    uint32_t need = x->r->min_replicas;
    uint32_t *counts = calloc(x->partitions, sizeof(*counts));
    if (counts == NULL) {
        return fail(x, LOAD_EXIT_INTERNAL, "out of memory");
    }
    double start = now_s();
    double last_log = start;
    double timeout = (double)x->c->ready_timeout_ms / 1000.0;
    int rc = 0;
    for (;;) {
        /* Readiness first, refusals second: a refusal recorded while the
         * readiness was read still fails the load. */
        enum memb_status st = membership_ready_count(
            x->m, x->c->table, x->r->version, x->partitions, counts);
        if (st != MEMB_OK && st != MEMB_NOTFOUND) {
            rc = memb_fail(x, st, "reading readiness");
            break;
        }
        uint32_t ready = 0;
        for (uint32_t p = 0; p < x->partitions; p++) {
            ready += st == MEMB_OK && counts[p] >= need;
        }
        char node[MEMB_FIELD_MAX], reason[MEMB_FIELD_MAX];
        st = membership_refusal_get(x->m, x->c->table, x->r->version, node,
                                    reason);
        if (st == MEMB_OK) {
            bool memory = strcasestr(reason, "memory") != NULL;
            rc = fail(x, memory ? LOAD_EXIT_MEMORY : LOAD_EXIT_UNAVAILABLE,
                      "%snode %s refused version %llu: %s",
                      memory ? "cluster lacks memory: " : "", node,
                      (unsigned long long)x->r->version, reason);
            break;
        }
        if (st != MEMB_NOTFOUND) {
            rc = memb_fail(x, st, "reading refusals");
            break;
        }
        if (ready == x->partitions) {
            break;
        }
        /* A load whose lock died (its ZooKeeper session expired during a
         * long pause) can never activate: say so now, not at the timeout
         * (its version may even be gone: the load that took the lock over
         * may have cleaned the store). */
        if (membership_lock_check(x->m, x->lock) != MEMB_OK) {
            rc = fail(x, LOAD_EXIT_UNAVAILABLE, "the load lock of %s was "
                      "lost while waiting for readiness (%s); nothing was "
                      "activated", x->c->table, membership_error(x->m));
            break;
        }
        double t = now_s();
        if (t - start >= timeout) {
            rc = fail(x, LOAD_EXIT_UNAVAILABLE, "not ready after %.0f s: "
                      "%u of %u partitions have %u ready replicas",
                      timeout, ready, x->partitions, need);
            break;
        }
        if ((t - last_log) * 1000 >= LOAD_WAIT_LOG_MS) {
            last_log = t;
            log_notice("wait: %u of %u partitions ready", ready,
                       x->partitions);
        }
        if ((rc = check_interrupt(x)) != 0) {
            break;
        }
        sleep_ms(x->c->ready_poll_ms);
    }
    free(counts);
    return rc;
}

/* True if the active map names this load's version for its table. */
static bool is_active(struct load_ctx *x)
{
    struct memb_active a;
    if (membership_active_get(x->m, &a) != MEMB_OK) {
        return false;
    }
    bool yes = false;
    for (size_t i = 0; i < a.n; i++) {
        yes |= strcmp(a.entries[i].table, x->c->table) == 0 &&
               a.entries[i].version == x->r->version;
    }
    membership_active_free(&a);
    return yes;
}

static int phase_activate(struct load_ctx *x)
{
    struct activation_pair pair;
    memset(&pair, 0, sizeof(pair));
    snprintf(pair.table, sizeof(pair.table), "%s", x->c->table);
    pair.version = x->r->version;
    struct activation_options o = {.force = false,
                                   .min_replicas = x->r->min_replicas};
    char err[1024];
    /* A lock held through a ZooKeeper session that expired meanwhile (a
     * long pause) is gone, and another load of the table may hold it now:
     * this load must not activate. */
    enum memb_status st = membership_lock_check(x->m, x->lock);
    if (st != MEMB_OK) {
        return fail(x, LOAD_EXIT_UNAVAILABLE, "the load lock of %s was lost "
                    "before activation (%s); nothing was activated",
                    x->c->table, membership_error(x->m));
    }
    st = activation_apply(x->m, &pair, 1, &o, NULL, err, sizeof(err));
    if (st == MEMB_OK || is_active(x)) {
        return 0;
    }
    int code = st == MEMB_CONFLICT || st == MEMB_BUSY ? LOAD_EXIT_UNAVAILABLE
               : st == MEMB_ERR                     ? LOAD_EXIT_IO
                                                    : LOAD_EXIT_GATE;
    return fail(x, code, "activation refused (%s): %s",
                memb_status_name(st), err);
}

/*
 * After an activation: versions of the table past --store-retain leave
 * the store (store_retention.h). The load has succeeded already, so a
 * failure here is only a warning; the next load tries again.
 */
static void retire_old_versions(struct load_ctx *x)
{
    struct retention_result rr;
    char err[1024];
    if (store_retention_apply(x->m, x->store, x->c->table,
                              x->c->store_retain, &rr, err,
                              sizeof(err)) != 0) {
        log_warning("could not retire every old version of %s: %s",
                    x->c->table, err);
    }
    if (rr.retired > 0) {
        log_notice("retired %u old version(s) of %s: %llu object(s) deleted "
                   "from the store", rr.retired, x->c->table,
                   (unsigned long long)rr.objects);
    }
}

/* ---- the whole load ------------------------------------------------------ */

static void cleanup(struct load_ctx *x)
{
    if (x->r->exit_code != 0 && x->have_version && x->m != NULL) {
        struct memb_version v;
        version_record(x, MEMB_V_FAILED, &v);
        enum memb_status st =
            membership_version_put(x->m, x->c->table, &v);
        if (st != MEMB_OK) {
            log_warning("could not mark version %llu failed: %s",
                        (unsigned long long)x->r->version,
                        memb_status_name(st));
        }
    }
    progress_destroy(&x->progress);
    destroy_spills(x);
    if (x->have_work && work_dir_remove(x->work) != 0) {
        log_warning("could not remove %s: %s", x->work, strerror(errno));
    }
    membership_unlock(&x->lock);
    membership_close(&x->m);
    store_close(&x->store);
    row_encoder_destroy(&x->enc);
    input_files_free(&x->files);
    free(x->infos);
}

/*
 * Test hook: with LARDER_TEST_STOP_AT_PHASE naming a phase ("read",
 * "build", ...), the loader stops itself (SIGSTOP) as that phase begins,
 * so that a test can kill -9 it there every time rather than by timing.
 */
static void test_stop_at(enum load_phase p)
{
    const char *s = getenv("LARDER_TEST_STOP_AT_PHASE");
    if (s != NULL && strcmp(s, load_phase_name(p)) == 0) {
        raise(SIGSTOP);
    }
}

/* Runs one phase, timing it; returns its result. */
static int timed(struct load_ctx *x, enum load_phase p,
                 int (*fn)(struct load_ctx *))
{
    test_stop_at(p);
    double t0 = now_s();
    int rc = fn(x);
    x->r->seconds[p] += now_s() - t0;
    return rc;
}

static int gates(struct load_ctx *x)
{
    if (gate_row_change(x) != 0 || gate_schema(x) != 0 ||
        gate_memory(x) != 0) {
        return x->r->exit_code;
    }
    return 0;
}

static void log_phase(struct load_ctx *x, enum load_phase p)
{
    struct load_result *r = x->r;
    double s = r->seconds[p];
    char size[32];
    switch (p) {
    case LOAD_PHASE_READ:
        capacity_format_bytes(r->input_bytes, size, sizeof(size));
        log_notice("read: %llu rows, %llu bad, from %llu files (%s) in "
                   "%.2f s (%.0f rows/s)", (unsigned long long)r->rows_read,
                   (unsigned long long)r->bad_rows,
                   (unsigned long long)r->files, size, s,
                   s > 0 ? (double)r->rows_read / s : 0.0);
        break;
    case LOAD_PHASE_BUILD:
        capacity_format_bytes(r->bytes, size, sizeof(size));
        log_notice("build: version %llu, %llu rows (%llu duplicates "
                   "dropped), %u partitions, %s in %.2f s (%.0f rows/s)",
                   (unsigned long long)r->version,
                   (unsigned long long)r->rows,
                   (unsigned long long)r->duplicates, r->partitions, size, s,
                   s > 0 ? (double)r->rows_read / s : 0.0);
        break;
    case LOAD_PHASE_PUBLISH:
        log_notice("publish: %s version %llu staged (%s) in %.2f s",
                   x->c->table, (unsigned long long)r->version,
                   x->manifest_uri, s);
        break;
    case LOAD_PHASE_WAIT:
        log_notice("wait: every partition has %u ready replicas after "
                   "%.2f s", r->min_replicas, s);
        break;
    case LOAD_PHASE_ACTIVATE:
        log_notice("activate: %s version %llu is active (was %llu) in "
                   "%.2f s", x->c->table, (unsigned long long)r->version,
                   (unsigned long long)r->previous_version, s);
        break;
    case LOAD_PHASES:
        break;
    }
}

int load_run(const struct load_config *c, struct load_result *r)
{
    memset(r, 0, sizeof(*r));
    r->state = "failed";
    struct load_ctx x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.r = r;
    x.started_s = now_s();
    if (prepare(&x) == 0 && strcmp(r->state, "noop") != 0) {
        int rc = timed(&x, LOAD_PHASE_READ, phase_read);
        if (rc == 0) {
            log_phase(&x, LOAD_PHASE_READ);
            rc = timed(&x, LOAD_PHASE_BUILD, phase_build);
        }
        if (rc == 0) {
            rc = timed(&x, LOAD_PHASE_BUILD, gates);
        }
        if (rc == 0) {
            log_phase(&x, LOAD_PHASE_BUILD);
            rc = timed(&x, LOAD_PHASE_PUBLISH, phase_publish);
        }
        if (rc == 0) {
            log_phase(&x, LOAD_PHASE_PUBLISH);
            r->state = "staged";
        }
        if (rc == 0 && !c->stage_only) {
            rc = timed(&x, LOAD_PHASE_WAIT, phase_wait);
            if (rc == 0) {
                log_phase(&x, LOAD_PHASE_WAIT);
                rc = timed(&x, LOAD_PHASE_ACTIVATE, phase_activate);
            }
            if (rc == 0) {
                log_phase(&x, LOAD_PHASE_ACTIVATE);
                r->state = "active";
                retire_old_versions(&x);
            }
        }
        if (rc != 0) {
            r->state = "failed";
        }
    }
    cleanup(&x);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        r->peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024;
    }
    return r->exit_code;
}
