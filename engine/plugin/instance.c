/*
 * instance.c: one configured task of a plugin, and the host services the engine hands to it.
 *
 * Every call into a plugin goes through here, so that the plugin's error message lands on the
 * instance (sqlite3_errmsg style), a plugin that fails without saying why still yields a useful
 * message, and the contracts of plugin.h (one primary metric, indices in range) are enforced in
 * one place. It knows nothing about training or the model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "util/errbuf.h"

struct lethe_instance {
	const lethe_plugin_info *info;
	const lethe_plugin_ops *ops;
	lethe_task *task;
	lethe_host host;
	size_t size[LETHE_SPLIT_COUNT];
	int log_level;
	lethe_errbuf err; /* lethe_instance_errmsg() */
};

static void host_error(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void host_error(void *ctx, const char *fmt, ...)
{
	lethe_instance *inst = ctx;
	va_list ap;
	va_start(ap, fmt);
	lethe_errbuf__setv(&inst->err, 0, fmt, ap);
	va_end(ap);
}

static void host_log(void *ctx, lethe_log_level level, const char *fmt, ...) LETHE_PRINTF(3, 4);
static void host_log(void *ctx, lethe_log_level level, const char *fmt, ...)
{
	lethe_instance *inst = ctx;
	if (inst->log_level < 0 || (int)level < inst->log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "lethe: %s: %s", inst->info->name,
	        level >= LETHE_LOG_WARN ? "warning: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int host_metric(lethe_scores *out, const char *name, double value, unsigned flags)
{
	return lethe_scores_add(out, name, value, flags);
}

/* Called after a plugin operation: keeps its message, or makes one when it gave none. */
static int checked(lethe_instance *inst, int rc, const char *op)
{
	if (rc != 0 && inst->err.msg[0] == '\0')
		return lethe_errbuf__set(&inst->err, rc, "plugin '%s': %s() failed: %s",
		                         inst->info->name, op, lethe_strerror(rc));
	return rc;
}

static void reset_error(lethe_instance *inst)
{
	lethe_errbuf__clear(&inst->err);
}

int lethe_instance_open(lethe_instance **out, const lethe_plugin_info *plugin,
                        const lethe_option *options, size_t n_options)
{
	lethe_instance *inst = calloc(1, sizeof(*inst));
	*out = inst;
	if (!inst)
		return LETHE_ENOMEM;
	inst->info = plugin;
	inst->ops = &plugin->plugin->ops;
	inst->log_level = LETHE_LOG_INFO;
	inst->host = (lethe_host){
	    .abi_version = LETHE_PLUGIN_ABI_VERSION,
	    .struct_size = sizeof(lethe_host),
	    .ctx = inst,
	    .error = host_error,
	    .log = host_log,
	    .metric = host_metric,
	    .metrics = lethe_metrics(),
	    .kit = lethe_kit(),
	};
	int rc = inst->ops->create(&inst->task, &inst->host, options, n_options);
	if (rc == 0 && !inst->task) {
		return lethe_errbuf__set(&inst->err, LETHE_ELOAD,
		                         "plugin '%s': create() returned no task", plugin->name);
	}
	return checked(inst, rc, "create");
}

void lethe_instance_free(lethe_instance *inst)
{
	if (!inst)
		return;
	if (inst->task)
		inst->ops->destroy(inst->task);
	free(inst);
}

const char *lethe_instance_errmsg(const lethe_instance *inst)
{
	return inst->err.msg;
}
const lethe_plugin_info *lethe_instance_plugin(const lethe_instance *inst)
{
	return inst->info;
}
void lethe_instance_set_log_level(lethe_instance *inst, int level)
{
	inst->log_level = level;
}

size_t lethe_instance_size(const lethe_instance *inst, lethe_split split)
{
	return split < LETHE_SPLIT_COUNT ? inst->size[split] : 0;
}

static int bad_split(lethe_instance *inst, lethe_split split)
{
	if ((unsigned)split < LETHE_SPLIT_COUNT)
		return 0;
	lethe_errbuf__set(&inst->err, LETHE_EINVAL, "invalid split %d", (int)split);
	return 1;
}

int lethe_instance_load(lethe_instance *inst, lethe_split split, const char *path,
                        size_t *n_examples)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	size_t n = 0;
	int rc = checked(inst, inst->ops->load(inst->task, split, path, &n), "load");
	inst->size[split] = rc == 0 ? n : 0;
	if (n_examples)
		*n_examples = inst->size[split];
	return rc;
}

int lethe_instance_select(lethe_instance *inst, lethe_split split, const size_t *idx, size_t n)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	/* The registry's copy of the descriptor is zero-filled past the plugin's struct_size. */
	const lethe_plugin *p = inst->info->plugin;
	if (!p->select)
		return lethe_errbuf__set(&inst->err, LETHE_EUNSUPPORTED,
		                         "plugin '%s' cannot keep a subset of its examples (it has "
		                         "no select operation)",
		                         inst->info->name);
	size_t size = inst->size[split];
	unsigned char *seen = calloc(size + 1, 1);
	if (!seen)
		return LETHE_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (idx[i] >= size || seen[idx[i]]++) {
			free(seen);
			return lethe_errbuf__set(&inst->err, LETHE_EINVAL,
			                         "task '%s': selection %zu is %s", inst->info->name,
			                         i, idx[i] >= size ? "out of range" : "repeated");
		}
	free(seen);
	int rc = checked(inst, p->select(inst->task, split, idx, n), "select");
	if (rc == 0)
		inst->size[split] = n;
	return rc;
}

int lethe_instance_example(lethe_instance *inst, lethe_split split, size_t index,
                           lethe_example *out)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	if (index >= inst->size[split]) {
		return lethe_errbuf__set(&inst->err, LETHE_EINVAL,
		                         "task '%s': example %zu out of range (%zu loaded)",
		                         inst->info->name, index, inst->size[split]);
	}
	return checked(inst, inst->ops->example(inst->task, split, index, out), "example");
}

int lethe_instance_predict_spec(lethe_instance *inst, lethe_predict_spec *out)
{
	reset_error(inst);
	memset(out, 0, sizeof(*out));
	int rc = checked(inst, inst->ops->predict(inst->task, out), "predict");
	if (rc == 0 && out->mode == LETHE_PREDICT_CHOICE &&
	    (out->n_choices == 0 || !out->choices)) {
		return lethe_errbuf__set(
		    &inst->err, LETHE_EINVAL,
		    "plugin '%s': predict() asks for a choice but gives no candidates",
		    inst->info->name);
	}
	return rc;
}

int lethe_instance_score(lethe_instance *inst, lethe_split split,
                         const lethe_prediction *predictions, size_t n, lethe_scores *out,
                         double *per_example)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	if (n > inst->size[split]) {
		return lethe_errbuf__set(&inst->err, LETHE_EINVAL,
		                         "task '%s': %zu predictions for %zu loaded examples",
		                         inst->info->name, n, inst->size[split]);
	}
	size_t before = lethe_scores_count(out);
	int rc = checked(
	    inst, inst->ops->score(inst->task, split, predictions, n, out, per_example), "score");
	if (rc != 0)
		return rc;
	size_t primaries = 0;
	for (size_t i = before; i < lethe_scores_count(out); i++) {
		unsigned flags;
		lethe_scores_at(out, i, NULL, NULL, &flags);
		primaries += (flags & LETHE_METRIC_PRIMARY) != 0;
	}
	if (primaries != 1) {
		return lethe_errbuf__set(
		    &inst->err, LETHE_EINVAL,
		    "plugin '%s': score() flagged %zu metrics as primary; exactly one is required",
		    inst->info->name, primaries);
	}
	return 0;
}

int lethe_instance_primary_stats(lethe_instance *inst, lethe_split split,
                                 const lethe_prediction *predictions, size_t n, double *stats,
                                 size_t *k, lethe_aggregate *aggregate)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	/* The registry's copy of the descriptor is zero-filled past the plugin's struct_size. */
	const lethe_plugin *p = inst->info->plugin;
	if (!p->primary_stats)
		return lethe_errbuf__set(&inst->err, LETHE_EUNSUPPORTED,
		                         "plugin '%s' does not report sufficient statistics",
		                         inst->info->name);
	if (n > inst->size[split])
		return lethe_errbuf__set(&inst->err, LETHE_EINVAL,
		                         "task '%s': %zu predictions for %zu loaded examples",
		                         inst->info->name, n, inst->size[split]);
	*k = 0;
	*aggregate = LETHE_AGGREGATE_MEAN;
	int rc =
	    checked(inst, p->primary_stats(inst->task, split, predictions, n, stats, k, aggregate),
	            "primary_stats");
	if (rc)
		return rc;
	static const size_t want[4] = {1, 3, 10, 2};
	if ((unsigned)*aggregate > LETHE_AGGREGATE_EXP_RATIO || *k != want[*aggregate])
		return lethe_errbuf__set(
		    &inst->err, LETHE_EINVAL,
		    "plugin '%s': primary_stats() answered aggregate %d with %zu "
		    "statistics per example",
		    inst->info->name, (int)*aggregate, *k);
	return 0;
}

int lethe_instance_stats(lethe_instance *inst, lethe_split split, lethe_scores *out)
{
	reset_error(inst);
	if (bad_split(inst, split))
		return LETHE_EINVAL;
	if (!inst->ops->stats) {
		return lethe_errbuf__set(&inst->err, LETHE_EUNSUPPORTED,
		                         "plugin '%s' does not report statistics",
		                         inst->info->name);
	}
	return checked(inst, inst->ops->stats(inst->task, split, out), "stats");
}
