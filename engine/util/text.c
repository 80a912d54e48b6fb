/*
 * text.c: see text.h. The plugin kit (engine/plugin/kit*.c) hands these same functions to
 * plugins, so a curriculum and a plugin word the same mistake the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *lethe_text__suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; candidates[i]; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	size_t limit = strlen(word) / 3 + 1;
	return best_d <= limit ? best : NULL;
}

void lethe_text__quote_list(const char *const *names, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; names[i]; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", names[i]);
	}
}

int lethe_buf__add(lethe_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return LETHE_ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

int lethe_buf__str(lethe_buf *b, const char *s)
{
	return lethe_buf__add(b, s, strlen(s));
}

void lethe_buf__free(lethe_buf *b)
{
	free(b->s);
	*b = (lethe_buf){0};
}

/* Reads path whole. As text (the plugin kit's readers), reading stops at the first NUL byte, so
 * that /dev/zero or a binary file is refused at once instead of filling memory (a NUL would
 * silently cut a C-string field short), a UTF-8 byte-order mark is dropped (as the YAML and JSON
 * readers do) and more than 2 GiB is refused; as bytes (a tokenizer file being copied), the file
 * is kept as it is. */
#define TEXT_MAX ((size_t)2 << 30)

static int read_all(lethe_errbuf *err, const char *path, int text, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return lethe_errbuf__set(err, errno == ENOENT ? LETHE_ENOTFOUND : LETHE_EIO,
		                         "%s: cannot open: %s", path, strerror(errno));
	lethe_buf b = {0};
	char chunk[1 << 16];
	size_t got;
	int rc = 0;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		const char *nul = text ? memchr(chunk, '\0', got) : NULL;
		if (nul) {
			size_t at = (size_t)(nul - chunk), line = 1, col = 1;
			if (b.n && (rc = lethe_buf__add(&b, chunk, at)))
				goto nomem;
			const char *all = b.n ? b.s : chunk;
			size_t upto = b.n ? b.n : at;
			for (size_t i = 0; i < upto; i++, col++)
				if (all[i] == '\n')
					line++, col = 0;
			lethe_buf__free(&b);
			fclose(f);
			return lethe_errbuf__set(
			    err, LETHE_EPARSE,
			    "%s:%zu:%zu: a NUL byte: a text file cannot hold one (is this a binary "
			    "file?)",
			    path, line, col);
		}
		if (text && b.n + got > TEXT_MAX) {
			lethe_buf__free(&b);
			fclose(f);
			return lethe_errbuf__set(
			    err, LETHE_EPARSE, "%s: larger than 2 GiB: not a data file lethe reads",
			    path);
		}
		if ((rc = lethe_buf__add(&b, chunk, got)))
			goto nomem;
	}
	if (ferror(f)) {
		int e = errno;
		lethe_buf__free(&b);
		fclose(f);
		return lethe_errbuf__set(err, LETHE_EIO, "%s: read error: %s", path, strerror(e));
	}
	fclose(f);
	if (text && b.n >= 3 && memcmp(b.s, "\xef\xbb\xbf", 3) == 0) {
		memmove(b.s, b.s + 3, b.n - 2); /* with the NUL */
		b.n -= 3;
	}
	if (b.n == 0) {
		lethe_buf__free(&b);
		return lethe_errbuf__set(err, LETHE_EPARSE, "%s: file is empty", path);
	}
	*data = b.s;
	*len = b.n;
	return 0;
nomem:
	lethe_buf__free(&b);
	fclose(f);
	return lethe_errbuf__set(err, LETHE_ENOMEM, "%s: out of memory", path);
}

int lethe_text__read_file(lethe_errbuf *err, const char *path, char **data, size_t *len)
{
	return read_all(err, path, 0, data, len);
}

int lethe_text__read_text(lethe_errbuf *err, const char *path, char **data, size_t *len)
{
	return read_all(err, path, 1, data, len);
}

size_t lethe_text__utf8_invalid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		unsigned min, cp;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, min = 0x80, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, min = 0x800, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, min = 0x10000, cp = c & 0x07;
		else
			return i;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += k + 1;
	}
	return (size_t)-1;
}

int lethe_text__is_hdf5(const char *path)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
	unsigned char b[8];
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(b, 1, 8, f);
	fclose(f);
	return n == 8 && memcmp(b, sig, 8) == 0;
}

void lethe_text__shortest(double v, char *buf, size_t size)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, size, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}
