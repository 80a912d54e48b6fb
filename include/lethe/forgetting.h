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
} lethe_forgetting;

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
