/*
 * progress.h: the live progress line of larder-load's read phase
 * (--progress): rows read, bytes, rates and, when the input's size is
 * known, how far along the load is and the time left, redrawn in place
 * a few times a second.
 *
 * It draws only on a terminal: created on a descriptor that is not a TTY
 * (a pipe, a file, /dev/null) it is disabled and writes nothing, so
 * captured stderr and logs stay one line per event. Every function
 * accepts NULL, the disabled progress line.
 */
#ifndef LARDER_PROGRESS_H
#define LARDER_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Least time between two redraws. */
#define PROGRESS_INTERVAL_MS 250

struct progress;

/*
 * A progress line drawn on fd, for an input of total_bytes (0: unknown).
 * NULL (disabled) when fd is not a TTY or memory is short.
 */
struct progress *progress_create(int fd, uint64_t total_bytes);

/*
 * Reports rows and bytes read so far; redraws the line if the last
 * redraw was PROGRESS_INTERVAL_MS ago or more (the first report draws at
 * once).
 */
void progress_update(struct progress *p, uint64_t rows, uint64_t bytes);

/* Erases the line, e.g. before another message goes to the terminal. */
void progress_clear(struct progress *p);

/* Erases the line and frees; sets *p to NULL. */
void progress_destroy(struct progress **p);

/*
 * Formats the line for rows and bytes read in seconds, of an input of
 * total bytes (0: unknown), e.g.
 *   "read 1200000 rows, 98.1 MiB of 820.0 MiB (12%), 400000 rows/s,
 *    32.7 MiB/s, ETA 0:22"
 * The share and ETA are left out when total is unknown or the bytes read
 * already exceed it (the input is compressed: bytes count decompressed
 * text). Returns the length, as snprintf does. Pure.
 */
int progress_format(char *out, size_t outlen, uint64_t rows, uint64_t bytes,
                    uint64_t total, double seconds);

#endif
