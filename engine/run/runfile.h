/*
 * runfile.h: the run-file module's private side (layout in docs/run-file.md): the writer
 * (runfile_write.c), written stage by stage through a temporary copy renamed over the previous
 * file so that a run killed at any moment leaves a valid file holding every completed stage, and
 * what `lethe run --resume` reads back beyond the public reader (runfile_read.c,
 * include/lethe/runfile.h). Private to liblethe.
 */
#ifndef LETHE_RUNFILE_H
#define LETHE_RUNFILE_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/curriculum.h>
#include <lethe/lethe.h>
#include <lethe/runfile.h>

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
	/* The primary metric's sufficient statistics per example (plugin.h, primary_stats): n x
	 * n_stats values, combined by aggregate (a lethe_aggregate); NULL when the plugin has
	 * none. */
	double *stats;
	size_t n_stats;
	int aggregate;
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
	/* ---- methods against forgetting (docs/methods.md) ---- */
	float *penalty; /* per optimizer step, the regulariser's value; NULL without one (owned) */
	/* The methods' resume state after this row (not owned): the writer reads them from the last
	 * record only, and the runner may reuse the memory behind an earlier record's. */
	const float *resume_fisher;    /* EWC's Fisher, the model's parameter count, or NULL */
	const uint64_t *resume_replay; /* the replay memory (replay.h's array), or NULL */
	size_t n_resume_replay;
	/* LoRA: the stage's adapter as it was at the stage's end (before a merge), or NULL. */
	float *adapter;
	size_t n_adapter;
	lethe_lora_options adapter_opt;
	int adapter_merged;
	/* ---- within-stage curves (evaluate: {every: N}, docs/run-file.md) ---- */
	/* n_curve points: after curve_steps[p] optimizer steps, curve_values[p * n_curve_tasks + k]
	 * is the k-th evaluated task's primary metric on its first curve_examples[k] evaluation
	 * examples (all owned; NULL when the stage has none). */
	size_t n_curve, n_curve_tasks;
	int32_t *curve_steps, *curve_examples;
	double *curve_values;
	int loss_weighting; /* the stage's lethe_loss_weighting, kept with the row */
	int precision;      /* the stage's lethe_precision (its training products), likewise */
} lethe_stage_record;

void lethe_stage_record_clear(lethe_stage_record *r);

/* ---- LoRA (runfile_write.c / runfile_read.c) ---- */
/* After lethe_runfile_resume_state(): the adapter that was attached when the file's last row
 * was written (resume/adapter), attached to m again with its parameters, moments, dropout state
 * and step count; nothing when the file has none. */
int lethe_runfile__resume_adapter(lethe_runfile *rf, lethe_model *m);

/* Writes path atomically: a new file when previous is 0 stages, else a copy of the existing
 * path extended by record (and its parameters), with the matrices and the resume state rewritten
 * from records[0..n_records). err receives a one-line message. */
int lethe_runfile__write(const char *path, const lethe_curriculum *c, const lethe_tokenizer *tok,
                         lethe_model *m, const lethe_stage_record *records, size_t n_records,
                         int threads, char *err, size_t err_size);

/* Before the first HDF5 call of the reader or the writer: HDF5 prints no error stack (each
 * failure is reported on its handle) and leaves the process's exit alone. */
void lethe_runfile__hdf5_init(void);

/* Reads path through HDF5 once in a child process (runfile_probe.c) so that a damaged file that
 * crashes or hangs libhdf5 is refused instead of crashing the caller: 0 when the child finished,
 * -1 with a one-line reason in why. */
int lethe_runfile__probe(const char *path, char *why, size_t why_size);

/* The resolved settings of stage i as the one-line JSON stored in /curriculum/stages (malloc'd;
 * NULL when out of memory). */
char *lethe_runfile__stage_settings(const lethe_curriculum *c, size_t i);

/* The methods' resume state (docs/run-file.md, /resume): EWC's Fisher into fisher (n_params
 * floats, *has_fisher 0 when the file has none) and the replay memory (a new array into *replay,
 * *n_replay entries; NULL and 0 when the file has none), each checked for class, rank and shape.
 */
int lethe_runfile__resume_methods(lethe_runfile *rf, size_t n_params, float *fisher,
                                  int *has_fisher, uint64_t **replay, size_t *n_replay);

/* Refuses (LETHE_EINVAL, message on rf) a file written by a curriculum other than c, naming the
 * first difference: stage names and order, each stage's tasks and settings, the rows already
 * written, the evaluated tasks and their plugins, the seed, the model configuration, the
 * tokenizer's vocabulary. */
int lethe_runfile__check_curriculum(lethe_runfile *rf, const lethe_curriculum *c);

/* The records of the file's completed rows (names, steps, tokens, drift, every evaluation, with
 * task indices into c) into rec[0..*n); room is rec's length, never exceeded (a file with more
 * rows is refused). Records filled before a failure are counted in *n: clear them. */
int lethe_runfile__records(lethe_runfile *rf, const lethe_curriculum *c, lethe_stage_record *rec,
                           size_t room, size_t *n);

#endif
