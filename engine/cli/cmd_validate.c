/*
 * cmd_validate.c: `lethe validate`, which reads a curriculum, resolves its plugins, lets them
 * check their options and load their data, and prints every mistake at once as
 * file:line:column: message. Exit status 2 when there is any.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe validate [--plugin-path PATH]... [--no-data] CURRICULUM\n\n"
	    "Checks a curriculum without training: keys, types and ranges, task and stage names,\n"
	    "plugins and their options, and (unless --no-data) every data file, loaded by its "
	    "plugin.\n"
	    "Prints every error as file:line:column: message and exits with status 2 if there is "
	    "any.\n\n"
	    "  -p, --plugin-path PATH  search PATH for plugins first (repeatable)\n"
	    "      --no-data           do not load the data files\n"
	    "  -q, --quiet             print errors only\n"
	    "  -h, --help              show this help\n");
}

static const char *schedule_name(lethe_schedule s)
{
	return s == LETHE_SCHEDULE_CONSTANT ? "constant"
	       : s == LETHE_SCHEDULE_LINEAR ? "linear"
	                                    : "cosine";
}

/* A stage's within-stage curves, loss weighting and precision, one indented line each, when
 * set. */
static void print_curve_settings(const lethe_train_settings *t)
{
	if (t->eval_every && t->curve_limit)
		printf("  evaluated every %ld steps inside the stage, on the first %ld evaluation "
		       "examples of each task\n",
		       t->eval_every, t->curve_limit);
	else if (t->eval_every)
		printf("  evaluated every %ld steps inside the stage, on all evaluation examples\n",
		       t->eval_every);
	if (t->loss_weighting == LETHE_LOSS_WEIGHTING_EXAMPLE)
		printf("  loss weighting: example (each example's mean token loss, averaged over "
		       "examples)\n");
	if (t->precision == LETHE_PRECISION_BF16)
		printf("  precision: bf16 (training matrix products in bfloat16, fp32 "
		       "accumulation)\n");
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "prompt\x1ftarget" of example i, malloc'd; NULL when it cannot be read. */
static char *example_key(lethe_instance *inst, lethe_split split, size_t i)
{
	lethe_example ex;
	if (lethe_instance_example(inst, split, i, &ex))
		return NULL;
	char *k = malloc(ex.prompt_len + ex.target_len + 2);
	if (k) {
		memcpy(k, ex.prompt, ex.prompt_len);
		k[ex.prompt_len] = 0x1f;
		memcpy(k + ex.prompt_len + 1, ex.target, ex.target_len);
		k[ex.prompt_len + 1 + ex.target_len] = '\0';
	}
	return k;
}

/* How many eval examples appear verbatim (prompt and target) among the training examples: a
 * score on them measures memory, not generalisation. */
static size_t overlap(lethe_instance *inst)
{
	size_t n = lethe_instance_size(inst, LETHE_SPLIT_TRAIN), dup = 0, m = 0;
	char **keys = malloc((n ? n : 1) * sizeof(*keys));
	if (!keys)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((keys[m] = example_key(inst, LETHE_SPLIT_TRAIN, i)))
			m++;
	qsort(keys, m, sizeof(*keys), by_string);
	for (size_t i = 0; i < lethe_instance_size(inst, LETHE_SPLIT_EVAL); i++) {
		char *k = example_key(inst, LETHE_SPLIT_EVAL, i);
		if (k && bsearch(&k, keys, m, sizeof(*keys), by_string))
			dup++;
		free(k);
	}
	for (size_t i = 0; i < m; i++)
		free(keys[i]);
	free(keys);
	return dup;
}

int lethe_cmd_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"plugin-path", required_argument, NULL, 'p'},
	    {"no-data", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	lethe_cli_paths paths = {0};
	int c, load_data = 1, quiet = 0, status = LETHE_EXIT_USAGE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (lethe_cli_paths_add(&paths, optarg))
				goto done;
			break;
		case 'n': load_data = 0; break;
		case 'q': quiet = 1; break;
		case 'h':
			help(stdout);
			status = LETHE_EXIT_OK;
			goto done;
		case ':':
			lethe_cli_error("validate: option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			lethe_cli_error(
			    "validate: unknown option '%s' (try 'lethe validate --help')",
			    argv[optind - 1]);
			goto done;
		}
	}
	if (argc - optind != 1) {
		lethe_cli_error("validate: expected one CURRICULUM file");
		goto done;
	}
	lethe_registry *reg;
	if (lethe_cli_registry(&reg, &paths, 0)) {
		status = LETHE_EXIT_FAILED;
		goto done;
	}
	lethe_curriculum *cur;
	int rc = lethe_curriculum_load(&cur, argv[optind], reg, load_data);
	if (rc == LETHE_ENOMEM) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
	} else if (lethe_curriculum_error_count(cur)) {
		size_t n = lethe_curriculum_error_count(cur);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s\n", lethe_curriculum_error(cur, i));
		fprintf(stderr, "lethe: %s: %zu error%s\n", argv[optind], n, n == 1 ? "" : "s");
		status = LETHE_EXIT_USAGE;
	} else {
		status = LETHE_EXIT_OK;
		if (!quiet) {
			const lethe_model_config *mc = lethe_curriculum_model(cur);
			printf("%s: valid curriculum '%s' (seed %llu)\n", argv[optind],
			       lethe_curriculum_name(cur),
			       (unsigned long long)lethe_curriculum_seed(cur));
			printf("model: %d layers, dim %d, %d heads, context %d, ff %d, %s head; "
			       "tokenizer vocab %ld\n",
			       mc->layers, mc->dim, mc->heads, mc->context, mc->ff,
			       mc->tied ? "tied" : "untied", lethe_curriculum_vocab(cur));
			if (lethe_curriculum_model_from(cur))
				printf(
				    "pretrained: %s (%d key/value heads, head size %d, embeddings "
				    "for %d tokens)\n",
				    lethe_curriculum_model_from(cur), mc->kv_heads, mc->head_dim,
				    mc->vocab);
			for (size_t i = 0; i < lethe_curriculum_task_count(cur); i++) {
				const lethe_cur_task *t = lethe_curriculum_task(cur, i);
				printf("task %s: plugin %s", t->name, t->plugin);
				if (load_data) {
					printf(", %zu train / %zu eval examples", t->n_train,
					       t->n_eval);
					if (t->train_limit > 0 &&
					    (size_t)t->train_limit < t->n_train)
						printf(", training on %ld (train_limit, random)",
						       t->train_limit);
					if (t->eval_limit > 0 && (size_t)t->eval_limit < t->n_eval)
						printf(", evaluating %ld (eval_limit, %s)",
						       t->eval_limit,
						       t->eval_first ? "the first" : "random");
				}
				putchar('\n');
				size_t dup = 0;
				if (load_data && t->n_train && t->n_eval &&
				    (dup = overlap(t->instance)) > 0)
					fprintf(stderr,
					        "lethe: warning: task %s: %zu of %zu eval examples "
					        "also "
					        "appear in its training data, prompt and target "
					        "alike\n",
					        t->name, dup, t->n_eval);
			}
			for (size_t i = 0; i < lethe_curriculum_stage_count(cur); i++) {
				const lethe_cur_stage *s = lethe_curriculum_stage(cur, i);
				printf("stage %zu %s:", i + 1, s->name);
				for (size_t k = 0; k < s->n_tasks; k++) {
					printf(" %s",
					       lethe_curriculum_task(cur, s->tasks[k])->name);
					if (s->n_tasks > 1)
						printf("=%g", s->weights[k]);
				}
				printf("; lr %g %s, batch %ld", s->train.lr,
				       schedule_name(s->train.schedule), s->train.batch);
				/* What an epoch means in optimizer steps, as the runner counts
				 * them: the stage's tasks' training examples (after train_limit)
				 * over batch x grad_accum. */
				size_t examples = 0;
				for (size_t k = 0; k < s->n_tasks; k++) {
					const lethe_cur_task *t =
					    lethe_curriculum_task(cur, s->tasks[k]);
					size_t n = t->n_train;
					if (t->train_limit > 0 && (size_t)t->train_limit < n)
						n = (size_t)t->train_limit;
					examples += n;
				}
				double per_step =
				    (double)s->train.batch * (double)s->train.grad_accum;
				if (s->train.steps)
					printf(", %ld steps\n", s->train.steps);
				else if (load_data && examples)
					printf(", %g epoch%s = %.0f steps of %.0f examples (%zu "
					       "examples)\n",
					       s->train.epochs, s->train.epochs == 1 ? "" : "s",
					       ceil(s->train.epochs * (double)examples / per_step),
					       per_step, examples);
				else
					printf(", %g epoch%s\n", s->train.epochs,
					       s->train.epochs == 1 ? "" : "s");
				print_curve_settings(&s->train);
			}
			printf("output: %s\n", lethe_curriculum_output(cur));
		}
	}
	lethe_curriculum_free(cur);
	lethe_registry_free(reg);
done:
	lethe_cli_paths_free(&paths);
	return status;
}
