/*
 * model_source.c: what `lethe generate` and `lethe tokenize` take as MODEL: a Hugging Face model
 * directory or a llama2.c checkpoint (through lethe_model_open and lethe_tokenizer_open), or a
 * lethe run file (through the run-file reader: a trained row's parameters and the run's
 * tokenizer). One place decides which, by the file's first bytes (HDF5's signature).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "cli.h"

static int is_hdf5(const char *path)
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

/* A run file's model of row stage (NULL: its last trained row). */
static int from_run(const char *path, const char *stage, lethe_tokenizer **tok, lethe_model **m)
{
	lethe_runfile *rf;
	size_t row = 0;
	int rc = lethe_runfile_open(&rf, path);
	if (rc || (rc = lethe_runfile_find_stage(rf, stage, &row)))
		goto fail;
	if (tok && (rc = lethe_runfile_tokenizer(rf, tok)))
		goto fail;
	if (m) {
		if ((rc = lethe_model_new(m, lethe_runfile_model_config(rf), 0))) {
			lethe_cli_error("%s: %s", path,
			                *m ? lethe_model_errmsg(*m) : "out of memory");
			lethe_runfile_free(rf);
			return rc;
		}
		if ((rc = lethe_runfile_row_model(rf, row, *m)))
			goto fail;
	}
	lethe_runfile_free(rf);
	return 0;
fail:
	lethe_cli_error("%s", lethe_runfile_errmsg(rf));
	lethe_runfile_free(rf);
	return rc;
}

int lethe_cli_model_source(const char *path, const char *stage, int context, lethe_tokenizer **tok,
                           lethe_model **m)
{
	if (tok)
		*tok = NULL;
	if (m)
		*m = NULL;
	if (is_hdf5(path))
		return from_run(path, stage, tok, m);
	if (stage) {
		lethe_cli_error("%s: --stage names a stage of a run file; this is a checkpoint",
		                path);
		return LETHE_EINVAL;
	}
	int rc = tok ? lethe_tokenizer_open(tok, path) : 0;
	if (rc) {
		lethe_cli_error("%s", lethe_tokenizer_errmsg(*tok));
		return rc;
	}
	if (m && (rc = lethe_model_open(m, path, context)))
		lethe_cli_error("%s", *m ? lethe_model_errmsg(*m) : "out of memory");
	return rc;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t k;
	unsigned min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		k = 2, min = 0x80, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		k = 3, min = 0x800, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		k = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	return c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : k;
}

char *lethe_cli_utf8_lossy(const char *text, size_t n)
{
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(s + i, n - i);
		if (k && s[i]) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD, as Python's errors="replace" */
			o += 3;
			i++;
		}
	}
	*o = 0;
	return out;
}
