/*
 * tokenizer_throughput.c: MB/s of BPE training and of encoding, medians of repeated runs.
 * Input: text files named on the command line (e.g. $LETHE_DATA/multi30k/train.en and .de),
 * concatenated; the vocabulary size is --vocab (default 4096).
 * Usage: tokenizer_throughput [--vocab N] [--repeat R] FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lethe/lethe.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t vocab = 4096;
	int repeat = 5, first = 1;
	for (; first < argc && argv[first][0] == '-'; first += 2) {
		if (first + 1 >= argc)
			break;
		if (strcmp(argv[first], "--vocab") == 0)
			vocab = (size_t)atol(argv[first + 1]);
		else if (strcmp(argv[first], "--repeat") == 0)
			repeat = atoi(argv[first + 1]);
	}
	if (first >= argc) {
		fprintf(stderr, "usage: tokenizer_throughput [--vocab N] [--repeat R] FILE...\n");
		return 2;
	}
	int n = argc - first;
	char **texts = calloc((size_t)n, sizeof(*texts));
	size_t *lens = calloc((size_t)n, sizeof(*lens)), total = 0;
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(argv[first + i], "rb");
		if (!f) {
			perror(argv[first + i]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		lens[i] = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		texts[i] = malloc(lens[i] + 1);
		if (fread(texts[i], 1, lens[i], f) != lens[i])
			return 1;
		fclose(f);
		total += lens[i];
	}
	double *train = malloc((size_t)repeat * sizeof(double)),
	       *enc = malloc((size_t)repeat * sizeof(double));
	size_t tokens = 0;
	for (int r = 0; r < repeat; r++) {
		lethe_tokenizer *t;
		double t0 = now();
		if (lethe_tokenizer_train(&t, (const char *const *)texts, lens, (size_t)n, vocab))
			return 1;
		double t1 = now();
		tokens = 0;
		for (int i = 0; i < n; i++) {
			int32_t *ids;
			size_t k;
			if (lethe_tokenizer_encode(t, texts[i], lens[i], &ids, &k))
				return 1;
			tokens += k;
			free(ids);
		}
		double t2 = now();
		train[r] = (double)total / 1e6 / (t1 - t0);
		enc[r] = (double)total / 1e6 / (t2 - t1);
		lethe_tokenizer_free(t);
	}
	qsort(train, (size_t)repeat, sizeof(double), cmp);
	qsort(enc, (size_t)repeat, sizeof(double), cmp);
	printf(
	    "{\"bytes\": %zu, \"vocab\": %zu, \"tokens\": %zu, \"bytes_per_token\": %.3f, "
	    "\"train_mb_per_s_median\": %.2f, \"encode_mb_per_s_median\": %.2f, \"repeat\": %d}\n",
	    total, vocab, tokens, (double)total / (double)tokens, train[repeat / 2],
	    enc[repeat / 2], repeat);
	return 0;
}
