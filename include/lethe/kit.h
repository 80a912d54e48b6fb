/*
 * lethe/kit.h: the plugin kit, the helpers every task plugin needs that are not about its task:
 * reading a text file and its lines with positions for messages, JSON lines through a parsed
 * value handle, UTF-8 checks, option checking with did-you-mean, label maps, the "expected one
 * of ..." message, prompt templates, growable strings. Plugins reach it through lethe_host.kit
 * (lethe/plugin.h), so a plugin links nothing of lethe's (no cJSON either: JSON is parsed inside
 * liblethe and read through accessors). The bundled plugins use the same table.
 *
 * Compatibility: lethe_kit_api starts with struct_size and only grows at the end; check
 * struct_size before calling a member added later than the one your plugin was built with.
 * Functions that take a host report their errors through host->error() (one line naming the
 * file:line:column or option) and return 0 or a negative LETHE_E* code; the others cannot fail
 * or return LETHE_ENOMEM only. Memory a kit function allocates is released by the matching kit
 * function (buf_free, pool_free, json_free, labels_free, free_data), never by the plugin's free().
 */
#ifndef LETHE_KIT_H
#define LETHE_KIT_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lethe_host;
struct lethe_option;

/* A growable byte string, NUL-terminated once anything is appended. Zero-initialise it. */
typedef struct lethe_buf {
	char *s;
	size_t n, cap;
} lethe_buf;

/* Append-only storage for example strings; references are offsets, since the buffer moves. */
typedef struct lethe_pool {
	char *buf;
	size_t len, cap;
} lethe_pool;

/* Iterates over the lines of a text in memory, split on '\n' only (never on U+0085 or other
 * Unicode breaks); a trailing '\r' is dropped. Initialise with lines_init(). */
typedef struct lethe_lines {
	const char *data;
	size_t len, pos;
	size_t lineno; /* 1-based number of the line last returned */
} lethe_lines;

/* One JSON value inside a record parsed by json_parse(); valid until json_free() of the record.
 * Every accessor accepts NULL (a missing value) and then answers "none": so
 * kit->json_string(kit->json_get(rec, "text")) is NULL both when the field is absent and when it
 * is not a string. */
typedef struct lethe_json lethe_json;

typedef enum lethe_json_type {
	LETHE_JSON_NONE = 0, /* a NULL handle: the value is absent */
	LETHE_JSON_NULL = 1,
	LETHE_JSON_BOOL = 2,
	LETHE_JSON_NUMBER = 3,
	LETHE_JSON_STRING = 4,
	LETHE_JSON_ARRAY = 5,
	LETHE_JSON_OBJECT = 6
} lethe_json_type;

/* A label map: the labels as written in the data (keys, in order) and the word the model is to
 * predict for each (a CHOICE task's candidates). Built from "NAME.KEY: WORD" options, which is
 * how a YAML map `labels: {0: negative, 1: positive}` reaches a plugin. */
typedef struct lethe_labels lethe_labels;

typedef struct lethe_kit_api {
	uint32_t struct_size; /* sizeof(lethe_kit_api) as the host was compiled */

	/* ---- files and lines ---- */
	/* Reads a whole text file into *data (NUL-terminated; release with free_data()). A UTF-8
	 * byte-order mark is dropped. Fails naming path for an unreadable or empty file, a NUL byte
	 * ("path:line:column: a NUL byte ..."), or a file over 2 GiB. */
	int (*read_file)(const struct lethe_host *host, const char *path, char **data, size_t *len);
	void (*free_data)(char *data);
	void (*lines_init)(lethe_lines *it, const char *data, size_t len);
	/* 1 and the next line (not NUL-terminated), or 0 at the end. */
	int (*lines_next)(lethe_lines *it, const char **line, size_t *line_len);
	/* Splits line[0..n) at tabs into at most max fields; returns how many fields there are
	 * (which may exceed max: only the first max are stored). */
	size_t (*split_tabs)(const char *line, size_t n, const char **fields, size_t *lens,
	                     size_t max);
	/* The end of a load: rc from reading path, n examples kept. rc == 0 with n == 0 fails as
	 * "path: <empty>"; LETHE_ENOMEM is reported naming path. Returns the load's final code. */
	int (*load_status)(const struct lethe_host *host, const char *path, int rc, size_t n,
	                   const char *empty);

	/* ---- text ---- */
	/* Offset of the first byte that is not part of valid UTF-8 (RFC 3629), or (size_t)-1. */
	size_t (*utf8_invalid)(const char *s, size_t n);
	/* 1 when s[0..n) has only spaces, tabs, '\r', '\v' or '\f' (or is empty). */
	int (*blank)(const char *s, size_t n);
	/* Trims spaces, tabs and '\r' from both ends of s[0..*n). */
	const char *(*trim)(const char *s, size_t *n);
	int (*ends_with)(const char *s, const char *suffix);
	int (*buf_add)(lethe_buf *b, const char *s, size_t n);
	int (*buf_str)(lethe_buf *b, const char *s);
	void (*buf_free)(lethe_buf *b);
	/* Appends s[0..n) and a NUL to pool; *offset receives where it starts. */
	int (*pool_add)(lethe_pool *pool, const char *s, size_t n, size_t *offset);
	void (*pool_free)(lethe_pool *pool);

	/* ---- options and messages ---- */
	/* The candidate (NULL-terminated) closest to word by edit distance when it is a likely typo
	 * (at most len/3 + 1 edits); or NULL. */
	const char *(*suggest)(const char *word, const char *const *candidates);
	/* Writes the NULL-terminated names as "'a', 'b', 'c'" into buf (cut to fit). */
	void (*quote_list)(const char *const *names, char *buf, size_t size);
	/* Reports "<where>: <what>: expected one of 'a', 'b', got 'x' (did you mean 'a'?)" and
	 * returns LETHE_EINVAL. what may be NULL ("<where>: expected one of ..."). */
	int (*expected_one_of)(const struct lethe_host *host, const char *where, const char *what,
	                       const char *got, const char *const *values);
	/* Fails naming option->where for an option whose key (its first dotted component) is not
	 * in known (NULL-terminated), with a did-you-mean when one is close. */
	int (*check_options)(const struct lethe_host *host, const char *plugin,
	                     const struct lethe_option *options, size_t n_options,
	                     const char *const *known);
	int (*option_uint)(const struct lethe_host *host, const struct lethe_option *option,
	                   unsigned long min, unsigned long max, unsigned long *out);
	/* *out = the index of option->value in values (NULL-terminated), else expected_one_of. */
	int (*option_enum)(const struct lethe_host *host, const struct lethe_option *option,
	                   const char *const *values, int *out);
	int (*option_bool)(const struct lethe_host *host, const struct lethe_option *option,
	                   int *out);
	/* Prompt templates: "{name}" is replaced by a value, "{{" and "}}" stand for braces.
	 * template_check fails naming option->where for a name outside names (NULL-terminated) or
	 * an unmatched brace; template_render appends the filled template to out. */
	int (*template_check)(const struct lethe_host *host, const struct lethe_option *option,
	                      const char *const *names);
	int (*template_render)(lethe_buf *out, const char *tmpl, const char *const *names,
	                       const char *const *values);

	/* ---- label maps ---- */
	/* Collects the options "name.KEY: WORD" into *out, in order. Keys and words must be
	 * non-empty and distinct; at least two labels. When no such option is given, defaults
	 * (NULL-terminated pairs key, word, key, word, ...; may be NULL) are used. A bare "name"
	 * option (not a map) is refused. Errors name the option's place. */
	int (*labels_from_options)(const struct lethe_host *host, lethe_labels **out,
	                           const char *name, const struct lethe_option *options,
	                           size_t n_options, const char *const *defaults);
	void (*labels_free)(lethe_labels *labels);
	size_t (*labels_count)(const lethe_labels *labels);
	/* NULL-terminated arrays of the keys and the words, valid until labels_free(). */
	const char *const *(*labels_keys)(const lethe_labels *labels);
	const char *const *(*labels_words)(const lethe_labels *labels);
	/* The index of the label written s[0..n) in the data, or -1. */
	long (*labels_find)(const lethe_labels *labels, const char *s, size_t n);
	/* Reports "path:lineno: unknown label 'x' (expected one of '0', '1')", returns
	 * LETHE_EPARSE. */
	int (*labels_unknown)(const struct lethe_host *host, const lethe_labels *labels,
	                      const char *path, size_t lineno, const char *s, size_t n);

	/* ---- JSON lines ---- */
	/* Parses one JSON value text[0..len): a JSON lines record, or a whole file (then lineno is
	 * 1 and text may span lines). Errors name path:line:column: "invalid JSON", text after the
	 * value, or a "\u0000" escape (a C string cannot hold it). Release *out with json_free().
	 */
	int (*json_parse)(const struct lethe_host *host, const char *path, size_t lineno,
	                  const char *text, size_t len, lethe_json **out);
	void (*json_free)(lethe_json *root);
	lethe_json_type (*json_type)(const lethe_json *v);
	/* The member key of an object, or NULL (not an object, or no such member). */
	const lethe_json *(*json_get)(const lethe_json *object, const char *key);
	/* Items of an array or members of an object: the first, then the next; NULL at the end. */
	const lethe_json *(*json_first)(const lethe_json *v);
	const lethe_json *(*json_next)(const lethe_json *item);
	/* Number of items of an array or members of an object; 0 for anything else. */
	size_t (*json_size)(const lethe_json *v);
	/* A member's key (from json_first/json_next over an object), else NULL. */
	const char *(*json_key)(const lethe_json *member);
	/* A string's UTF-8 text, else NULL. */
	const char *(*json_string)(const lethe_json *v);
	/* *out = a number's value; 0, or LETHE_EINVAL when v is not a number. */
	int (*json_number)(const lethe_json *v, double *out);
	/* 1 for true, 0 for false, -1 when v is not a boolean. */
	int (*json_bool)(const lethe_json *v);
	/* Replaces out's contents with the text of v: a string, or an array of strings joined by
	 * sep. LETHE_EPARSE for any other value. */
	int (*json_text)(const lethe_json *v, const char *sep, lethe_buf *out);

	/* ---- select ---- */
	/* Reorders array (elem_size-byte elements) so that element i becomes the old idx[i], for
	 * i < n: a select() operation's work, once per parallel array. LETHE_ENOMEM leaves it as
	 * it was. */
	int (*select)(void *array, size_t elem_size, const size_t *idx, size_t n);
} lethe_kit_api;

/* The kit, as liblethe exports it (the engine and test mock hosts put it in lethe_host.kit;
 * plugins use that member, never this function). */
LETHE_EXPORT const lethe_kit_api *lethe_kit(void);

#ifdef __cplusplus
}
#endif

#endif
