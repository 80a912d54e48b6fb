/*
 * l2c_tokenizer.c: llama2.c's tokenizer.bin (see l2c_tokenizer.h). The file is an int32 maximum
 * piece length, then per piece a float32 score, an int32 length and the bytes. Lookups of a
 * piece's text go through a hash table instead of run.c's sorted array and bsearch: the same
 * answers. Pieces are C strings, as in run.c (tokenizer.py writes the byte piece <0x00> as a NUL).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/common.h>

#include "l2c_tokenizer.h"
#include "util/errbuf.h"

struct lethe_l2c_tokenizer {
	char *path;
	size_t n;
	char **piece;
	size_t *len;
	float *score;
	const char **keys; /* hash table of pieces */
	int32_t *vals;
	size_t cap;
	size_t max_len;
	lethe_errbuf err;
};

#define fail(t, code, ...)                                                                         \
	lethe_errbuf__set_at(&(t)->err, code, (t)->path ? (t)->path : "tokenizer.bin", __VA_ARGS__)

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int32_t lookup(const lethe_l2c_tokenizer *t, const char *s, size_t n)
{
	for (size_t i = hash(s, n) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->keys[i])
			return -1;
		int32_t id = t->vals[i];
		if (t->len[id] == n && memcmp(t->keys[i], s, n) == 0)
			return id;
	}
}

int lethe_l2c_tokenizer_load(lethe_l2c_tokenizer **out, const char *path, size_t vocab_size)
{
	*out = NULL;
	lethe_l2c_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return LETHE_ENOMEM;
	*out = t;
	if (!(t->path = strdup(path)))
		return LETHE_ENOMEM;
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(t, LETHE_EIO, "cannot open: %s", strerror(errno));
	int rc = 0;
	int32_t max_len;
	t->n = vocab_size;
	t->piece = calloc(vocab_size ? vocab_size : 1, sizeof *t->piece);
	t->len = calloc(vocab_size ? vocab_size : 1, sizeof *t->len);
	t->score = calloc(vocab_size ? vocab_size : 1, sizeof *t->score);
	t->cap = 16;
	while (t->cap < 2 * vocab_size + 16)
		t->cap *= 2;
	t->keys = calloc(t->cap, sizeof *t->keys);
	t->vals = calloc(t->cap, sizeof *t->vals);
	if (!t->piece || !t->len || !t->score || !t->keys || !t->vals) {
		rc = fail(t, LETHE_ENOMEM, "out of memory");
		goto out;
	}
	if (fread(&max_len, 4, 1, f) != 1 || max_len <= 0 || max_len > 65536) {
		rc = fail(t, LETHE_EPARSE, "expected a maximum piece length from 1 to 65536 first");
		goto out;
	}
	t->max_len = (size_t)max_len;
	for (size_t i = 0; i < vocab_size; i++) {
		float score;
		int32_t len;
		if (fread(&score, 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1) {
			rc = fail(t, LETHE_EPARSE,
			          "ends after %zu pieces; the checkpoint's vocabulary has %zu", i,
			          vocab_size);
			goto out;
		}
		if (len < 0 || len > max_len || !isfinite(score)) {
			rc = fail(t, LETHE_EPARSE,
			          "piece %zu: length %d (maximum %d) or score not finite", i,
			          (int)len, (int)max_len);
			goto out;
		}
		if (!(t->piece[i] = malloc((size_t)len + 1))) {
			rc = fail(t, LETHE_ENOMEM, "out of memory");
			goto out;
		}
		if (fread(t->piece[i], 1, (size_t)len, f) != (size_t)len) {
			rc = fail(t, LETHE_EPARSE, "piece %zu is cut short", i);
			goto out;
		}
		t->piece[i][len] = 0;
		/* run.c compares pieces as C strings: export.py writes byte 0 as a NUL piece. */
		t->len[i] = strlen(t->piece[i]);
		t->score[i] = score;
		/* run.c's bsearch finds one of equal pieces; llama2.c's files have none, keep the
		 * first. */
		size_t k = hash(t->piece[i], t->len[i]) & (t->cap - 1);
		int dup = 0;
		for (; t->keys[k]; k = (k + 1) & (t->cap - 1))
			if (t->len[t->vals[k]] == t->len[i] &&
			    memcmp(t->keys[k], t->piece[i], t->len[i]) == 0)
				dup = 1;
		if (!dup) {
			t->keys[k] = t->piece[i];
			t->vals[k] = (int32_t)i;
		}
	}
	if (fgetc(f) != EOF)
		rc = fail(t, LETHE_EPARSE, "holds more than the checkpoint's %zu pieces",
		          vocab_size);
	else if (vocab_size < 259)
		rc = fail(t, LETHE_EPARSE,
		          "%zu pieces: fewer than the 3 + 256 byte pieces llama2.c assumes",
		          vocab_size);
out:
	fclose(f);
	return rc;
}

void lethe_l2c_tokenizer_free(lethe_l2c_tokenizer *t)
{
	if (!t)
		return;
	if (t->piece)
		for (size_t i = 0; i < t->n; i++)
			free(t->piece[i]);
	free(t->piece);
	free(t->len);
	free(t->score);
	free(t->keys);
	free(t->vals);
	free(t->path);
	free(t);
}

const char *lethe_l2c_tokenizer_errmsg(const lethe_l2c_tokenizer *t)
{
	return t ? t->err.msg : "out of memory";
}

int lethe_l2c_tokenizer_encode(lethe_l2c_tokenizer *t, const char *text, size_t len, int32_t **ids,
                               size_t *n)
{
	*ids = NULL;
	*n = 0;
	if (memchr(text, 0, len))
		return fail(t, LETHE_EINVAL, "the text holds a NUL byte");
	int32_t *tok = malloc((len + 2) * sizeof *tok);
	char *buf = malloc(2 * t->max_len + 8);
	if (!tok || !buf) {
		free(tok);
		free(buf);
		return fail(t, LETHE_ENOMEM, "out of memory");
	}
	size_t m = 0;
	if (len) {
		int32_t sp = lookup(t, " ", 1);
		if (sp >= 0)
			tok[m++] = sp;
	}
	/* One piece per UTF-8 character (at most 4 bytes), else a byte piece per byte. */
	size_t k = 0;
	char ch[5];
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			k = 0;
		ch[k++] = text[i];
		if (i + 1 < len && ((unsigned char)text[i + 1] & 0xc0) == 0x80 && k < 4)
			continue;
		int32_t id = lookup(t, ch, k);
		if (id >= 0)
			tok[m++] = id;
		else
			for (size_t j = 0; j < k; j++)
				tok[m++] = (int32_t)(unsigned char)ch[j] + 3;
		k = 0;
	}
	for (;;) {
		float best = -1e10f;
		int32_t best_id = -1;
		size_t at = 0;
		for (size_t i = 0; i + 1 < m; i++) {
			size_t la = t->len[tok[i]], lb = t->len[tok[i + 1]];
			if (la + lb > 2 * t->max_len)
				continue;
			memcpy(buf, t->piece[tok[i]], la);
			memcpy(buf + la, t->piece[tok[i + 1]], lb);
			int32_t id = lookup(t, buf, la + lb);
			if (id >= 0 && t->score[id] > best) {
				best = t->score[id];
				best_id = id;
				at = i;
			}
		}
		if (best_id < 0)
			break;
		tok[at] = best_id;
		memmove(tok + at + 1, tok + at + 2, (m - at - 2) * sizeof *tok);
		m--;
	}
	free(buf);
	*ids = tok;
	*n = m;
	return 0;
}

/* Whether ids[i] is a byte piece written as the character U+00XX (tokenizer.py's form) or as
 * "<0xXX>"; *byte receives XX, *hex whether it was the unambiguous "<0xXX>" form. */
static int byte_piece(const lethe_l2c_tokenizer *t, int32_t id, unsigned *byte, int *hex)
{
	if (id < 3 || id >= 259)
		return 0;
	unsigned b = (unsigned)id - 3;
	const char *p = t->piece[id];
	size_t l = t->len[id];
	char as_char[2], hx[8];
	size_t cl = 1;
	as_char[0] = (char)b;
	if (b >= 0x80) {
		as_char[0] = (char)(0xc0 | b >> 6);
		as_char[1] = (char)(0x80 | (b & 0x3f));
		cl = 2;
	}
	snprintf(hx, sizeof hx, "<0x%02X>", b);
	*byte = b;
	*hex = l == 6 && memcmp(p, hx, 6) == 0;
	return *hex || (l == cl && memcmp(p, as_char, cl) == 0);
}

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k = c < 0x80             ? 0
		           : (c & 0xe0) == 0xc0 ? 1
		           : (c & 0xf0) == 0xe0 ? 2
		           : (c & 0xf8) == 0xf0 ? 3
		                                : 9;
		if (k == 9 || (k == 1 && c < 0xc2) || i + k >= n + (k == 0))
			return i;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

int lethe_l2c_tokenizer_decode(lethe_l2c_tokenizer *t, const int32_t *ids, size_t n, char **out,
                               size_t *len)
{
	*out = NULL;
	*len = 0;
	size_t cap = 1;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (size_t)ids[i] >= t->n)
			return fail(t, LETHE_EINVAL, "id %d is not in the vocabulary", (int)ids[i]);
		cap += t->len[ids[i]] + 1;
	}
	char *b = malloc(cap);
	if (!b)
		return fail(t, LETHE_ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		unsigned byte;
		int hex;
		if (byte_piece(t, ids[i], &byte, &hex)) {
			/* A run of byte pieces is the bytes of the text when they form UTF-8
			 * (run.c's byte fallback); a lone U+00XX piece that does not is the
			 * character itself (the lookup of "é" finds the byte piece tokenizer.py
			 * wrote as "é"). */
			size_t j = i, start = k;
			int all_hex = 1;
			/* The dummy prefix may be the byte piece of ' ' (tokenizer.py writes it as
			 * " "). */
			int strip = (i == 0 || ids[i - 1] == 1) && ids[i] == 3 + ' ';
			while (j < n && byte_piece(t, ids[j], &byte, &hex)) {
				if (!(strip && j == i))
					b[k++] = (char)byte;
				all_hex &= hex;
				j++;
			}
			if (all_hex ||
			    utf8_prefix((unsigned char *)b + start, k - start) == k - start) {
				i = j;
				continue;
			}
			k = start;
			/* Not UTF-8: the first piece as its text, and look again from the next. */
			byte_piece(t, ids[i], &byte, &hex);
			if (strip)
				;
			else if (hex)
				b[k++] = (char)byte;
			else {
				memcpy(b + k, t->piece[ids[i]], t->len[ids[i]]);
				k += t->len[ids[i]];
			}
			i++;
			continue;
		}
		const char *p = t->piece[ids[i]];
		size_t l = t->len[ids[i]];
		if ((i == 0 || ids[i - 1] == 1) && l && p[0] == ' ')
			p++, l--;
		memcpy(b + k, p, l);
		k += l;
		i++;
	}
	b[k] = 0;
	*out = b;
	*len = k;
	return 0;
}
