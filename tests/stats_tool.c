/*
 * stats_tool.c: a test driver for engine/metrics/stats.c, driven by tests/stats.py. Reads one
 * command per line on standard input and prints one result line each:
 *   indices N B SEED           -> the B x N resampling indices, space-separated
 *   percentile P V1 V2 ...     -> the P-th percentile of the values (%.17g)
 *   meanci N B SEED LEVEL X... -> the bootstrap interval of the mean of X (nan for NaN)
 *   welch NA A... B...         -> t df p (%.17g) of Welch's t-test
 *   bleu C1..C4 T1..T4 SYS REF -> the BLEU score of summed statistics (%.17g)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

static double *numbers(char *s, size_t *n)
{
	size_t cap = 16;
	double *v = malloc(cap * sizeof *v);
	*n = 0;
	for (char *tok = strtok(s, " \n"); tok; tok = strtok(NULL, " \n")) {
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof *v);
		v[(*n)++] = strtod(tok, NULL);
	}
	return v;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, stdin) > 0) {
		char *rest = strchr(line, ' ');
		if (!rest)
			continue;
		*rest++ = 0;
		size_t n, N = 0, B = 0;
		unsigned long long seed = 0;
		sscanf(rest, "%zu %zu %llu", &N, &B, &seed); /* the seed needs all 64 bits */
		double *v = numbers(rest, &n);
		if (strcmp(line, "indices") == 0) {
			uint32_t *idx;
			if (lethe_bootstrap_indices(&idx, N, B, seed))
				return 1;
			for (size_t i = 0; i < N * B; i++)
				printf(i ? " %u" : "%u", idx[i]);
			putchar('\n');
			free(idx);
		} else if (strcmp(line, "percentile") == 0) {
			printf("%.17g\n", lethe_percentile(v + 1, n - 1, v[0]));
		} else if (strcmp(line, "meanci") == 0) {
			uint32_t *idx;
			double ci[2];
			if (lethe_bootstrap_indices(&idx, N, B, seed) ||
			    lethe_bootstrap_mean_ci(ci, v + 4, N, idx, B, v[3]))
				return 1;
			printf("%.17g %.17g\n", ci[0], ci[1]);
			free(idx);
		} else if (strcmp(line, "welch") == 0) {
			size_t na = (size_t)v[0];
			double t, df, p;
			lethe_welch_t_test(&t, &df, &p, v + 1, na, v + 1 + na, n - 1 - na);
			printf("%.17g %.17g %.17g\n", t, df, p);
		} else if (strcmp(line, "bleu") == 0) {
			lethe_bleu_score s;
			memset(&s, 0, sizeof s);
			for (int i = 0; i < 4; i++) {
				s.counts[i] = (uint64_t)v[i];
				s.totals[i] = (uint64_t)v[4 + i];
			}
			s.sys_len = (uint64_t)v[8];
			s.ref_len = (uint64_t)v[9];
			lethe_bleu_from_stats(&s, 0);
			printf("%.17g\n", s.score);
		}
		free(v);
		fflush(stdout);
	}
	free(line);
	return 0;
}
