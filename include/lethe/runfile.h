/*
 * lethe/runfile.h: reading a run file, the HDF5 file `lethe run` writes (layout and format_version
 * policy in docs/run-file.md). The one reader everything uses: `lethe report`, `lethe compare`,
 * the HTML report and `lethe run --resume`. It trusts nothing in the file: lethe_runfile_open()
 * checks the rank, shape and type of every dataset and attribute the format defines against the
 * file's own attributes (rows, columns, examples, steps, parameters) before any buffer is sized,
 * and every read checks again. A mismatch is one line on the handle naming the file and the
 * dataset ("run.h5: dataset 'matrices/primary' has shape 400x400, expected 5x4 (rows x
 * columns)"). Writing is liblethe's own (lethe run); there is no public writer.
 *
 * Arrays returned through out-parameters are malloc'd and owned by the caller; names returned
 * as const pointers live as long as the handle.
 */
#ifndef LETHE_RUNFILE_PUBLIC_H
#define LETHE_RUNFILE_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>
#include <lethe/forgetting.h>
#include <lethe/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The format_version this lethe writes and the only one it reads. */
#define LETHE_RUNFILE_FORMAT_VERSION 1

/* Parameter drift is stored per group: LETHE_GROUP_EMBEDDINGS .. LETHE_GROUP_NORMS, then all. */
#define LETHE_RUNFILE_DRIFT_GROUPS (LETHE_GROUP_COUNT + 1)

typedef struct lethe_runfile lethe_runfile;

/* Opens path and checks its whole structure (no tensor is read yet). Like sqlite3_open(), *out
 * is set even on failure (except LETHE_ENOMEM) so that lethe_runfile_errmsg() can say why; free
 * it either way. Returns 0, LETHE_EIO (unreadable, not HDF5), LETHE_EPARSE (not a run file, or
 * a dataset or attribute of the wrong rank, shape or type, or missing), LETHE_EVERSION (another
 * format_version), LETHE_ENOMEM. */
LETHE_EXPORT int lethe_runfile_open(lethe_runfile **out, const char *path);
LETHE_EXPORT void lethe_runfile_free(lethe_runfile *rf);
/* The last failure's one-line message, starting with the file's path; "" when none. NULL rf:
 * "out of memory". */
LETHE_EXPORT const char *lethe_runfile_errmsg(const lethe_runfile *rf);

LETHE_EXPORT const char *lethe_runfile_path(const lethe_runfile *rf);
LETHE_EXPORT int lethe_runfile_format_version(const lethe_runfile *rf);
/* The curriculum's name. */
LETHE_EXPORT const char *lethe_runfile_name(const lethe_runfile *rf);

/* Rows: "baseline" (when the curriculum has one), then each completed stage, in order. */
LETHE_EXPORT size_t lethe_runfile_n_rows(const lethe_runfile *rf);
LETHE_EXPORT const char *const *lethe_runfile_row_names(const lethe_runfile *rf);
/* The curriculum's stages (/curriculum/stages): more than the trained rows when the run is
 * partial (stopped before its last stage). */
LETHE_EXPORT size_t lethe_runfile_n_stages(const lethe_runfile *rf);
/* Columns: the evaluated tasks; per column its plugin, its primary metric's name and whether
 * that metric is lower-is-better (1) or higher-is-better (0). */
LETHE_EXPORT size_t lethe_runfile_n_columns(const lethe_runfile *rf);
LETHE_EXPORT const char *const *lethe_runfile_column_names(const lethe_runfile *rf);
LETHE_EXPORT const char *const *lethe_runfile_column_plugins(const lethe_runfile *rf);
LETHE_EXPORT const char *const *lethe_runfile_column_metrics(const lethe_runfile *rf);
LETHE_EXPORT const int *lethe_runfile_column_lower(const lethe_runfile *rf);

/* Score matrices: "primary" (each task's primary metric) and one per metric name. */
LETHE_EXPORT size_t lethe_runfile_n_matrices(const lethe_runfile *rf);
LETHE_EXPORT const char *lethe_runfile_matrix_name(const lethe_runfile *rf, size_t i);
/* *out: rows x columns values, row-major; NaN where not evaluated. LETHE_ENOTFOUND for a name
 * the file has no matrix of. */
LETHE_EXPORT int lethe_runfile_matrix(lethe_runfile *rf, const char *name, double **out);

/* What one row's evaluation of one task (column) produced, per example. */
typedef struct lethe_runfile_eval {
	size_t n;               /* examples */
	double *nll;            /* summed target NLL per example (nats) */
	int32_t *n_tokens;      /* target tokens per example */
	double *score;          /* per-example primary score (NaN: undefined) */
	char **predictions;     /* per example; NULL when the file holds none */
	size_t n_metrics;       /* the task's metrics: */
	char **metric_names;    /* names */
	double *metric_values;  /* values */
	unsigned *metric_flags; /* LETHE_METRIC_LOWER, LETHE_METRIC_PRIMARY */
	/* The primary metric's sufficient statistics (lethe/plugin.h, primary_stats): n x n_stats
	 * values combined by aggregate (a lethe_aggregate); NULL when the file holds none. */
	double *stats;
	size_t n_stats;
	int aggregate;
} lethe_runfile_eval;

LETHE_EXPORT int lethe_runfile_read_eval(lethe_runfile *rf, size_t row, size_t column,
                                         lethe_runfile_eval *out);
/* Frees what lethe_runfile_read_eval() filled in and zeroes *ev. */
LETHE_EXPORT void lethe_runfile_eval_clear(lethe_runfile_eval *ev);

/* The stored forgetting measures: which is "primary" or "target_nll"; n_tasks is the number of
 * columns. Free with lethe_forgetting_free(). */
LETHE_EXPORT int lethe_runfile_forgetting(lethe_runfile *rf, const char *which,
                                          lethe_forgetting *out);
/* The stored intervals of the primary metric's cells, measures and per-task figures
 * (/intervals/primary, docs/forgetting.md), as a lethe_intervals of lethe/forgetting.h (free with
 * lethe_intervals_free()). LETHE_ENOTFOUND when the file has none (written before intervals, or
 * no plugin of it gives sufficient statistics). */
LETHE_EXPORT int lethe_runfile_intervals(lethe_runfile *rf, lethe_intervals *out);
/* The same paired bootstrap for the target NLL (mean NLL per token, /forgetting/target_nll),
 * computed on reading from the per-example NLL and token counts every evaluation stores (nothing
 * extra is stored): the resamples, level and seed of /intervals/primary (1000, 0.95, the run's
 * seed), so a column's resamples are the same examples as its primary metric's. Cells on the raw
 * NLL, measures and per-task figures as /forgetting/target_nll (lower is better). Free with
 * lethe_intervals_free(). */
LETHE_EXPORT int lethe_runfile_nll_intervals(lethe_runfile *rf, lethe_intervals *out);
/* Parameter drift per row and group: kind is "l2_previous", "relative_previous", "l2_initial"
 * or "relative_initial"; *out holds rows x LETHE_RUNFILE_DRIFT_GROUPS values, NaN for rows not
 * trained. */
LETHE_EXPORT int lethe_runfile_drift(lethe_runfile *rf, const char *kind, double **out);
/* Forgetting events per example of a column's task; LETHE_ENOTFOUND when none are stored (its
 * primary metric is lower-is-better). */
LETHE_EXPORT int lethe_runfile_events(lethe_runfile *rf, size_t column, int32_t **out, size_t *n);
/* Whether a row was trained (0 for the baseline), and its optimizer steps. */
LETHE_EXPORT int lethe_runfile_row_trained(const lethe_runfile *rf, size_t row);
LETHE_EXPORT size_t lethe_runfile_row_steps(const lethe_runfile *rf, size_t row);
/* A trained row's per-step curve: name is "loss", "lr", "grad_norm" or "penalty" (a regulariser's
 * value, docs/methods.md); *n is its steps. LETHE_ENOTFOUND for a row that was not trained, and
 * for "penalty" of a stage without a regulariser. */
LETHE_EXPORT int lethe_runfile_curve(lethe_runfile *rf, size_t row, const char *name, float **out,
                                     size_t *n);
/* The methods against forgetting a trained row used (docs/methods.md), as one line
 * ("reset_optimizer; ewc lambda=100 ..."; *out malloc'd, the caller frees it); LETHE_ENOTFOUND
 * (and *out NULL) when it used none. */
LETHE_EXPORT int lethe_runfile_row_methods(lethe_runfile *rf, size_t row, char **out);

/* Within-stage curves (evaluate: {every: N}, docs/run-file.md): a trained row's points for one
 * column (task), in step order: (*steps)[i] optimizer steps into the stage and (*values)[i] the
 * task's primary metric then (NaN: undefined), on the first lethe_runfile_eval_curve_examples()
 * evaluation examples; *n points. The stage's end is the row itself (its matrix cell), never a
 * point. LETHE_ENOTFOUND (NULL, NULL, 0) when the row has none. The caller frees both arrays. */
LETHE_EXPORT int lethe_runfile_eval_curve(lethe_runfile *rf, size_t row, size_t column, int **steps,
                                          double **values, size_t *n);
/* The number of evaluation examples the row's curve points of column were computed on;
 * LETHE_ENOTFOUND when the row has no points. */
LETHE_EXPORT int lethe_runfile_eval_curve_examples(lethe_runfile *rf, size_t row, size_t column,
                                                   size_t *examples);
/* A row's loss weighting (loss_weighting, docs/curriculum.md): LETHE_LOSS_WEIGHTING_TOKEN or
 * LETHE_LOSS_WEIGHTING_EXAMPLE; TOKEN for an untrained row and for files that say nothing. */
LETHE_EXPORT int lethe_runfile_row_loss_weighting(const lethe_runfile *rf, size_t row);
/* The precision of a row's training products (precision, docs/curriculum.md#precision):
 * LETHE_PRECISION_FP32 or LETHE_PRECISION_BF16; FP32 for an untrained row and for files that say
 * nothing. */
LETHE_EXPORT int lethe_runfile_row_precision(const lethe_runfile *rf, size_t row);

/* The model: its configuration, the tokenizer it was trained with, and a trained row's
 * parameters read into m (a model made with this configuration). */
LETHE_EXPORT const lethe_model_config *lethe_runfile_model_config(const lethe_runfile *rf);
LETHE_EXPORT int lethe_runfile_tokenizer(lethe_runfile *rf, lethe_tokenizer **out);
LETHE_EXPORT int lethe_runfile_params(lethe_runfile *rf, size_t row, lethe_model *m);
/* The row of the trained stage named stage (NULL: the last trained row) into *row;
 * LETHE_ENOTFOUND, with the reason in lethe_runfile_errmsg(), when there is none. */
LETHE_EXPORT int lethe_runfile_find_stage(lethe_runfile *rf, const char *stage, size_t *row);
/* A trained row's model into m (made from lethe_runfile_model_config(), with no adapter): its
 * parameters and, when its stage left a LoRA adapter unmerged, that adapter attached, so that m
 * computes what the row evaluated. With per-stage adapters, the earlier rows' adapters listed in
 * the row's adapter/frozen_rows are first frozen onto the base in order
 * (lethe_model_lora_freeze()), so m is base + every adapter up to the row. */
LETHE_EXPORT int lethe_runfile_row_model(lethe_runfile *rf, size_t row, lethe_model *m);
/* LoRA: a trained row's adapter (the stage's, as it was at the stage's end), its options into
 * *opt and whether it was merged into the row's parameters into *merged (either may be NULL);
 * with params, its block (malloc'd, *n floats, in the order of lethe_model_lora_tensor() of a
 * model given these options). LETHE_ENOTFOUND when the row has no adapter. */
LETHE_EXPORT int lethe_runfile_row_adapter(lethe_runfile *rf, size_t row, lethe_lora_options *opt,
                                           int *merged, float **params, size_t *n);
/* Whether a row's adapter is a per-stage one (adapter: {per_stage: true}, its stage's settings in
 * /curriculum/stages): 1 or 0; LETHE_ENOTFOUND when the row has no adapter. */
LETHE_EXPORT int lethe_runfile_row_adapter_per_stage(lethe_runfile *rf, size_t row);
/* What `lethe run --resume` continues from: the parameters, the AdamW moments and the step
 * count after the last row, into m. */
LETHE_EXPORT int lethe_runfile_resume_state(lethe_runfile *rf, lethe_model *m);

#ifdef __cplusplus
}
#endif

#endif
