/*
 * hf_tokenize.c: a test driver for the Hugging Face tokenizer reader (engine/model/hf_tokenizer.c):
 * reads tokenizer.json and, for each line of standard input (without its newline), prints the
 * ids separated by spaces ("ERROR" and the message for a refused line), or the refusal of the
 * file with exit 2. With --roundtrip every line is also decoded and must give the line back
 * ("ROUNDTRIP" and the line number on standard error otherwise, exit 1); not with
 * add_prefix_space, whose space the decoder keeps, as in `tokenizers`. tests/hf_tokenizer.py
 * compares the ids with a Python reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/common.h>

#include "../engine/model/hf_tokenizer.h"

int main(int argc, char **argv)
{
	int roundtrip = argc == 3 && strcmp(argv[2], "--roundtrip") == 0;
	if (argc != 2 && !roundtrip) {
		fprintf(stderr, "usage: hf_tokenize TOKENIZER.json [--roundtrip] < LINES\n");
		return 2;
	}
	lethe_hf_tokenizer *t;
	if (lethe_hf_tokenizer_load(&t, argv[1])) {
		fprintf(stderr, "%s\n", lethe_hf_tokenizer_errmsg(t));
		lethe_hf_tokenizer_free(t);
		return 2;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int status = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		int32_t *ids;
		size_t m;
		if (lethe_hf_tokenizer_encode(t, line, (size_t)n, &ids, &m)) {
			printf("ERROR %s\n", lethe_hf_tokenizer_errmsg(t));
			continue;
		}
		for (size_t i = 0; i < m; i++)
			printf(i ? " %d" : "%d", (int)ids[i]);
		putchar('\n');
		char *back = NULL;
		size_t len;
		if (!roundtrip) {
			free(ids);
			continue;
		}
		int rc = lethe_hf_tokenizer_decode(t, ids, m, &back, &len);
		/* ByteLevel's add_prefix_space adds a space the decoder keeps, as in `tokenizers`.
		 */
		const char *b = back;
		if (!rc && len == (size_t)n + 1 && back[0] == ' ' && line[0] != ' ')
			b++, len--;
		if (rc || len != (size_t)n || memcmp(b, line, len) != 0) {
			fprintf(stderr, "ROUNDTRIP line %zu\n", lineno);
			status = 1;
		}
		free(back);
		free(ids);
	}
	free(line);
	lethe_hf_tokenizer_free(t);
	return status;
}
