/*
 * lethe/lethe.h: the public API of liblethe, the engine library behind the `lethe` command.
 *
 * Conventions: fallible calls return 0 or a negative LETHE_E* code (lethe_strerror() names it);
 * the detailed one-line message lives on the handle that failed (lethe_<object>_errmsg()).
 * Constructors take an out-parameter first; objects returned through it are owned by the caller
 * and freed with lethe_<object>_free(), which accepts NULL.
 */
#ifndef LETHE_H
#define LETHE_H

#include <stddef.h>

#include <lethe/common.h>
#include <lethe/curriculum.h>
#include <lethe/forgetting.h>
#include <lethe/metrics.h>
#include <lethe/model.h>
#include <lethe/plugin.h>
#include <lethe/run.h>
#include <lethe/runfile.h>
#include <lethe/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A short text for an error code ("out of memory"); never NULL. */
LETHE_EXPORT const char *lethe_strerror(int code);

/* ---- scores: named metrics with flags (lethe_scores is declared in plugin.h) ---------------- */

LETHE_EXPORT int lethe_scores_new(lethe_scores **out);
LETHE_EXPORT void lethe_scores_free(lethe_scores *scores);
/* Same as the host service: LETHE_EEXISTS when name is already present. */
LETHE_EXPORT int lethe_scores_add(lethe_scores *scores, const char *name, double value,
                                  unsigned flags);
LETHE_EXPORT size_t lethe_scores_count(const lethe_scores *scores);
/* The i-th metric in insertion order; name stays valid until the scores are freed. */
LETHE_EXPORT void lethe_scores_at(const lethe_scores *scores, size_t i, const char **name,
                                  double *value, unsigned *flags);
/* Index of the metric flagged PRIMARY, or -1. */
LETHE_EXPORT long lethe_scores_primary(const lethe_scores *scores);
LETHE_EXPORT void lethe_scores_clear(lethe_scores *scores);

/* ---- the plugin registry: discovery, loading and validation of task plugins ---------------- */

typedef struct lethe_registry lethe_registry;

typedef struct lethe_plugin_info {
	const char *name;
	const char *version;
	const char *description;
	const char *path; /* the shared object it was loaded from */
	const lethe_plugin *plugin;
} lethe_plugin_info;

LETHE_EXPORT int lethe_registry_new(lethe_registry **out);
/* Unloads every plugin; instances created from them must be freed first. */
LETHE_EXPORT void lethe_registry_free(lethe_registry *reg);

/* Loads one plugin file named explicitly. Refuses, with the reason in lethe_registry_errmsg():
 * a path that is not a regular file, a dlopen() failure, a missing entry symbol, an ABI version
 * mismatch, a descriptor smaller than ABI version 1's, a missing required operation, an invalid
 * name, and a name already taken by a plugin loaded earlier at the same search level. */
LETHE_EXPORT int lethe_registry_load(lethe_registry *reg, const char *path);

/* The search order, as the command line uses it:
 *   1. each of paths (from --plugin-path): a plugin file, or a directory scanned for *.so;
 *   2. each directory of the LETHE_PLUGIN_PATH environment variable (colon-separated);
 *   3. the installed plugin directory, $(pkglibdir)/plugins, or, when the running lethe is the
 *      one in a build tree, that tree's plugins/<name>/.libs directories instead.
 * A name found at an earlier level shadows the same name found later; the same name twice
 * within one level (two explicit paths, one directory) is refused. Files that fail to load are
 * recorded as problems (lethe_registry_problem()) and the search goes on; the return value is
 * 0 unless memory runs out. */
LETHE_EXPORT int lethe_registry_discover(lethe_registry *reg, const char *const *paths,
                                         size_t n_paths);

/* Where lethe_registry_discover() looked, in order, as "place, place, ..." ("" before it). */
LETHE_EXPORT const char *lethe_registry_searched(const lethe_registry *reg);
LETHE_EXPORT size_t lethe_registry_count(const lethe_registry *reg);
LETHE_EXPORT const lethe_plugin_info *lethe_registry_at(const lethe_registry *reg, size_t i);
/* The plugin of that name; `classify` also finds the bundled `sentiment` (a general label
 * classifier) when no plugin is named classify. NULL when none. */
LETHE_EXPORT const lethe_plugin_info *lethe_registry_find(const lethe_registry *reg,
                                                          const char *name);
/* Messages of plugin files that discovery refused, one line each. */
LETHE_EXPORT size_t lethe_registry_problem_count(const lethe_registry *reg);
LETHE_EXPORT const char *lethe_registry_problem(const lethe_registry *reg, size_t i);
LETHE_EXPORT const char *lethe_registry_errmsg(const lethe_registry *reg);
/* The installed plugin directory compiled into this library. */
LETHE_EXPORT const char *lethe_registry_default_dir(void);

/* ---- instances: one configured task of a plugin, with its loaded data ---------------------- */

typedef struct lethe_instance lethe_instance;

/* Creates a task instance of plugin with options. Like sqlite3_open(), *out is set even on
 * failure (except LETHE_ENOMEM) so that lethe_instance_errmsg() can say why; free it either way. */
LETHE_EXPORT int lethe_instance_open(lethe_instance **out, const lethe_plugin_info *plugin,
                                     const lethe_option *options, size_t n_options);
LETHE_EXPORT void lethe_instance_free(lethe_instance *inst);
LETHE_EXPORT const char *lethe_instance_errmsg(const lethe_instance *inst);
LETHE_EXPORT const lethe_plugin_info *lethe_instance_plugin(const lethe_instance *inst);
LETHE_EXPORT int lethe_instance_load(lethe_instance *inst, lethe_split split, const char *path,
                                     size_t *n_examples);
LETHE_EXPORT size_t lethe_instance_size(const lethe_instance *inst, lethe_split split);
LETHE_EXPORT int lethe_instance_example(lethe_instance *inst, lethe_split split, size_t index,
                                        lethe_example *out);
LETHE_EXPORT int lethe_instance_predict_spec(lethe_instance *inst, lethe_predict_spec *out);
LETHE_EXPORT int lethe_instance_score(lethe_instance *inst, lethe_split split,
                                      const lethe_prediction *predictions, size_t n,
                                      lethe_scores *out, double *per_example);
/* Keeps examples idx[0..n) of a loaded split, in that order (distinct, in range: LETHE_EINVAL
 * otherwise); LETHE_EUNSUPPORTED when the plugin has no select operation. */
LETHE_EXPORT int lethe_instance_select(lethe_instance *inst, lethe_split split, const size_t *idx,
                                       size_t n);
/* The per-example sufficient statistics of the primary metric (plugin.h, primary_stats): stats
 * holds n x LETHE_STATS_MAX values. LETHE_EUNSUPPORTED when the plugin has no primary_stats;
 * LETHE_EINVAL when it answers an unknown aggregate or a k that does not fit it. */
LETHE_EXPORT int lethe_instance_primary_stats(lethe_instance *inst, lethe_split split,
                                              const lethe_prediction *predictions, size_t n,
                                              double *stats, size_t *k, lethe_aggregate *aggregate);
/* LETHE_EUNSUPPORTED when the plugin has no stats operation. */
LETHE_EXPORT int lethe_instance_stats(lethe_instance *inst, lethe_split split, lethe_scores *out);
/* Minimum level of plugin log messages printed on stderr (default LETHE_LOG_INFO); -1: none. */
LETHE_EXPORT void lethe_instance_set_log_level(lethe_instance *inst, int level);

#ifdef __cplusplus
}
#endif

#endif
