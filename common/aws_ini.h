/*
 * aws_ini.h: lookups in the INI dialect of the AWS shared credentials and
 * config files (~/.aws/credentials, ~/.aws/config), over a buffer: no I/O.
 *
 * The dialect, as the AWS CLI reads it:
 *   - "[name]" starts a section; the name is trimmed and runs of blanks in
 *     it count as one space, so "[profile  x]" is section "profile x";
 *   - "key = value" or "key: value" (the first '=' or ':' splits); keys
 *     compare case-insensitively, values are trimmed, never unquoted, and
 *     keep any ';' or '#' inside them;
 *   - a line indented deeper than the key line before it in the same
 *     section continues that key's value (the CLI's nested "s3 =" blocks):
 *     it is never read as a key of its own;
 *   - lines starting with '#' or ';', blank lines, lines before the first
 *     section and lines without '=' or ':' are ignored;
 *   - a section or key given twice: the last value wins;
 *   - "\r\n" line ends and a leading UTF-8 byte order mark are accepted.
 */
#ifndef LARDER_AWS_INI_H
#define LARDER_AWS_INI_H

#include <stdbool.h>
#include <stddef.h>

/* True if buf[len] has a section of that name. */
bool aws_ini_has_section(const char *buf, size_t len, const char *section);

/*
 * Finds key in section. Returns 1 with the value copied NUL-terminated
 * into out[outlen]; 0 if the section or key is absent (out = ""); -1 if
 * the value does not fit (out = "").
 */
int aws_ini_get(const char *buf, size_t len, const char *section,
                const char *key, char *out, size_t outlen);

#endif
