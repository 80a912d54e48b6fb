/*
 * intervals.c: the paired bootstrap over evaluation examples behind every interval lethe reports
 * (docs/forgetting.md, "Intervals"). Pure: statistics in, percentile intervals out; the run-file
 * writer feeds it the per-example sufficient statistics the plugins give (lethe/plugin.h,
 * primary_stats) and stores what it returns. Resampling a column's examples once per resample and
 * using those indices for every row makes differences between rows (forgetting, transfer)
 * paired, as sacrebleu's paired bootstrap does for two systems; a corpus-level metric (BLEU,
 * micro F1, perplexity) is recomputed from summed statistics in each resample, never averaged
 * from per-example scores.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/forgetting.h>
#include <lethe/lethe.h>
#include <lethe/metrics.h>
#include <lethe/plugin.h>

static const char *const figure_names[LETHE_INTERVAL_TASK_FIGURES] = {
    "learning",         "final",    "forgetting", "relative_forgetting", "normalised",
    "forward_transfer", "max_drop", "gain"};

const char *lethe_interval_task_figure(size_t i)
{
	return i < LETHE_INTERVAL_TASK_FIGURES ? figure_names[i] : NULL;
}

void lethe_forgetting_task_figures(const lethe_forgetting *f,
                                   const double *out[LETHE_INTERVAL_TASK_FIGURES])
{
	out[0] = f->learning;
	out[1] = f->final;
	out[2] = f->forgetting;
	out[3] = f->relative;
	out[4] = f->normalised;
	out[5] = f->forward;
	out[6] = f->max_drop;
	out[7] = f->gain;
}

double lethe_interval_combine(const lethe_interval_input *in, const uint32_t *idx, size_t m)
{
	if (!in->stats || in->n == 0)
		return NAN;
	size_t count = idx ? m : in->n, k = in->k, defined = 0;
	double sum[LETHE_STATS_MAX] = {0};
	for (size_t i = 0; i < count; i++) {
		const double *x = in->stats + (size_t)(idx ? idx[i] : i) * k;
		if (in->aggregate == LETHE_AGGREGATE_MEAN && isnan(x[0]))
			continue;
		defined++;
		for (size_t j = 0; j < k && j < LETHE_STATS_MAX; j++)
			sum[j] += x[j];
	}
	switch (in->aggregate) {
	case LETHE_AGGREGATE_MEAN: return defined ? sum[0] / (double)defined : NAN;
	case LETHE_AGGREGATE_F1: {
		/* As seqeval: precision and recall 0 where undefined, F1 0 when both are. */
		double p = sum[1] > 0 ? sum[0] / sum[1] : 0.0,
		       r = sum[2] > 0 ? sum[0] / sum[2] : 0.0;
		return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
	}
	case LETHE_AGGREGATE_BLEU: {
		lethe_bleu_score b;
		memset(&b, 0, sizeof(b));
		for (int g = 0; g < 4; g++) {
			b.counts[g] = (uint64_t)sum[g];
			b.totals[g] = (uint64_t)sum[4 + g];
		}
		b.sys_len = (uint64_t)sum[8];
		b.ref_len = (uint64_t)sum[9];
		lethe_bleu_from_stats(&b, 0);
		return b.score;
	}
	case LETHE_AGGREGATE_EXP_RATIO: return sum[1] > 0 ? exp(sum[0] / sum[1]) : NAN;
	case LETHE_INTERVAL_RATIO: return sum[1] > 0 ? sum[0] / sum[1] : NAN; /* target NLL */
	default: return NAN;
	}
}

void lethe_intervals_free(lethe_intervals *iv)
{
	free(iv->cells);
	free(iv->per_task);
	iv->cells = iv->per_task = NULL;
}

/* [low, high] of the defined values among v[0..n) (sorted in place); NaN when none. */
static void interval(double out[2], double *v, size_t n, double level)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	if (m == 0) {
		out[0] = out[1] = NAN;
		return;
	}
	double alpha = (1.0 - level) / 2.0 * 100.0;
	out[0] = lethe_percentile(v, m, alpha);
	out[1] = lethe_percentile(v, m, 100.0 - alpha);
}

int lethe_intervals_compute(lethe_intervals *out, const lethe_interval_input *in, size_t rows,
                            size_t cols, int has_baseline, const int *trained_row, const int *lower,
                            const double *scale, size_t resamples, double level, uint64_t seed)
{
	memset(out, 0, sizeof(*out));
	if (resamples == 0 || !(level > 0 && level < 1))
		return LETHE_EINVAL;
	out->rows = rows;
	out->cols = cols;
	out->resamples = resamples;
	out->level = level;
	out->seed = seed;
	size_t B = resamples, F = LETHE_INTERVAL_TASK_FIGURES;
	out->cells = malloc((rows * cols * 2 + 1) * sizeof(double));
	out->per_task = malloc((F * cols * 2 + 1) * sizeof(double));
	/* Every resample's value of every figure, figure-major so that one figure's B values are
	 * contiguous: cells, then the 4 measures, then the per-task figures. */
	size_t n_fig = rows * cols + 4 + F * cols;
	double *all = malloc((n_fig * B + 1) * sizeof(double));
	double *M = malloc((rows * cols + 1) * sizeof(double));
	uint32_t **idx = calloc(cols + 1, sizeof(*idx));
	size_t *n = calloc(cols + 1, sizeof(*n));
	int rc = out->cells && out->per_task && all && M && idx && n ? 0 : LETHE_ENOMEM;
	/* A column takes part when all its evaluated rows agree on n. */
	for (size_t j = 0; rc == 0 && j < cols; j++) {
		for (size_t r = 0; r < rows; r++) {
			const lethe_interval_input *x = &in[r * cols + j];
			if (!x->stats || x->n == 0)
				continue;
			if (n[j] && n[j] != x->n) {
				n[j] = 0;
				break;
			}
			n[j] = x->n;
		}
		if (n[j] &&
		    (rc = lethe_bootstrap_indices(&idx[j], n[j], B, seed + j)) == LETHE_EINVAL) {
			n[j] = 0; /* more examples than 32-bit indices: no interval */
			rc = 0;
		}
	}
	for (size_t b = 0; rc == 0 && b < B; b++) {
		for (size_t r = 0; r < rows; r++)
			for (size_t j = 0; j < cols; j++)
				M[r * cols + j] =
				    n[j] ? lethe_interval_combine(&in[r * cols + j],
				                                  idx[j] + b * n[j], n[j])
				         : NAN;
		lethe_forgetting f;
		if ((rc = lethe_forgetting_compute_scaled(&f, M, rows, cols, has_baseline,
		                                          trained_row, lower, scale)))
			break;
		for (size_t i = 0; i < rows * cols; i++)
			all[i * B + b] = M[i];
		double ms[4] = {f.acc, f.bwt, f.fwt, f.chaudhry};
		for (size_t i = 0; i < 4; i++)
			all[(rows * cols + i) * B + b] = ms[i];
		const double *tf[LETHE_INTERVAL_TASK_FIGURES];
		lethe_forgetting_task_figures(&f, tf);
		for (size_t k = 0; k < F; k++)
			for (size_t j = 0; j < cols; j++)
				all[(rows * cols + 4 + k * cols + j) * B + b] = tf[k][j];
		lethe_forgetting_free(&f);
	}
	for (size_t i = 0; rc == 0 && i < rows * cols; i++)
		interval(out->cells + 2 * i, all + i * B, B, level);
	for (size_t i = 0; rc == 0 && i < 4; i++)
		interval(out->measures[i], all + (rows * cols + i) * B, B, level);
	for (size_t i = 0; rc == 0 && i < F * cols; i++)
		interval(out->per_task + 2 * i, all + (rows * cols + 4 + i) * B, B, level);
	for (size_t j = 0; idx && j < cols; j++)
		free(idx[j]);
	free(idx);
	free(n);
	free(M);
	free(all);
	if (rc)
		lethe_intervals_free(out);
	return rc;
}
