/*
 * text.h: small text helpers the engine's parts share: did-you-mean suggestions, quoted name
 * lists for "expected one of" messages, a growable string, and reading a whole file with the
 * reason of a failure on the caller's handle. Plugins get the same functions through the plugin
 * kit (lethe/kit.h, engine/plugin/kit.c). Private to liblethe (hidden symbols).
 */
#ifndef LETHE_UTIL_TEXT_H
#define LETHE_UTIL_TEXT_H

#include <stddef.h>

#include <lethe/kit.h>

#include "errbuf.h"

/* The candidate (NULL-terminated list) closest to word by edit distance when it is close enough
 * to be a likely typo (at most len/3 + 1 edits); or NULL. */
const char *lethe_text__suggest(const char *word, const char *const *candidates);
/* Writes the NULL-terminated names as "'a', 'b', 'c'" into buf (cut to fit). */
void lethe_text__quote_list(const char *const *names, char *buf, size_t size);

/* A growable byte string (lethe_buf, public in lethe/kit.h: the plugin kit hands out these). */
int lethe_buf__add(lethe_buf *b, const char *s, size_t n);
int lethe_buf__str(lethe_buf *b, const char *s);
void lethe_buf__free(lethe_buf *b);

/* Reads a whole file into *data (NUL-terminated, the caller's). An unreadable or empty file fails
 * with err set to "path: why" (LETHE_ENOTFOUND, LETHE_EIO, LETHE_EPARSE for an empty file,
 * LETHE_ENOMEM). */
int lethe_text__read_file(lethe_errbuf *err, const char *path, char **data, size_t *len);
/* The same for a text file: a NUL byte fails naming its line and column, a UTF-8 byte-order mark
 * is dropped, more than 2 GiB fails (LETHE_EPARSE). */
int lethe_text__read_text(lethe_errbuf *err, const char *path, char **data, size_t *len);
/* Offset of the first byte of s[0..n) that is not part of valid UTF-8 (RFC 3629), or
 * (size_t)-1. */
size_t lethe_text__utf8_invalid(const char *s, size_t n);
/* Whether path is a readable file that starts with HDF5's signature (a lethe run file, as
 * opposed to a checkpoint). */
int lethe_text__is_hdf5(const char *path);
/* v as the shortest decimal (%.1g to %.17g) that strtod() reads back to the same double. */
void lethe_text__shortest(double v, char *buf, size_t size);

#endif
