/*
 * text.c: see text.h. Messages and suggestions match plugins/common/plugin_util.c's, so a
 * curriculum and a plugin word the same mistake the same way.
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

int lethe_text__read_file(lethe_errbuf *err, const char *path, char **data, size_t *len)
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
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (lethe_buf__add(&b, chunk, got))
			goto nomem;
	if (ferror(f)) {
		int e = errno;
		lethe_buf__free(&b);
		fclose(f);
		return lethe_errbuf__set(err, LETHE_EIO, "%s: read error: %s", path, strerror(e));
	}
	fclose(f);
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
