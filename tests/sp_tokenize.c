/*
 * sp_tokenize.c: a test driver for the SentencePiece shim (engine/model/sp_tokenizer.cc): loads
 * tokenizer.model and, for each line of standard input (without its newline), prints the ids
 * separated by spaces and, with --decode, a second line with the decoded text; a model that
 * does not load prints its message with exit 2. tests/sp_tokenizer.py compares with
 * python3-sentencepiece.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/common.h>

#include "../engine/model/sp_tokenizer.h"

int main(int argc, char **argv)
{
	int decode = argc == 3 && strcmp(argv[2], "--decode") == 0;
	if (argc != 2 && !decode) {
		fprintf(stderr, "usage: sp_tokenize TOKENIZER.model [--decode] < LINES\n");
		return 2;
	}
	lethe_sp_tokenizer *t;
	if (lethe_sp_tokenizer_load(&t, argv[1])) {
		fprintf(stderr, "%s\n", lethe_sp_tokenizer_errmsg(t));
		lethe_sp_tokenizer_free(t);
		return 2;
	}
	printf("vocab %zu bos %d eos %d\n", lethe_sp_tokenizer_vocab_size(t),
	       (int)lethe_sp_tokenizer_bos(t), (int)lethe_sp_tokenizer_eos(t));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		int32_t *ids;
		size_t m;
		if (lethe_sp_tokenizer_encode(t, line, (size_t)n, &ids, &m)) {
			printf("ERROR %s\n", lethe_sp_tokenizer_errmsg(t));
			continue;
		}
		for (size_t i = 0; i < m; i++)
			printf(i ? " %d" : "%d", (int)ids[i]);
		putchar('\n');
		if (decode) {
			char *text;
			size_t len;
			if (lethe_sp_tokenizer_decode(t, ids, m, &text, &len))
				printf("ERROR %s\n", lethe_sp_tokenizer_errmsg(t));
			else
				printf("%s\n", text);
			free(text);
		}
		free(ids);
	}
	int32_t bad = 1 << 30;
	char *text;
	size_t len;
	if (lethe_sp_tokenizer_decode(t, &bad, 1, &text, &len) != LETHE_EINVAL) {
		fprintf(stderr, "an id outside the vocabulary decoded\n");
		return 1;
	}
	free(line);
	lethe_sp_tokenizer_free(t);
	return 0;
}
