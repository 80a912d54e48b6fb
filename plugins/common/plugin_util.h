/*
 * plugin_util.h: helpers the bundled task plugins share: reading files line by line with
 * positions for messages, checking UTF-8, validating options (with did-you-mean), a string pool,
 * and JSON lines through cJSON. Linked statically into each bundled plugin, so plugins still depend
 * on nothing but lethe/plugin.h at run time. Not installed: an outside plugin brings its own.
 */
#ifndef LETHE_PLUGIN_UTIL_H
#define LETHE_PLUGIN_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <lethe/plugin.h>

/* Reads a whole text file. An unreadable or empty file, a NUL byte (named by line and column)
 * or more than 2 GiB is an error naming path; a UTF-8 byte-order mark is dropped. *data is
 * NUL-terminated and owned by the caller. */
int lethe_pu_read_file(const lethe_host *host, const char *path, char **data, size_t *len);

/* Iterates over the lines of data (split on '\n' only, never on U+0085 or other Unicode breaks;
 * a trailing '\r' is dropped). Returns 0 at the end. */
typedef struct lethe_pu_lines {
	const char *data;
	size_t len, pos;
	size_t lineno; /* 1-based number of the line last returned */
} lethe_pu_lines;
void lethe_pu_lines_init(lethe_pu_lines *it, const char *data, size_t len);
int lethe_pu_lines_next(lethe_pu_lines *it, const char **line, size_t *line_len);

/* Offset of the first byte that is not part of valid UTF-8 (RFC 3629), or (size_t)-1. */
size_t lethe_pu_utf8_invalid(const char *s, size_t n);
/* 1 when s[0..n) has only spaces, tabs, '\r', '\v' or '\f'. */
int lethe_pu_blank(const char *s, size_t n);

/* The candidate closest to word by edit distance, if close enough to be a likely typo; or NULL. */
const char *lethe_pu_suggest(const char *word, const char *const *candidates);
/* Writes the NULL-terminated names as "'a', 'b', 'c'" into buf (truncated to fit), for
 * messages that list what was expected. */
void lethe_pu_quote_list(const char *const *names, char *buf, size_t size);

/* Fails naming option->where for any option whose key (its first dotted component) is not in
 * known (NULL-terminated), with a did-you-mean when one is close. */
int lethe_pu_check_options(const lethe_host *host, const char *plugin, const lethe_option *options,
                           size_t n_options, const char *const *known);
/* Value parsers for one option; errors name option->where and what was expected. */
int lethe_pu_option_uint(const lethe_host *host, const lethe_option *option, unsigned long min,
                         unsigned long max, unsigned long *out);
int lethe_pu_option_enum(const lethe_host *host, const lethe_option *option,
                         const char *const *values, int *out);
int lethe_pu_option_bool(const lethe_host *host, const lethe_option *option, int *out);

/* Append-only storage for example strings; references are offsets, since the buffer moves. */
typedef struct lethe_pu_pool {
	char *buf;
	size_t len, cap;
} lethe_pu_pool;
/* Appends s[0..n) and a NUL; *offset receives where it starts. */
int lethe_pu_pool_add(lethe_pu_pool *pool, const char *s, size_t n, size_t *offset);
void lethe_pu_pool_free(lethe_pu_pool *pool);

/* A growable byte string, always NUL-terminated once anything is appended. */
typedef struct lethe_pu_buf {
	char *s;
	size_t n, cap;
} lethe_pu_buf;
int lethe_pu_buf_add(lethe_pu_buf *b, const char *s, size_t n);
int lethe_pu_buf_str(lethe_pu_buf *b, const char *s);
void lethe_pu_buf_free(lethe_pu_buf *b);

/* Prompt templates: "{name}" is replaced by a value, "{{" and "}}" stand for braces. check()
 * fails naming option->where when the template uses a name outside names (NULL-terminated) or
 * has an unmatched brace; render() appends the filled template to out. */
int lethe_pu_template_check(const lethe_host *host, const lethe_option *option,
                            const char *const *names);
int lethe_pu_template_render(lethe_pu_buf *out, const char *tmpl, const char *const *names,
                             const char *const *values);

/* Splits line[0..n) at tabs into at most max fields; returns the number of fields there are
 * (which may exceed max: only the first max are stored). */
size_t lethe_pu_split_tabs(const char *line, size_t n, const char **fields, size_t *lens,
                           size_t max);
/* The end of every plugin's load: rc from reading and parsing path, n examples kept.
 * An empty split is a parse error reported as "path: <empty>"; running out of memory is
 * reported with the file's name. Returns the load's final code. */
int lethe_pu_load_status(const lethe_host *host, const char *path, int rc, size_t n,
                         const char *empty);
/* Whether s ends with suffix (file extensions choose formats). */
int lethe_pu_ends_with(const char *s, const char *suffix);
/* Trims spaces, tabs and '\r' from both ends of s[0..*n). */
const char *lethe_pu_trim(const char *s, size_t *n);

/* Text of a JSON value: a string, or a list of strings joined by sep. Other values fail. */
int lethe_pu_json_text(const cJSON *v, const char *sep, lethe_pu_buf *out);

/* Parses one JSON lines record; errors name path:line:column. The caller frees *out. */
int lethe_pu_json_parse(const lethe_host *host, const char *path, size_t lineno, const char *line,
                        size_t len, cJSON **out);

/* Reorders array (n_old elements of elem_size bytes) so that element i becomes the old idx[i],
 * for i < n (a select operation's work, once per parallel array). LETHE_ENOMEM leaves it as it
 * was. */
int lethe_pu_select(void *array, size_t elem_size, const size_t *idx, size_t n);

#endif
