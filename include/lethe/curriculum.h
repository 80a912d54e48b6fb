/*
 * lethe/curriculum.h: a curriculum file, read and validated. The format is documented key by key
 * in docs/curriculum.md. Validation reports every mistake at once, each as one line
 * "file:line:column: message"; a curriculum with any error is never run.
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
} lethe_train_settings;

typedef struct lethe_cur_task {
	char *name, *plugin;
	char *train, *eval; /* resolved paths, or NULL */
	long eval_limit;    /* 0: all */
	lethe_option *options;
	size_t n_options;
	lethe_instance *instance; /* created (and loaded) when data was checked */
	size_t n_train, n_eval;
} lethe_cur_task;

typedef struct lethe_cur_stage {
	char *name;
	size_t *tasks;   /* indices into the task list */
	double *weights; /* sampling weight per task */
	size_t n_tasks;
	lethe_train_settings train;
} lethe_cur_stage;

typedef struct lethe_curriculum {
	char *path, *text; /* the file and its contents */
	char *name;
	uint64_t seed;
	lethe_model_config model; /* vocab filled from the tokenizer at run time */
	long vocab;               /* tokenizer vocabulary size */
	lethe_cur_task *tasks;
	size_t n_tasks;
	lethe_cur_stage *stages;
	size_t n_stages;
	size_t *eval_tasks; /* tasks evaluated after every stage */
	size_t n_eval_tasks;
	int baseline;
	char *output;
	char **errors;
	size_t n_errors;
} lethe_curriculum;

/* Reads and validates path. With reg, plugins are resolved, their options checked by the plugins
 * themselves and, with load_data, every split loaded (so missing or malformed data files are
 * reported too). Returns 0 when valid, LETHE_EPARSE when there are errors (listed in
 * (*out)->errors), LETHE_ENOMEM. *out is set unless memory ran out; free it either way. */
LETHE_EXPORT int lethe_curriculum_load(lethe_curriculum **out, const char *path,
                                       lethe_registry *reg, int load_data);
LETHE_EXPORT void lethe_curriculum_free(lethe_curriculum *c);

#ifdef __cplusplus
}
#endif

#endif
