/*
 * lethe/plugin.h: the task plugin ABI, the only header a plugin author includes.
 *
 * A task plugin is a shared object that teaches lethe one task: it reads the task's data format,
 * turns each example into a prompt and a target text, says how the task is predicted, and scores
 * predictions. It exports exactly one symbol, lethe_plugin_entry(), which returns a static
 * descriptor (declare it with LETHE_PLUGIN_DECLARE). The plugin never links against liblethe:
 * everything it needs from the host arrives as a table of function pointers (lethe_host, with the
 * plugin kit of lethe/kit.h for files, JSON lines, options and label maps), so it can be
 * unit-tested against a mock host.
 *
 * Compatibility rules (as SQLite's extension table): the descriptor and the host table start with
 * abi_version and struct_size and only ever grow at the end. A change that is not an append bumps
 * LETHE_PLUGIN_ABI_VERSION, and the host refuses plugins built for another version.
 *
 * Lifetime of one task instance, as the engine drives it:
 *   create(options) -> load(TRAIN, path) -> load(EVAL, path) -> predict(spec)
 *   -> example(split, i) ... -> score(EVAL, predictions) ... -> destroy
 * All calls on one instance come from one thread. Strings handed out by a plugin stay valid until
 * destroy(). Errors: an operation returns 0 or a negative LETHE_E* code, and before returning an
 * error it calls host->error() once with a one-line message naming the place (file:line, option).
 */
#ifndef LETHE_PLUGIN_H
#define LETHE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>
#include <lethe/kit.h>
#include <lethe/metrics.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LETHE_PLUGIN_ABI_VERSION 1u
#define LETHE_PLUGIN_ENTRY_SYMBOL "lethe_plugin_entry"

/* One option from the task's curriculum entry. Nested maps are flattened to dotted keys
 * ("labels.0"), list items to indices ("fields.1"). Keys the engine itself consumes (plugin,
 * train, eval, eval_limit) are not passed. */
typedef struct lethe_option {
	const char *key;
	const char *value; /* the scalar as written, after ${VAR} expansion */
	const char *where; /* "file:line:column" of the value, for messages; never NULL */
} lethe_option;

typedef enum lethe_log_level {
	LETHE_LOG_DEBUG = 0,
	LETHE_LOG_INFO = 1,
	LETHE_LOG_WARN = 2
} lethe_log_level;

/* Flags of a metric reported through lethe_host.metric. */
#define LETHE_METRIC_HIGHER 0x0u  /* higher is better (the default) */
#define LETHE_METRIC_LOWER 0x1u   /* lower is better (loss, perplexity) */
#define LETHE_METRIC_PRIMARY 0x2u /* the task's headline metric; exactly one per score() call */
#define LETHE_METRIC_COUNT 0x4u   /* a count (examples, entities), not a score; from stats() */
/* On a 0-100 scale (BLEU, chrF): divided by 100 wherever tasks are averaged, so that every
 * average is over scores on 0-1. Without it a score is taken to be on 0-1 (or unbounded, for a
 * lower-is-better metric). Added after ABI version 1 shipped; old plugins simply never set it. */
#define LETHE_METRIC_PERCENT 0x8u

/* Where score() and stats() put named metrics; owned by the host. */
typedef struct lethe_scores lethe_scores;

/* Services the host offers to plugins. Grows only at the end; check struct_size before using a
 * member added after ABI version 1. */
typedef struct lethe_host {
	uint32_t abi_version;
	uint32_t struct_size;
	void *ctx; /* pass back as the first argument of error() and log() */
	/* Records why the current operation fails: one line, no trailing newline, no "error:"
	 * prefix. */
	void (*error)(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
	/* A message for the run log (e.g. "truncated 12 of 500 documents"). */
	void (*log)(void *ctx, lethe_log_level level, const char *fmt, ...) LETHE_PRINTF(3, 4);
	/* Adds a named metric to out; returns 0, LETHE_EEXISTS for a repeated name, LETHE_ENOMEM.
	 */
	int (*metric)(lethe_scores *out, const char *name, double value, unsigned flags);
	/* The metrics library (BLEU, chrF, ROUGE, seqeval, classification): lethe/metrics.h. */
	const lethe_metrics_api *metrics;
	/* Appended after ABI version 1 shipped: present when struct_size >= offsetof(lethe_host,
	 * kit) + sizeof(void *) (LETHE_HOST_HAS_KIT). The plugin kit: lethe/kit.h. */
	const lethe_kit_api *kit;
} lethe_host;

/* Whether host offers the kit (a host older than the kit has a shorter table). */
#define LETHE_HOST_HAS_KIT(host)                                                                   \
	((host)->struct_size >= offsetof(lethe_host, kit) + sizeof(const lethe_kit_api *) &&       \
	 (host)->kit != NULL)

/* A task instance; the plugin defines struct lethe_task. */
typedef struct lethe_task lethe_task;

/* One example as text. The engine tokenizes prompt and target, joins them with its separator
 * token, and trains on the target tokens only. prompt may be empty (language modelling). */
typedef struct lethe_example {
	const char *prompt;
	size_t prompt_len;
	const char *target;
	size_t target_len;
} lethe_example;

typedef enum lethe_predict_mode {
	LETHE_PREDICT_LIKELIHOOD = 0, /* only the target NLL is needed (language modelling) */
	LETHE_PREDICT_GENERATE = 1,   /* greedy generation after the prompt, up to max_new_tokens */
	LETHE_PREDICT_CHOICE =
	    2 /* the candidate with the highest log-likelihood given the prompt */
} lethe_predict_mode;

typedef struct lethe_predict_spec {
	lethe_predict_mode mode;
	unsigned max_new_tokens;    /* GENERATE */
	const char *const *choices; /* CHOICE: candidate target strings, valid until destroy() */
	size_t n_choices;
	int length_normalise; /* CHOICE: rank candidates by mean rather than summed log-likelihood
	                       */
} lethe_predict_spec;

/* What the engine predicted for one example, handed to score(). */
typedef struct lethe_prediction {
	const char *text; /* GENERATE: generated text; CHOICE: the chosen candidate; else NULL */
	size_t text_len;
	size_t choice;   /* CHOICE: index into lethe_predict_spec.choices */
	double nll;      /* summed negative log-likelihood of the target tokens, nats */
	size_t n_tokens; /* number of target tokens nll sums over (> 0) */
	size_t n_bytes;  /* bytes of target text */
} lethe_prediction;

typedef struct lethe_plugin_ops {
	/* Required. Parses the options; rejects unknown keys and bad values naming option->where.
	 */
	int (*create)(lethe_task **out, const lethe_host *host, const lethe_option *options,
	              size_t n_options);
	/* Required. destroy(NULL) is a no-op. */
	void (*destroy)(lethe_task *task);
	/* Required. Reads one split from path (the plugin decides what path means, e.g. a file or a
	 * prefix of a file pair), replacing any earlier load of that split. */
	int (*load)(lethe_task *task, lethe_split split, const char *path, size_t *n_examples);
	/* Required. Example index of a loaded split; the strings stay valid until destroy(). */
	int (*example)(lethe_task *task, lethe_split split, size_t index, lethe_example *out);
	/* Required. How this task is predicted. */
	int (*predict)(lethe_task *task, lethe_predict_spec *out);
	/* Required. Scores predictions for the first n examples of split: adds named metrics to out
	 * through host->metric (exactly one flagged PRIMARY) and, when per_example is not NULL,
	 * writes each example's primary score (NaN where it is undefined). */
	int (*score)(lethe_task *task, lethe_split split, const lethe_prediction *predictions,
	             size_t n, lethe_scores *out, double *per_example);
	/* Optional (NULL: not supported). Counts describing a loaded split (examples, tokens,
	 * entities, ...), added with LETHE_METRIC_COUNT. */
	int (*stats)(lethe_task *task, lethe_split split, lethe_scores *out);
} lethe_plugin_ops;

/* How per-example sufficient statistics of the primary metric combine into it, so that the host
 * can recompute the metric on a bootstrap resample of the examples (corpus-level metrics such as
 * BLEU are not the mean of a per-example score). Sums are over the resampled examples. */
typedef enum lethe_aggregate {
	LETHE_AGGREGATE_MEAN = 0, /* k = 1: the mean of the defined (non-NaN) values */
	LETHE_AGGREGATE_F1 = 1,   /* k = 3: tp, predicted, true; F1 of precision tp/predicted and
	                             recall tp/true (0 where undefined), as seqeval */
	LETHE_AGGREGATE_BLEU = 2, /* k = 10: matching n-grams (n = 1..4), hypothesis n-grams
	                             (n = 1..4), hypothesis length, reference length: sacrebleu's
	                             corpus BLEU (exponential smoothing), 0-100 */
	LETHE_AGGREGATE_EXP_RATIO = 3 /* k = 2: exp(sum a / sum b), e.g. perplexity from the
	                                 summed NLL and the token count */
} lethe_aggregate;

/* The most statistics per example primary_stats() may write. */
#define LETHE_STATS_MAX 16

/* The descriptor a plugin returns. Grows only at the end. */
typedef struct lethe_plugin {
	uint32_t abi_version; /* LETHE_PLUGIN_ABI_VERSION */
	uint32_t struct_size; /* sizeof(lethe_plugin) as the plugin was compiled */
	const char *name;     /* [a-z0-9_-]+, unique among loaded plugins; curricula refer to it */
	const char *version;
	const char *description; /* one line */
	lethe_plugin_ops ops;
	/* Appended after ABI version 1 shipped: the host reads it only when struct_size covers it
	 * (an older plugin's descriptor is read as NULL here). Optional (NULL: no intervals for
	 * this task). For the same predictions as score(), writes each example's sufficient
	 * statistics of the primary metric into stats (n rows of LETHE_STATS_MAX values, the
	 * first *k used), *k and how they combine, *aggregate: combined over all n examples they
	 * must give the primary metric score() reports. */
	int (*primary_stats)(lethe_task *task, lethe_split split,
	                     const lethe_prediction *predictions, size_t n, double *stats,
	                     size_t *k, lethe_aggregate *aggregate);
	/* Appended after primary_stats, read likewise (NULL for older plugins). Optional (NULL:
	 * the engine uses a split's first N examples). Keeps only examples idx[0..n) of a loaded
	 * split, in that order: example i becomes the one that was idx[i]. The host passes distinct
	 * indices in range. What the engine evaluates (eval_limit's random sample) and trains on
	 * (train_limit) is chosen through it. */
	int (*select)(lethe_task *task, lethe_split split, const size_t *idx, size_t n);
} lethe_plugin;

typedef const lethe_plugin *(*lethe_plugin_entry_fn)(void);

/* Exports the entry point returning descriptor (a static const lethe_plugin). */
#define LETHE_PLUGIN_DECLARE(descriptor)                                                           \
	LETHE_EXPORT const lethe_plugin *lethe_plugin_entry(void);                                 \
	LETHE_EXPORT const lethe_plugin *lethe_plugin_entry(void)                                  \
	{                                                                                          \
		return &(descriptor);                                                              \
	}

/* Initialiser for the first two fields of a descriptor. */
#define LETHE_PLUGIN_HEADER LETHE_PLUGIN_ABI_VERSION, (uint32_t)sizeof(lethe_plugin)

#ifdef __cplusplus
}
#endif

#endif
