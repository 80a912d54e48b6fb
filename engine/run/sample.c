/*
 * sample.c: which examples of a split a run uses when a task limits them (train_limit,
 * eval_limit with eval_sample: random). A simple random sample without replacement, or, for
 * choice tasks, one stratified by target: each target keeps its share of the split, rounded by
 * largest remainder, so that a classification task's label balance survives the limit
 * (scikit-learn's train_test_split(stratify=...) does the same allocation). The indices come out
 * in file order; the generator is seeded from the data seed, the task and the split, so the sample
 * is the same for every row of a run, on resume, and for every method compared on it.
 */
#include <stdlib.h>
#include <string.h>

#include "sample.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias. */
static size_t below(uint64_t *s, size_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, v;
	do
		v = splitmix(s);
	while (v >= lim);
	return (size_t)(v % n);
}

/* Moves k random elements of v[0..n) to its front (a partial Fisher-Yates shuffle). */
static void draw(uint64_t *s, size_t *v, size_t n, size_t k)
{
	for (size_t i = 0; i < k && i + 1 < n; i++) {
		size_t j = i + below(s, n - i), t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static int by_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t lethe_sample__seed(uint64_t data_seed, size_t task, int split)
{
	uint64_t s = data_seed ^ (0xD1B54A32D192ED03ull * (task + 1)) ^ ((uint64_t)split << 56);
	return splitmix(&s);
}

int lethe_sample__choose(lethe_instance *inst, lethe_split split, size_t k, int stratify,
                         uint64_t seed, size_t **out)
{
	*out = NULL;
	size_t n = lethe_instance_size(inst, split);
	if (k > n)
		k = n;
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx)),
	       *pick = malloc((k ? k : 1) * sizeof(*pick));
	if (!idx || !pick) {
		free(idx);
		free(pick);
		return LETHE_ENOMEM;
	}
	uint64_t s = seed;
	if (!stratify) {
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		draw(&s, idx, n, k);
		memcpy(pick, idx, k * sizeof(*pick));
	} else {
		/* Groups by target text, in order of first appearance. */
		const char **target = malloc((n ? n : 1) * sizeof(*target));
		size_t *group = malloc((n ? n : 1) * sizeof(*group)), n_groups = 0;
		size_t *first = malloc((n ? n : 1) * sizeof(*first));
		int rc = target && group && first ? 0 : LETHE_ENOMEM;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			lethe_example ex;
			if ((rc = lethe_instance_example(inst, split, i, &ex)))
				break;
			target[i] = ex.target;
			size_t g = 0;
			while (g < n_groups && strcmp(target[first[g]], ex.target) != 0)
				g++;
			if (g == n_groups)
				first[n_groups++] = i;
			group[i] = g;
		}
		size_t *size = rc ? NULL : calloc(n_groups + 1, sizeof(*size));
		size_t *quota = size ? calloc(n_groups + 1, sizeof(*quota)) : NULL;
		double *rem = quota ? calloc(n_groups + 1, sizeof(*rem)) : NULL;
		if (rc == 0 && !rem)
			rc = LETHE_ENOMEM;
		if (rc == 0) {
			for (size_t i = 0; i < n; i++)
				size[group[i]]++;
			/* Largest remainder: floors first, then one more to the largest fractions
			 * (ties: the group seen first). */
			size_t given = 0;
			for (size_t g = 0; g < n_groups; g++) {
				double exact = (double)k * (double)size[g] / (double)n;
				quota[g] = (size_t)exact;
				rem[g] = exact - (double)quota[g];
				given += quota[g];
			}
			while (given < k) {
				size_t best = 0;
				for (size_t g = 1; g < n_groups; g++)
					if (rem[g] > rem[best])
						best = g;
				quota[best]++;
				rem[best] = -1;
				given++;
			}
			/* Each group's members in file order, then a draw within each. */
			size_t at = 0, got = 0;
			for (size_t g = 0; g < n_groups; g++) {
				size_t m = 0;
				for (size_t i = 0; i < n; i++)
					if (group[i] == g)
						idx[at + m++] = i;
				draw(&s, idx + at, m, quota[g]);
				memcpy(pick + got, idx + at, quota[g] * sizeof(*pick));
				got += quota[g];
				at += m;
			}
		}
		free(target);
		free(group);
		free(first);
		free(size);
		free(quota);
		free(rem);
		if (rc) {
			free(idx);
			free(pick);
			return rc;
		}
	}
	free(idx);
	qsort(pick, k, sizeof(*pick), by_index);
	*out = pick;
	return 0;
}
