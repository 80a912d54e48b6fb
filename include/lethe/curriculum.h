/*
 * lethe/curriculum.h: a curriculum file, read and validated. The format is documented key by key
 * in docs/curriculum.md. Validation reports every mistake at once, each as one line
 * "file:line:column: message", in file order; a curriculum with any error is never run.
 *
 * lethe_curriculum is a handle: read it through the functions below. Tasks and stages are handed
 * out as read-only views (const pointers to the small structs below), valid until the curriculum
 * is freed; only liblethe allocates them, so they may grow at the end without breaking callers.
 */
#ifndef LETHE_CURRICULUM_H
#define LETHE_CURRICULUM_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>
#include <lethe/model.h>
#include <lethe/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lethe_registry lethe_registry;
typedef struct lethe_instance lethe_instance;
typedef struct lethe_curriculum lethe_curriculum;

/* ---- methods against forgetting (docs/methods.md) ---- */
typedef enum lethe_reg_kind {
	LETHE_REG_NONE = 0,
	LETHE_REG_L2 = 1,  /* (lambda/2) |theta - theta_stage_start|^2 */
	LETHE_REG_EWC = 2, /* (lambda/2) sum F (theta - theta*)^2, online diagonal Fisher */
	LETHE_REG_LWF = 3  /* lambda T^2 KL(previous stage's model || current) at temperature T */
} lethe_reg_kind;

/* regularize: {kind, lambda, fisher_examples, online_gamma, temperature}. */
typedef struct lethe_regularizer {
	lethe_reg_kind kind;
	double lambda;
	long fisher_examples; /* EWC: examples of each finished stage the Fisher is taken on */
	double online_gamma;  /* EWC: F = gamma F_old + F_new */
	double temperature;   /* LwF */
} lethe_regularizer;

/* replay: {per_task, ratio, policy: reservoir}. */
typedef struct lethe_replay {
	long per_task; /* at most this many examples remembered per finished task */
	double ratio;  /* fraction of each batch drawn from the memory */
} lethe_replay;

/* Training settings: the curriculum's defaults, overridden per stage. */
typedef struct lethe_train_settings {
	double lr, weight_decay, beta1, beta2, eps;
	int decay_embeddings;
	lethe_schedule schedule;
	long warmup;
	long batch, grad_accum;
	double epochs; /* used when steps is 0 */
	long steps;
	double clip;
	unsigned freeze; /* bit per lethe_param_group */
	/* ---- methods against forgetting (docs/methods.md); all off by default ---- */
	int reset_optimizer;       /* zero AdamW's moments and step counter at the stage's start */
	uint64_t freeze_layers[4]; /* bit per layer (0-255): every tensor of the layer frozen */
	lethe_regularizer regularize; /* kind LETHE_REG_NONE: none */
	lethe_replay replay;          /* ratio 0: no replay */
	/* adapter: {kind: lora, ...} (docs/curriculum.md); adapter_rank 0: no adapter, full
	 * fine-tuning. */
	int adapter_rank;
	double adapter_alpha, adapter_dropout;
	unsigned adapter_targets; /* LETHE_LORA_* bits */
	int adapter_merge;        /* merge into the base at the stage's end */
	/* ---- within-stage curves and loss weighting (docs/curriculum.md); off by default ---- */
	long
	    eval_every; /* evaluate: {every: N}: every N optimizer steps inside the stage; 0: off */
	long curve_limit; /* evaluate: {curve_limit: M}: the first M evaluation examples; 0: all */
	lethe_loss_weighting loss_weighting; /* loss_weighting: token (default) | example */
	int adapter_per_stage;     /* a fresh adapter for this stage, earlier ones frozen */
	double adapter_orthogonal; /* O-LoRA's lambda (per_stage only), 0: off */
	lethe_precision precision; /* precision: fp32 (default) | bf16, the training products' */
} lethe_train_settings;

/* One task of the curriculum (read-only view). */
typedef struct lethe_cur_task {
	char *name, *plugin;
	char *train, *eval; /* resolved paths, or NULL */
	long eval_limit;    /* 0: all */
	lethe_option *options;
	size_t n_options;
	lethe_instance *instance; /* created (and loaded) when data was checked; owned by the
	                           * curriculum, freed with it */
	size_t n_train, n_eval;
	/* Subsets (docs/curriculum.md#tasks): train on a seeded random train_limit examples (0:
	 * all); evaluate eval_limit examples drawn at random, stratified by target for choice
	 * tasks (eval_first: the first ones, eval_sample: first). */
	long train_limit;
	int eval_first;
} lethe_cur_task;

/* One training stage (read-only view). */
typedef struct lethe_cur_stage {
	char *name;
	size_t *tasks;   /* indices into the task list */
	double *weights; /* sampling weight per task */
	size_t n_tasks;
	lethe_train_settings train;
} lethe_cur_stage;

/* Reads and validates path. With reg, plugins are resolved, their options checked by the plugins
 * themselves and, with load_data, every split loaded (so missing or malformed data files are
 * reported too). Returns 0 when valid, LETHE_EPARSE when there are errors (see
 * lethe_curriculum_error_count()), LETHE_ENOMEM. *out is set unless memory ran out; free it
 * either way. */
LETHE_EXPORT int lethe_curriculum_load(lethe_curriculum **out, const char *path,
                                       lethe_registry *reg, int load_data);
LETHE_EXPORT void lethe_curriculum_free(lethe_curriculum *c);
/* The message of the last failed call on c (the first validation error after a failed load,
 * the run's failure after lethe_run_curriculum()); "" when there is none. */
LETHE_EXPORT const char *lethe_curriculum_errmsg(const lethe_curriculum *c);

/* Validation errors, sorted by position (line, then column; errors without a position, such as
 * an unreadable file, come first), errors at one position in the order they were found. */
LETHE_EXPORT size_t lethe_curriculum_error_count(const lethe_curriculum *c);
/* The whole line, "file:line:column: message" (or "file: message" without a position). */
LETHE_EXPORT const char *lethe_curriculum_error(const lethe_curriculum *c, size_t i);
/* 1-based line and column of the i-th error; 0 when it has no position. */
LETHE_EXPORT int lethe_curriculum_error_line(const lethe_curriculum *c, size_t i);
LETHE_EXPORT int lethe_curriculum_error_column(const lethe_curriculum *c, size_t i);

/* The file as it was named, and its text (what the run file keeps). */
LETHE_EXPORT const char *lethe_curriculum_path(const lethe_curriculum *c);
LETHE_EXPORT const char *lethe_curriculum_text(const lethe_curriculum *c);
/* Its name ('name', or the file's base name without extension) and random seed. */
LETHE_EXPORT const char *lethe_curriculum_name(const lethe_curriculum *c);
LETHE_EXPORT uint64_t lethe_curriculum_seed(const lethe_curriculum *c);
/* The seed of the data order: seed: {init: N, data: M} sets the two apart; otherwise the seed. */
LETHE_EXPORT uint64_t lethe_curriculum_data_seed(const lethe_curriculum *c);
/* Sets both seeds (lethe run --seed N). */
LETHE_EXPORT void lethe_curriculum_set_seed(lethe_curriculum *c, uint64_t seed);
/* The model configuration (its vocab is filled from the tokenizer at run time) and the
 * tokenizer's vocabulary size. */
LETHE_EXPORT const lethe_model_config *lethe_curriculum_model(const lethe_curriculum *c);
LETHE_EXPORT long lethe_curriculum_vocab(const lethe_curriculum *c);
/* The pretrained checkpoint of model: {from: PATH} (resolved against the curriculum's directory),
 * or NULL when the model starts from random weights and lethe trains its own tokenizer. With it,
 * lethe_curriculum_model() is the checkpoint's configuration (context possibly cut). */
LETHE_EXPORT const char *lethe_curriculum_model_from(const lethe_curriculum *c);
/* When lethe_curriculum_model_from() is a lethe run file (model: {from: RUN.h5, stage: NAME}):
 * the stage whose model the run starts from (NAME, or the file's last trained stage); NULL for a
 * checkpoint. The model and the tokenizer are then that run's. */
LETHE_EXPORT const char *lethe_curriculum_model_from_stage(const lethe_curriculum *c);

LETHE_EXPORT size_t lethe_curriculum_task_count(const lethe_curriculum *c);
LETHE_EXPORT const lethe_cur_task *lethe_curriculum_task(const lethe_curriculum *c, size_t i);
LETHE_EXPORT size_t lethe_curriculum_stage_count(const lethe_curriculum *c);
LETHE_EXPORT const lethe_cur_stage *lethe_curriculum_stage(const lethe_curriculum *c, size_t i);
/* The tasks evaluated before the first stage and after each one, as indices into the tasks. */
LETHE_EXPORT size_t lethe_curriculum_eval_count(const lethe_curriculum *c);
LETHE_EXPORT size_t lethe_curriculum_eval_task(const lethe_curriculum *c, size_t i);
/* Whether the untrained model is evaluated first (the baseline row). */
LETHE_EXPORT int lethe_curriculum_baseline(const lethe_curriculum *c);

/* The run file: the curriculum's 'output' (relative to its directory), or runs/<name>.h5. */
LETHE_EXPORT const char *lethe_curriculum_output(const lethe_curriculum *c);
/* Replaces it (lethe run -o); the path is copied. LETHE_ENOMEM leaves the old one. */
LETHE_EXPORT int lethe_curriculum_set_output(lethe_curriculum *c, const char *path);

#ifdef __cplusplus
}
#endif

#endif
