/*
 * l2c_tokenize.c: a test driver for llama2.c's tokenizer (engine/model/l2c_tokenizer.c): loads
 * tokenizer.bin with VOCAB pieces and, for each line of standard input (without its newline),
 * prints the ids separated by spaces, then a line with the decoded text. A file that does not
 * load prints its message with exit 2. tests/l2c_tokenizer.py compares with a Python port of
 * llama2.c's run.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lethe/common.h>

#include "../engine/model/l2c_tokenizer.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: l2c_tokenize TOKENIZER.bin VOCAB < LINES\n");
		return 2;
	}
	lethe_l2c_tokenizer *t;
	if (lethe_l2c_tokenizer_load(&t, argv[1], (size_t)strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "%s\n", lethe_l2c_tokenizer_errmsg(t));
		lethe_l2c_tokenizer_free(t);
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		int32_t *ids;
		size_t m;
		if (lethe_l2c_tokenizer_encode(t, line, (size_t)n, &ids, &m)) {
			printf("ERROR %s\nERROR\n", lethe_l2c_tokenizer_errmsg(t));
			continue;
		}
		for (size_t i = 0; i < m; i++)
			printf(i ? " %d" : "%d", (int)ids[i]);
		char *text;
		size_t len;
		if (lethe_l2c_tokenizer_decode(t, ids, m, &text, &len))
			printf("\nERROR %s\n", lethe_l2c_tokenizer_errmsg(t));
		else
			printf("\n%s\n", text);
		free(text);
		free(ids);
	}
	free(line);
	lethe_l2c_tokenizer_free(t);
	return 0;
}
