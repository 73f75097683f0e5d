/*
 * log.h: levelled, one-line-per-event logging to stderr.
 *
 * Each line carries a UTC timestamp, the process id, a level letter and the
 * message. The level is a process-wide setting that can change at run time
 * (CONFIG SET loglevel); reading it is a relaxed atomic load, so a disabled
 * level costs one comparison.
 *
 * Two line formats (log_set_format()):
 *   text: 1234:2024-05-01T12:00:00.123Z * message
 *   json: {"ts":"2024-05-01T12:00:00.123Z","level":"notice","pid":1234,
 *          "msg":"message"}   (one object per line)
 * In JSON the message is escaped as a JSON string: '"', '\' and control
 * characters are escaped, valid UTF-8 passes through and any other byte
 * becomes U+FFFD.
 */
#ifndef LARDER_LOG_H
#define LARDER_LOG_H

enum log_level {
    LOG_LVL_DEBUG = 0,
    LOG_LVL_VERBOSE,
    LOG_LVL_NOTICE,
    LOG_LVL_WARNING,
};

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON,
};

/* Sets the lowest level that is written. */
void log_set_level(enum log_level level);

/* The current level. */
enum log_level log_get_level(void);

/* Sets the line format (text by default). */
void log_set_format(enum log_format format);

/* Parses "debug", "verbose", "notice" or "warning"; -1 if unknown. */
int log_level_parse(const char *name);

/* Writes one line if level is enabled; a trailing newline is added. */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_write(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_write(LOG_LVL_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_write(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warning(...) log_write(LOG_LVL_WARNING, __VA_ARGS__)

#endif
