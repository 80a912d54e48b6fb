/*
 * runfile.h: the HDF5 run file (layout in docs/run-file.md): written stage by stage through a
 * temporary copy renamed over the previous file, so that a run killed at any moment leaves a
 * valid file holding every completed stage. Private to liblethe.
 */
#ifndef LETHE_RUNFILE_H
#define LETHE_RUNFILE_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/curriculum.h>
#include <lethe/lethe.h>

/* What one evaluation of one task produced. */
typedef struct lethe_task_eval {
	size_t task;        /* index into the curriculum's tasks */
	size_t n;           /* examples evaluated */
	double *nll;        /* summed target NLL per example */
	int32_t *n_tokens;  /* target tokens per example */
	double *score;      /* per-example primary score (NaN: undefined) */
	char **predictions; /* generated or chosen text per example; NULL entries for likelihood
	                       tasks */
	size_t n_metrics;
	char **metric_names;
	double *metric_values;
	unsigned *metric_flags;
} lethe_task_eval;

/* One row of the score matrices: the baseline or a stage. */
typedef struct lethe_stage_record {
	char *name;  /* "baseline" or the stage name */
	int trained; /* 0 for the baseline */
	double seconds;
	size_t steps;
	uint64_t tokens;
	float *loss, *lr, *grad_norm; /* per optimizer step */
	int has_drift;
	double drift[4]
	            [LETHE_GROUP_COUNT + 1]; /* l2 and relative change against the previous row's
	                                        and the initial parameters; per group, then all */
	lethe_task_eval *evals;
	size_t n_evals;
} lethe_stage_record;

void lethe_stage_record_clear(lethe_stage_record *r);

/* Writes path atomically: a new file when previous is 0 stages, else a copy of the existing
 * path extended by record (and its parameters), with the matrices and the resume state rewritten
 * from records[0..n_records). err receives a one-line message. */
int lethe_runfile_write(const char *path, const lethe_curriculum *c, const lethe_tokenizer *tok,
                        lethe_model *m, const lethe_stage_record *records, size_t n_records,
                        int threads, char *err, size_t err_size);

/* Reads back what a resumed run needs: the records of completed rows (metrics, curves, per-example
 * data), the tokenizer merges, and the model state after the last completed stage (parameters,
 * AdamW moments, step count) into m (created by the caller with the file's configuration). */
int lethe_runfile_read_state(const char *path, const lethe_curriculum *c,
                             lethe_stage_record **records, size_t *n_records, int32_t **merges,
                             size_t *n_merges, lethe_model_config *config, char *err,
                             size_t err_size);
int lethe_runfile_read_model(const char *path, lethe_model *m, char *err, size_t err_size);

#endif
