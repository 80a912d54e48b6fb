/*
 * lethe/forgetting.h: the continual-learning measures of docs/forgetting.md, from a score matrix
 * R[row][task] (rows: the baseline, if any, then one per stage). Direction-aware: for a
 * lower-is-better metric every difference is negated, so a positive forgetting is always a loss
 * and a positive transfer always a gain. Undefined values are NaN, never 0. The run file stores
 * these measures (lethe_runfile_forgetting() reads them back into the same struct).
 */
#ifndef LETHE_FORGETTING_H
#define LETHE_FORGETTING_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lethe_forgetting {
	size_t n_tasks;     /* the length of each per-task array */
	double acc;         /* mean final score over tasks (ACC) */
	double bwt;         /* backward transfer, Lopez-Paz and Ranzato 2017 */
	double fwt;         /* forward transfer, same paper; needs the baseline */
	double chaudhry;    /* average forgetting, Chaudhry et al. 2018 */
	double *learning;   /* per task: the score right after the stage that trained it */
	double *forgetting; /* per task: learning - final (Avalanche's per-task forgetting) */
	double *max_drop;   /* per task: max over stages before the last of the score - final */
	double *transfer;   /* per task: final - learning (its BWT term) */
	int *trained_row;   /* per task: the row right after the stage that trained it, or -1 */
	/* Added with one scale (issue #12); NaN where undefined. */
	double *final;      /* per task: the score after the last row */
	double *relative;   /* per task: forgetting / learning (learning > 0) */
	double *normalised; /* per task: (final - b) / (1 - b), b the baseline row's score; on 0-1
	                       higher-is-better scores only */
	double *forward;    /* per task: its FWT term, the score before its stage minus the
	                       baseline's (defined when a stage before its own ran) */
	double *scale;      /* per task: what its scores were divided by (100 for a 0-100 metric,
	                       else 1); NULL when they were used raw (run files before the scale) */
	double *gain;       /* per task: learning - the baseline row's score (what its stage
	                       taught it); its interval decides "not learnt" */
} lethe_forgetting;

/* The per-task figures that get intervals, in this order (lethe_intervals.per_task). */
#define LETHE_INTERVAL_TASK_FIGURES 8
/* The name of figure i (learning, final, forgetting, relative_forgetting, normalised,
 * forward_transfer, max_drop, gain: the run file's dataset names); NULL past the last. */
LETHE_EXPORT const char *lethe_interval_task_figure(size_t i);
/* The figures' arrays of f in that order. */
LETHE_EXPORT void lethe_forgetting_task_figures(const lethe_forgetting *f,
                                                const double *out[LETHE_INTERVAL_TASK_FIGURES]);

/* Percentile intervals of a paired bootstrap over evaluation examples (docs/forgetting.md):
 * every matrix cell (raw scale) and every measure and per-task figure (on 0-1, as
 * lethe_forgetting_compute_scaled). NaN where a figure is undefined in every resample. */
typedef struct lethe_intervals {
	size_t rows, cols, resamples;
	double level; /* 0.95: the [2.5, 97.5] percentiles */
	uint64_t seed;
	double *cells;         /* rows x cols x 2: [low, high] per cell */
	double measures[4][2]; /* ACC, BWT, FWT, Chaudhry's forgetting */
	double *per_task;      /* LETHE_INTERVAL_TASK_FIGURES x cols x 2 */
} lethe_intervals;

/* One task's (column's) evaluation as the bootstrap sees it: n examples, each with k sufficient
 * statistics of the primary metric (lethe/plugin.h, lethe_aggregate). */
typedef struct lethe_interval_input {
	size_t n, k;
	int aggregate;       /* a lethe_aggregate */
	const double *stats; /* n x k, NULL: this cell was not evaluated or has no statistics */
} lethe_interval_input;

/* An aggregate beside lethe/plugin.h's lethe_aggregate values, for the engine's own target NLL
 * (no plugin gives it): k = 2, sum a / sum b, the mean NLL per token from each example's summed
 * NLL and its target tokens. */
#define LETHE_INTERVAL_RATIO 64

/* The primary metric from statistics summed over the examples idx[0..m) (idx NULL: 0..n):
 * the aggregate's combination. NaN when undefined (no defined value, no tokens). */
LETHE_EXPORT double lethe_interval_combine(const lethe_interval_input *in, const uint32_t *idx,
                                           size_t m);

/* The bootstrap: in holds rows x cols inputs; the same resample of a column's examples is used
 * for every row (paired). Column j is resampled with lethe_bootstrap_indices(n_j, resamples,
 * seed + j); its n must be the same in every row (else its cells are NaN). The other arguments
 * are lethe_forgetting_compute_scaled()'s. Free with lethe_intervals_free(). Returns 0,
 * LETHE_EINVAL (resamples 0, level outside (0, 1)), LETHE_ENOMEM. */
LETHE_EXPORT int lethe_intervals_compute(lethe_intervals *out, const lethe_interval_input *in,
                                         size_t rows, size_t cols, int has_baseline,
                                         const int *trained_row, const int *lower,
                                         const double *scale, size_t resamples, double level,
                                         uint64_t seed);
LETHE_EXPORT void lethe_intervals_free(lethe_intervals *iv);

/* R has rows x cols values, row-major. trained_row[j] is the row right after the stage that
 * trained task j (the first stage whose tasks or mix include it), or -1 (trained_row NULL: all
 * -1). lower[j] marks lower-is-better metrics (lower NULL: none). has_baseline: row 0 is the
 * baseline. Arrays are malloc'd; free with lethe_forgetting_free(). Returns 0 or LETHE_ENOMEM. */
LETHE_EXPORT int lethe_forgetting_compute(lethe_forgetting *out, const double *R, size_t rows,
                                          size_t cols, int has_baseline, const int *trained_row,
                                          const int *lower);
/* The same with R's column j divided by scale[j] first (scale NULL: all 1), so that every
 * average is over one scale; out->scale keeps a copy. Returns 0 or LETHE_ENOMEM. */
LETHE_EXPORT int lethe_forgetting_compute_scaled(lethe_forgetting *out, const double *R,
                                                 size_t rows, size_t cols, int has_baseline,
                                                 const int *trained_row, const int *lower,
                                                 const double *scale);
/* Frees the arrays and sets them to NULL; the struct itself is the caller's. */
LETHE_EXPORT void lethe_forgetting_free(lethe_forgetting *f);

#ifdef __cplusplus
}
#endif

#endif
