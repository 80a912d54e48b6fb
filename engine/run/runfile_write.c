/*
 * runfile_write.c: writes the HDF5 run file (docs/run-file.md; the reader is runfile_read.c).
 * Every write builds a new file beside the old one (path.PID.tmp): the header from memory, the
 * stage groups already written copied from the old file with H5Ocopy, the new row from memory, the
 * score matrices and the resume state from memory; then fsync and rename() over the old file. A
 * kill at any moment leaves either the old or the new file, both valid. Object timestamps are
 * off, so the same run writes the same bytes for its tensors. HDF5's hid_t and herr_t are
 * wrapped once, here: the first failing call is recorded with the object it failed on
 * ("out.h5.tmp: H5Dcreate2 'stages/03_a/eval/b/nll' failed").
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include <lethe/forgetting.h>
#include <lethe/lethe.h>
#include <lethe/version.h>

#include "curriculum/errsink.h"
#include "methods.h"
#include "runfile.h"
#include "runfile_format.h"

void lethe_stage_record_clear(lethe_stage_record *r)
{
	for (size_t e = 0; e < r->n_evals; e++) {
		lethe_task_eval *ev = &r->evals[e];
		for (size_t i = 0; ev->predictions && i < ev->n; i++)
			free(ev->predictions[i]);
		for (size_t i = 0; i < ev->n_metrics; i++)
			free(ev->metric_names[i]);
		free(ev->predictions);
		free(ev->metric_names);
		free(ev->metric_values);
		free(ev->metric_flags);
		free(ev->nll);
		free(ev->n_tokens);
		free(ev->score);
		free(ev->stats);
	}
	free(r->evals);
	free(r->name);
	free(r->loss);
	free(r->lr);
	free(r->grad_norm);
	free(r->penalty);
	free(r->adapter);
	free(r->curve_steps);
	free(r->curve_examples);
	free(r->curve_values);
	memset(r, 0, sizeof(*r));
}

void lethe_runfile__hdf5_init(void)
{
	/* A file whose close failed (a full disk) stays half-open inside HDF5, and HDF5's own
	 * cleanup at exit then crashes on it. Every file is closed here, so the process needs no
	 * HDF5 cleanup at exit; this must come before HDF5's first call and is a no-op later. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported here, not printed by HDF5 */
}

/* ---- the HDF5 boundary: each helper returns 0 (or an id) or -1, recording the first failure */

typedef struct wr {
	const char *file; /* the file being written, for messages */
	char *err;
	size_t err_size;
	int failed;
} wr;

/* Records "file: CALL 'object' failed" for the first failure; returns -1. loc and name locate
 * the object (loc < 0: name alone). */
/* ": No space left on device" when errno says the disk refused a write (HDF5 leaves the system
 * call's errno behind), else "": only the errors a write can meet, never a stale unrelated one. */
static const char *disk_reason(int e, char *buf, size_t size)
{
	if (e != ENOSPC && e != EDQUOT && e != EFBIG && e != EIO && e != EROFS)
		return "";
	snprintf(buf, size, ": %s", strerror(e));
	return buf;
}

static int h5fail(wr *w, const char *call, hid_t loc, const char *name)
{
	int e = errno;
	char why[128];
	if (w->failed)
		return -1;
	w->failed = 1;
	char where[512] = "";
	if (loc >= 0 && H5Iget_name(loc, where, sizeof(where)) < 0)
		where[0] = '\0';
	const char *p = where[0] == '/' ? where + 1 : where;
	snprintf(w->err, w->err_size, "%s: %s '%s%s%s' failed%s", w->file, call, p,
	         p[0] && name && name[0] ? "/" : "", name ? name : "",
	         disk_reason(e, why, sizeof(why)));
	return -1;
}

static hid_t plist(wr *w, hid_t cls, hid_t loc, const char *name)
{
	hid_t p = H5Pcreate(cls);
	if (p < 0)
		return h5fail(w, "H5Pcreate", loc, name);
	if (H5Pset_obj_track_times(p, 0) < 0) {
		H5Pclose(p);
		return h5fail(w, "H5Pset_obj_track_times", loc, name);
	}
	return p;
}

static hid_t group(wr *w, hid_t loc, const char *name)
{
	hid_t p = plist(w, H5P_GROUP_CREATE, loc, name);
	if (p < 0)
		return -1;
	hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, p, H5P_DEFAULT);
	H5Pclose(p);
	return g < 0 ? h5fail(w, "H5Gcreate2", loc, name) : g;
}

static hid_t str_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

/* Creates loc/name with space sp (consumed) and writes data (NULL: nothing to write). */
static int write_space(wr *w, hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                       hid_t sp, const void *data)
{
	if (sp < 0)
		return h5fail(w, "H5Screate", loc, name);
	int rc = 0;
	hid_t p = plist(w, H5P_DATASET_CREATE, loc, name);
	hid_t ds = p < 0 ? -1 : H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, p, H5P_DEFAULT);
	if (ds < 0)
		rc = p < 0 ? -1 : h5fail(w, "H5Dcreate2", loc, name);
	else if (data && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
		rc = h5fail(w, "H5Dwrite", loc, name);
	if (ds >= 0)
		H5Dclose(ds);
	if (p >= 0)
		H5Pclose(p);
	H5Sclose(sp);
	return rc;
}

static int write_data(wr *w, hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                      const hsize_t *dims, const void *data)
{
	hsize_t total = 1;
	for (int i = 0; i < rank; i++)
		total *= dims[i];
	return write_space(w, loc, name, file_type, mem_type, H5Screate_simple(rank, dims, NULL),
	                   total > 0 ? data : NULL);
}

static int write_f32(wr *w, hid_t loc, const char *name, const float *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(w, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, v);
}

static int write_f64(wr *w, hid_t loc, const char *name, const double *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d, v);
}

static int write_i32(wr *w, hid_t loc, const char *name, const int32_t *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(w, loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d, v);
}

static int write_strings(wr *w, hid_t loc, const char *name, char *const *v, size_t n)
{
	hid_t t = str_type();
	if (t < 0)
		return h5fail(w, "H5Tcopy", loc, name);
	hsize_t d[1] = {n};
	/* NULL entries are written as empty strings. */
	const char **copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy) {
		H5Tclose(t);
		snprintf(w->err, w->err_size, "%s: out of memory", w->file);
		w->failed = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		copy[i] = v[i] ? v[i] : "";
	int rc = write_data(w, loc, name, t, t, 1, d, copy);
	free(copy);
	H5Tclose(t);
	return rc;
}

static int write_string(wr *w, hid_t loc, const char *name, const char *v)
{
	hid_t t = str_type();
	if (t < 0)
		return h5fail(w, "H5Tcopy", loc, name);
	int rc = write_space(w, loc, name, t, t, H5Screate(H5S_SCALAR), &v);
	H5Tclose(t);
	return rc;
}

/* An attribute of obj, replacing one of the same name; sp is consumed. */
static int attr_space(wr *w, hid_t obj, const char *name, hid_t file_type, hid_t mem_type, hid_t sp,
                      const void *v)
{
	if (sp < 0)
		return h5fail(w, "H5Screate", obj, name);
	int rc = 0;
	if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
		rc = h5fail(w, "H5Adelete", obj, name);
	hid_t a = rc ? -1 : H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (rc == 0 && a < 0)
		rc = h5fail(w, "H5Acreate2", obj, name);
	else if (a >= 0 && v && H5Awrite(a, mem_type, v) < 0)
		rc = h5fail(w, "H5Awrite", obj, name);
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	return rc;
}

static int attr(wr *w, hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v)
{
	return attr_space(w, obj, name, file_type, mem_type, H5Screate(H5S_SCALAR), v);
}

static int attr_str(wr *w, hid_t obj, const char *name, const char *v)
{
	hid_t t = str_type();
	int rc = attr(w, obj, name, t, t, &v);
	H5Tclose(t);
	return rc;
}

static int attr_i64(wr *w, hid_t obj, const char *name, int64_t v)
{
	return attr(w, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
static int attr_f64(wr *w, hid_t obj, const char *name, double v)
{
	return attr(w, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int attr_strings(wr *w, hid_t obj, const char *name, char *const *v, size_t n)
{
	hid_t t = str_type();
	hsize_t d[1] = {n};
	int rc = attr_space(w, obj, name, t, t, H5Screate_simple(1, d, NULL), n ? v : NULL);
	H5Tclose(t);
	return rc;
}

/* Opens loc/name, created just before, to attach attributes. */
static hid_t open_dataset(wr *w, hid_t loc, const char *name)
{
	hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
	return ds < 0 ? h5fail(w, "H5Dopen2", loc, name) : ds;
}

static int write_eval(wr *w, hid_t loc, const lethe_curriculum *c, const lethe_task_eval *ev)
{
	hid_t g = group(w, loc, lethe_curriculum_task(c, ev->task)->name);
	if (g < 0)
		return -1;
	int rc = write_f64(w, g, "nll", ev->nll, ev->n) |
	         write_i32(w, g, "n_tokens", ev->n_tokens, ev->n) |
	         write_f64(w, g, "score", ev->score, ev->n);
	if (ev->predictions)
		rc |= write_strings(w, g, "predictions", ev->predictions, ev->n);
	rc |= write_strings(w, g, "metric_names", ev->metric_names, ev->n_metrics);
	rc |= write_f64(w, g, "metric_values", ev->metric_values, ev->n_metrics);
	int32_t *flags = malloc((ev->n_metrics + 1) * sizeof(*flags));
	for (size_t i = 0; flags && i < ev->n_metrics; i++)
		flags[i] = (int32_t)ev->metric_flags[i];
	rc |= flags ? write_i32(w, g, "metric_flags", flags, ev->n_metrics) : -1;
	free(flags);
	rc |= attr_str(w, g, "plugin", lethe_curriculum_task(c, ev->task)->plugin);
	rc |= attr_i64(w, g, "examples", (int64_t)ev->n);
	if (ev->stats && ev->n) {
		/* Intervals (issue #12): what the bootstrap recomputes the primary metric from. */
		hsize_t d[2] = {ev->n, ev->n_stats};
		rc |=
		    write_data(w, g, "stats", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, ev->stats) |
		    attr_i64(w, g, "aggregate", ev->aggregate);
	}
	H5Gclose(g);
	return rc;
}

/* ---- methods against forgetting (docs/methods.md) ----------------------------------------- */

/* The stage's methods as its attribute "methods" (a summary line), only when it uses any. */
static int write_stage_methods(wr *w, hid_t g, const lethe_curriculum *c, size_t row)
{
	size_t s = row - (lethe_curriculum_baseline(c) ? 1 : 0);
	const lethe_cur_stage *st = lethe_curriculum_stage(c, s);
	char line[600];
	if (!st)
		return 0;
	lethe_methods__summary(&st->train, line, sizeof(line));
	return line[0] ? attr_str(w, g, "methods", line) : 0;
}

/* The methods' resume state in /resume: EWC's Fisher and the replay memory, when in use. */
static int write_resume_methods(wr *w, hid_t g, lethe_model *m, const lethe_stage_record *last)
{
	int rc = 0;
	if (last->resume_fisher)
		rc |= write_f32(w, g, "ewc_fisher", last->resume_fisher, lethe_model_num_params(m));
	if (last->resume_replay) {
		hsize_t d[1] = {last->n_resume_replay};
		rc |= write_data(w, g, "replay_memory", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, d,
		                 last->resume_replay);
	}
	return rc;
}

/* ---- LoRA: a row's adapter and the resume state's ---------------------------------------------
 * <row>/adapter (docs/run-file.md): attributes kind "lora", rank, alpha, dropout, targets (the
 * target names), merged (1: merged into this row's params at the stage's end); datasets params
 * (float32, the adapter's block), tensors (the names) and shapes (int32, [n, 2]). */

static const char *const adapter_targets[] = {"q", "k", "v", "o", "gate", "up", "down"};

/* The adapter's tensor names and shapes from its options and the model's configuration, in the
 * order of its block (lora.c): per layer, per target, A (r, in) then B (out, r). */
static size_t adapter_layout(const lethe_model_config *cfg, const lethe_lora_options *o,
                             char (*names)[48], int32_t *shapes)
{
	int C = cfg->dim, FF = cfg->ff, HQ = cfg->heads * cfg->head_dim,
	    KVC = cfg->kv_heads * cfg->head_dim;
	const int in[7] = {C, C, C, HQ, C, C, FF}, out[7] = {HQ, KVC, KVC, C, FF, FF, C};
	size_t n = 0;
	for (int l = 0; l < cfg->layers; l++)
		for (int t = 0; t < 7; t++) {
			if (!(o->targets & (1u << t)))
				continue;
			for (int ab = 0; ab < 2; ab++, n++) {
				if (names)
					snprintf(names[n], 48, "layers.%d.%s.lora_%c", l,
					         adapter_targets[t], ab ? 'B' : 'A');
				if (shapes) {
					shapes[2 * n] = ab ? out[t] : o->rank;
					shapes[2 * n + 1] = ab ? o->rank : in[t];
				}
			}
		}
	return n;
}

static int write_adapter_attrs(wr *w, hid_t g, const lethe_lora_options *o)
{
	char *names[7];
	size_t k = 0;
	for (int t = 0; t < 7; t++)
		if (o->targets & (1u << t))
			names[k++] = (char *)adapter_targets[t];
	return attr_str(w, g, "kind", "lora") | attr_i64(w, g, "rank", o->rank) |
	       attr_f64(w, g, "alpha", o->alpha) | attr_f64(w, g, "dropout", o->dropout) |
	       attr_strings(w, g, "targets", names, k);
}

/* Per-stage adapters: frozen_rows (int32), the rows whose adapters are frozen under the one
 * being written, in the order their deltas are added to the base; absent when there are none. */
static int write_frozen_rows(wr *w, hid_t g, const lethe_model *m)
{
	size_t n = lethe_model_lora_num_frozen(m);
	if (n == 0)
		return 0;
	int32_t *rows = malloc(n * sizeof(*rows));
	if (!rows)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t tag = -1;
		lethe_model_lora_frozen(m, i, NULL, &tag, NULL);
		rows[i] = (int32_t)tag;
	}
	int rc = write_i32(w, g, "frozen_rows", rows, n);
	free(rows);
	return rc;
}

static int write_adapter(wr *w, hid_t row, lethe_model *m, const lethe_stage_record *r)
{
	const lethe_model_config *cfg = lethe_model_config_of(m);
	size_t n = adapter_layout(cfg, &r->adapter_opt, NULL, NULL);
	char(*names)[48] = calloc(n + 1, sizeof(*names));
	char **ptrs = calloc(n + 1, sizeof(*ptrs));
	int32_t *shapes = calloc(2 * n + 2, sizeof(*shapes));
	hid_t g = names && ptrs && shapes ? group(w, row, "adapter") : -1;
	int rc = g < 0 ? -1 : 0;
	if (g >= 0) {
		adapter_layout(cfg, &r->adapter_opt, names, shapes);
		for (size_t i = 0; i < n; i++)
			ptrs[i] = names[i];
		hsize_t dims[2] = {n, 2};
		rc |= write_frozen_rows(w, g, m) | write_adapter_attrs(w, g, &r->adapter_opt) |
		      attr_i64(w, g, "merged", r->adapter_merged) |
		      write_f32(w, g, "params", r->adapter, r->n_adapter) |
		      write_strings(w, g, "tensors", ptrs, n) |
		      write_data(w, g, "shapes", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, shapes);
		H5Gclose(g);
	}
	free(names);
	free(ptrs);
	free(shapes);
	return rc;
}

/* resume/adapter: the attached adapter with its optimizer state, dropout state and seed. */
static int write_resume_adapter(wr *w, hid_t resume, lethe_model *m)
{
	const lethe_lora_options *o = lethe_model_lora(m);
	if (!o)
		return 0;
	hid_t g = group(w, resume, "adapter");
	if (g < 0)
		return -1;
	size_t n = lethe_model_lora_num_params(m);
	float *mo = lethe_model_lora_adam_m(m), *ve = lethe_model_lora_adam_v(m);
	int rc = (mo && ve) ? 0 : -1;
	rc |= write_frozen_rows(w, g, m) | write_adapter_attrs(w, g, o) |
	      attr_i64(w, g, "steps", (int64_t)lethe_model_lora_steps_taken(m)) |
	      attr_i64(w, g, "calls", (int64_t)lethe_model_lora_calls(m)) |
	      attr_i64(w, g, "seed", (int64_t)lethe_model_lora_seed(m)) |
	      write_f32(w, g, "params", lethe_model_lora_params(m), n);
	if (mo && ve)
		rc |= write_f32(w, g, "adam_m", mo, n) | write_f32(w, g, "adam_v", ve, n);
	H5Gclose(g);
	return rc;
}

/* ---- within-stage curves and loss weighting (docs/run-file.md) ----------------------------- */

/* A trained row's eval_curve group (evaluate: {every: N}): steps [P], primary [P x columns],
 * examples [columns]; its loss_weighting attribute when not the default token and its precision
 * attribute when not the default fp32. Nothing for a stage without them, so other rows are
 * unchanged byte for byte. */
static int write_row_curves(wr *w, hid_t g, const lethe_stage_record *r)
{
	int rc = 0;
	if (r->loss_weighting == LETHE_LOSS_WEIGHTING_EXAMPLE)
		rc |= attr_str(w, g, "loss_weighting", "example");
	if (r->precision == LETHE_PRECISION_BF16)
		rc |= attr_str(w, g, "precision", "bf16");
	if (!r->n_curve)
		return rc;
	hid_t cg = group(w, g, "eval_curve");
	if (cg < 0)
		return -1;
	hsize_t d[2] = {r->n_curve, r->n_curve_tasks};
	rc |=
	    write_i32(w, cg, "steps", r->curve_steps, r->n_curve) |
	    write_data(w, cg, "primary", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, r->curve_values) |
	    write_i32(w, cg, "examples", r->curve_examples, r->n_curve_tasks);
	H5Gclose(cg);
	return rc;
}

static int write_row(wr *w, hid_t stages, const lethe_curriculum *c, lethe_model *m,
                     const lethe_stage_record *r, size_t row)
{
	char name[300];
	rf_row_name(name, sizeof(name), row, r->name);
	hid_t g = group(w, stages, name);
	if (g < 0)
		return -1;
	int rc = attr_str(w, g, "name", r->name) | attr_i64(w, g, "row", (int64_t)row) |
	         attr_i64(w, g, "trained", r->trained) | attr_f64(w, g, "seconds", r->seconds) |
	         attr_i64(w, g, "steps", (int64_t)r->steps) |
	         attr_i64(w, g, "tokens", (int64_t)r->tokens);
	if (r->has_drift) {
		hid_t dg = group(w, g, "drift");
		rc |= dg < 0 ? -1 : 0;
		if (dg >= 0) {
			rc |=
			    write_strings(w, dg, "groups", rf_drift_groups,
			                  LETHE_RUNFILE_DRIFT_GROUPS) |
			    write_f64(w, dg, rf_drift_kinds[0], r->drift[0],
			              LETHE_GROUP_COUNT + 1) |
			    write_f64(w, dg, rf_drift_kinds[1], r->drift[1],
			              LETHE_GROUP_COUNT + 1) |
			    write_f64(w, dg, rf_drift_kinds[2], r->drift[2],
			              LETHE_GROUP_COUNT + 1) |
			    write_f64(w, dg, rf_drift_kinds[3], r->drift[3], LETHE_GROUP_COUNT + 1);
			H5Gclose(dg);
		}
	}
	if (r->adapter)
		rc |= write_adapter(w, g, m, r);
	if (r->trained) {
		/* With per-stage adapters, the base without the frozen adapters' deltas. */
		rc |=
		    write_f32(w, g, "params", lethe_model_lora_base(m), lethe_model_num_params(m));
		hid_t cg = group(w, g, "curves");
		rc |= cg < 0 ? -1 : 0;
		if (cg >= 0) {
			rc |= write_f32(w, cg, "loss", r->loss, r->steps) |
			      write_f32(w, cg, "lr", r->lr, r->steps) |
			      write_f32(w, cg, "grad_norm", r->grad_norm, r->steps);
			if (r->penalty) /* a regulariser's value per step (docs/methods.md) */
				rc |= write_f32(w, cg, "penalty", r->penalty, r->steps);
			H5Gclose(cg);
		}
		rc |= write_stage_methods(w, g, c, row);
		rc |= write_row_curves(w, g, r);
	}
	hid_t eg = group(w, g, "eval");
	rc |= eg < 0 ? -1 : 0;
	for (size_t e = 0; eg >= 0 && e < r->n_evals; e++)
		rc |= write_eval(w, eg, c, &r->evals[e]);
	if (eg >= 0)
		H5Gclose(eg);
	H5Gclose(g);
	return rc;
}

/* ---- methods against forgetting (docs/methods.md) ----------------------------------------- */

/* The stage's method settings as JSON members (", \"reset_optimizer\": 1, ..."), each only when
 * it is not the default, so that curricula without them keep their settings line byte for byte. */
static int method_settings(const lethe_train_settings *t, char *buf, size_t size)
{
	static const char *const kinds[] = {"none", "l2", "ewc", "lwf"};
	int k = 0;
	buf[0] = '\0';
	if (t->reset_optimizer)
		k += snprintf(buf + k, size - (size_t)k, ", \"reset_optimizer\": 1");
	if (t->freeze_layers[0] | t->freeze_layers[1] | t->freeze_layers[2] | t->freeze_layers[3])
		k += snprintf(buf + k, size - (size_t)k,
		              ", \"freeze_layers\": \"%016llx%016llx%016llx%016llx\"",
		              (unsigned long long)t->freeze_layers[3],
		              (unsigned long long)t->freeze_layers[2],
		              (unsigned long long)t->freeze_layers[1],
		              (unsigned long long)t->freeze_layers[0]);
	if (t->regularize.kind != LETHE_REG_NONE && k < (int)size)
		k += snprintf(buf + k, size - (size_t)k,
		              ", \"regularize\": {\"kind\": \"%s\", \"lambda\": %.9g, "
		              "\"fisher_examples\": %ld, \"online_gamma\": %.9g, "
		              "\"temperature\": %.9g}",
		              kinds[t->regularize.kind], t->regularize.lambda,
		              t->regularize.fisher_examples, t->regularize.online_gamma,
		              t->regularize.temperature);
	if (t->replay.per_task > 0 && k < (int)size)
		k += snprintf(buf + k, size - (size_t)k,
		              ", \"replay\": {\"per_task\": %ld, \"ratio\": %.9g, "
		              "\"policy\": \"reservoir\"}",
		              t->replay.per_task, t->replay.ratio);
	return k;
}

char *lethe_runfile__stage_settings(const lethe_curriculum *c, size_t stage)
{
	const lethe_cur_stage *s = lethe_curriculum_stage(c, stage);
	char buf[2048];
	int k = snprintf(buf, sizeof(buf),
	                 "{\"stage\": \"%s\", \"lr\": %.9g, \"weight_decay\": "
	                 "%.9g, \"beta1\": %.9g, \"beta2\": %.9g, "
	                 "\"eps\": %.9g, \"schedule\": %d, \"warmup\": %ld, "
	                 "\"batch\": %ld, \"grad_accum\": %ld, "
	                 "\"epochs\": %.9g, \"steps\": %ld, \"clip\": %.9g, "
	                 "\"freeze\": %u",
	                 s->name, s->train.lr, s->train.weight_decay, s->train.beta1,
	                 s->train.beta2, s->train.eps, (int)s->train.schedule, s->train.warmup,
	                 s->train.batch, s->train.grad_accum, s->train.epochs, s->train.steps,
	                 s->train.clip, s->train.freeze);
	char methods[600];
	method_settings(&s->train, methods, sizeof(methods));
	k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%s, \"tasks\": {", methods);
	for (size_t t = 0; t < s->n_tasks && k < (int)sizeof(buf); t++)
		k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%s\"%s\": %.9g", t ? ", " : "",
		              lethe_curriculum_task(c, s->tasks[t])->name, s->weights[t]);
	if (k < (int)sizeof(buf))
		k += snprintf(buf + k, sizeof(buf) - (size_t)k, "}");
	/* LoRA: only when the stage has an adapter, so that other stages' lines are unchanged. */
	if (s->train.adapter_rank && k < (int)sizeof(buf))
		k += snprintf(buf + k, sizeof(buf) - (size_t)k,
		              ", \"adapter\": {\"kind\": \"lora\", \"rank\": %d, \"alpha\": %.9g, "
		              "\"dropout\": %.9g, \"targets\": %u, \"merge\": %d}",
		              s->train.adapter_rank, s->train.adapter_alpha,
		              s->train.adapter_dropout, s->train.adapter_targets,
		              s->train.adapter_merge);
	/* Per-stage adapters and O-LoRA: only when asked for, so other adapter lines are unchanged.
	 */
	if (s->train.adapter_rank && s->train.adapter_per_stage && k >= 1 && k < (int)sizeof(buf))
		k += snprintf(buf + k - 1, sizeof(buf) - (size_t)k + 1,
		              ", \"per_stage\": 1, \"orthogonal\": %.9g}",
		              s->train.adapter_orthogonal) -
		     1;
	/* Within-stage curves and loss weighting: only when set, likewise. */
	if (s->train.eval_every && k < (int)sizeof(buf))
		k += snprintf(buf + k, sizeof(buf) - (size_t)k,
		              ", \"evaluate\": {\"every\": %ld, \"curve_limit\": %ld}",
		              s->train.eval_every, s->train.curve_limit);
	if (s->train.loss_weighting == LETHE_LOSS_WEIGHTING_EXAMPLE && k < (int)sizeof(buf))
		k +=
		    snprintf(buf + k, sizeof(buf) - (size_t)k, ", \"loss_weighting\": \"example\"");
	/* precision: only when bf16, likewise. */
	if (s->train.precision == LETHE_PRECISION_BF16 && k < (int)sizeof(buf))
		k += snprintf(buf + k, sizeof(buf) - (size_t)k, ", \"precision\": \"bf16\"");
	if (k < (int)sizeof(buf))
		snprintf(buf + k, sizeof(buf) - (size_t)k, "}");
	return strdup(buf);
}

static int write_header(wr *w, hid_t f, const lethe_curriculum *c, const lethe_tokenizer *tok,
                        lethe_model *m, int threads)
{
	int rc = attr_str(w, f, "format", RF_FORMAT) |
	         attr_i64(w, f, "format_version", RF_VERSION) |
	         attr_str(w, f, "lethe_version", LETHE_VERSION_STRING) |
	         attr_str(w, f, "name", lethe_curriculum_name(c)) |
	         attr_i64(w, f, "seed", (int64_t)lethe_curriculum_seed(c)) |
	         (lethe_curriculum_data_seed(c) != lethe_curriculum_seed(c)
	              ? attr_i64(w, f, "data_seed", (int64_t)lethe_curriculum_data_seed(c))
	              : 0) |
	         attr_i64(w, f, "threads", threads);
	hid_t g = group(w, f, "curriculum");
	rc |= g < 0 ? -1
	            : write_string(w, g, "text", lethe_curriculum_text(c)) |
	                  write_string(w, g, "path", lethe_curriculum_path(c));
	if (g >= 0) {
		/* The resolved configuration: what every stage actually trains with. */
		char **lines = calloc(lethe_curriculum_stage_count(c) + 1, sizeof(*lines));
		for (size_t i = 0; lines && i < lethe_curriculum_stage_count(c); i++)
			lines[i] = lethe_runfile__stage_settings(c, i);
		rc |= lines ? write_strings(w, g, "stages", lines, lethe_curriculum_stage_count(c))
		            : -1;
		for (size_t i = 0; lines && i < lethe_curriculum_stage_count(c); i++)
			free(lines[i]);
		free(lines);
		H5Gclose(g);
	}
	g = group(w, f, "tokenizer");
	if (g < 0)
		return -1;
	size_t nm = lethe_tokenizer_n_merges(tok);
	hsize_t d[2] = {nm, 2};
	static const int32_t no_merges[2] = {0, 0}; /* a pretrained tokenizer's empty merges */
	rc |= write_data(w, g, "merges", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d,
	                 nm ? lethe_tokenizer_merges(tok) : no_merges);
	rc |= attr_i64(w, g, "vocab_size", (int64_t)lethe_tokenizer_vocab_size(tok));
	const char *from = lethe_curriculum_model_from(c);
	const char *from_stage = lethe_curriculum_model_from_stage(c);
	if (lethe_tokenizer_source(tok)) {
		/* A pretrained model's tokenizer is its checkpoint's: named, not copied. (A run
		 * that starts from another run's model has that run's tokenizer: its merges,
		 * or the checkpoint it named.) */
		rc |= attr_str(w, g, "kind", lethe_tokenizer_kind(tok));
		rc |= attr_str(w, g, "source", lethe_tokenizer_source(tok));
	} else
		rc |=
		    attr_str(w, g, "kind",
		             "byte-level BPE; ids 0-255 bytes, 256 BOS, 257 EOS, 258 PAD, 259 SEP");
	H5Gclose(g);
	g = group(w, f, "model");
	if (g < 0)
		return -1;
	const lethe_model_config *mc = lethe_model_config_of(m);
	rc |= attr_i64(w, g, "vocab", mc->vocab) | attr_i64(w, g, "context", mc->context) |
	      attr_i64(w, g, "dim", mc->dim) | attr_i64(w, g, "layers", mc->layers) |
	      attr_i64(w, g, "heads", mc->heads) | attr_i64(w, g, "ff", mc->ff) |
	      attr_i64(w, g, "tied", mc->tied) | attr_f64(w, g, "norm_eps", mc->norm_eps) |
	      attr_f64(w, g, "rope_theta", mc->rope_theta) |
	      attr_i64(w, g, "params", (int64_t)lethe_model_num_params(m));
	if (from) /* pretrained shapes; lethe's own follow from heads */
		rc |= attr_str(w, g, "from", from) |
		      (from_stage ? attr_str(w, g, "from_stage", from_stage) : 0) |
		      attr_i64(w, g, "kv_heads", mc->kv_heads) |
		      attr_i64(w, g, "head_dim", mc->head_dim) |
		      attr_i64(w, g, "rope_llama3", mc->rope_llama3) |
		      attr_f64(w, g, "rope_factor", mc->rope_factor) |
		      attr_f64(w, g, "rope_low_freq_factor", mc->rope_low_freq_factor) |
		      attr_f64(w, g, "rope_high_freq_factor", mc->rope_high_freq_factor) |
		      attr_i64(w, g, "rope_original_context", mc->rope_original_context);
	size_t nt = lethe_model_num_tensors(m);
	char **names = calloc(nt, sizeof(*names));
	int32_t *info = malloc(nt * 5 * sizeof(*info));
	if (!names || !info) {
		free(names);
		free(info);
		H5Gclose(g);
		return -1;
	}
	for (size_t i = 0; i < nt; i++) {
		const lethe_tensor_info *t = lethe_model_tensor(m, i);
		names[i] = (char *)t->name;
		info[5 * i] = (int32_t)t->offset;
		info[5 * i + 1] = t->rows;
		info[5 * i + 2] = t->cols;
		info[5 * i + 3] = (int32_t)t->group;
		info[5 * i + 4] = t->layer;
	}
	rc |= write_strings(w, g, "tensor_names", names, nt);
	hsize_t td[2] = {nt, 5};
	rc |= write_data(w, g, "tensors", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, td, info);
	rc |= attr_str(
	    w, g, "tensors_columns",
	    "offset, rows, cols, group (0 embeddings, 1 attention, 2 mlp, 3 norms), layer");
	free(names);
	free(info);
	H5Gclose(g);
	return rc;
}

/* The score matrices: one 2-D dataset per metric, rows = records, columns = evaluated tasks. */
/* /samples/<task>/{train,eval}: the examples a run kept under train_limit and eval_limit
 * (run/sample.c), as indices into the data file's examples, with how they were chosen. */
static int write_samples(wr *w, hid_t f, const lethe_curriculum *c)
{
	static const char *const split_names[LETHE_SPLIT_COUNT] = {"train", "eval"};
	hid_t g = -1;
	int rc = 0;
	for (size_t t = 0; t < lethe_curriculum_task_count(c) && rc == 0; t++) {
		hid_t tg = -1;
		for (int s = 0; s < LETHE_SPLIT_COUNT && rc == 0; s++) {
			const char *kind;
			size_t n;
			const size_t *idx =
			    lethe_curriculum__sample(c, t, (lethe_split)s, &kind, &n);
			if (!idx)
				continue;
			if (g < 0 && (g = group(w, f, "samples")) < 0)
				return -1;
			if (tg < 0 && (tg = group(w, g, lethe_curriculum_task(c, t)->name)) < 0) {
				rc = -1;
				break;
			}
			int64_t *v = malloc((n ? n : 1) * sizeof(*v));
			if (!v) {
				rc = -1;
				break;
			}
			for (size_t i = 0; i < n; i++)
				v[i] = (int64_t)idx[i];
			hsize_t d[1] = {n};
			rc |= write_data(w, tg, split_names[s], H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
			                 d, v);
			free(v);
			hid_t ds = rc ? -1 : open_dataset(w, tg, split_names[s]);
			if (ds >= 0) {
				rc |= attr_str(w, ds, "kind", kind);
				H5Dclose(ds);
			} else
				rc = -1;
		}
		if (tg >= 0)
			H5Gclose(tg);
	}
	if (g >= 0)
		H5Gclose(g);
	return rc;
}

static int write_matrices(wr *w, hid_t f, const lethe_curriculum *c, const lethe_stage_record *rec,
                          size_t n_rec)
{
	hid_t g = group(w, f, "matrices");
	if (g < 0)
		return -1;
	size_t cols = lethe_curriculum_eval_count(c);
	char **row_names = calloc(n_rec + 1, sizeof(*row_names)),
	     **col_names = calloc(cols + 1, sizeof(*col_names));
	double *cell = malloc((n_rec * cols + 1) * sizeof(*cell));
	int rc = row_names && col_names && cell ? 0 : -1;
	for (size_t r = 0; rc == 0 && r < n_rec; r++)
		row_names[r] = rec[r].name;
	for (size_t k = 0; rc == 0 && k < cols; k++)
		col_names[k] = lethe_curriculum_task(c, lethe_curriculum_eval_task(c, k))->name;
	if (rc == 0)
		rc |= write_strings(w, g, "rows", row_names, n_rec) |
		      write_strings(w, g, "columns", col_names, cols);
	/* Every metric name any evaluation reported, in first-seen order; plus "primary". */
	char **names = NULL;
	size_t n_names = 0;
	for (size_t r = 0; rc == 0 && r < n_rec; r++)
		for (size_t e = 0; e < rec[r].n_evals; e++)
			for (size_t i = 0; i < rec[r].evals[e].n_metrics; i++) {
				const char *nm = rec[r].evals[e].metric_names[i];
				size_t k;
				for (k = 0; k < n_names && strcmp(names[k], nm) != 0; k++)
					;
				if (k == n_names) {
					char **p = realloc(names, (n_names + 1) * sizeof(*p));
					if (!p) {
						rc = -1;
						break;
					}
					names = p;
					names[n_names++] = (char *)nm;
				}
			}
	for (size_t k = 0; rc == 0 && k <= n_names; k++) {
		const char *metric =
		    k < n_names ? names[k] : NULL; /* NULL: the primary metric of each task */
		char **primary_names = metric ? NULL : calloc(cols + 1, sizeof(*primary_names));
		unsigned direction = 0;
		for (size_t i = 0; i < n_rec * cols; i++)
			cell[i] = NAN; /* not evaluated: missing, never 0 */
		for (size_t r = 0; r < n_rec; r++)
			for (size_t e = 0; e < rec[r].n_evals; e++) {
				const lethe_task_eval *ev = &rec[r].evals[e];
				size_t col;
				for (col = 0;
				     col < cols && lethe_curriculum_eval_task(c, col) != ev->task;
				     col++)
					;
				if (col == cols)
					continue;
				for (size_t i = 0; i < ev->n_metrics; i++) {
					int hit =
					    metric
					        ? strcmp(ev->metric_names[i], metric) == 0
					        : (ev->metric_flags[i] & LETHE_METRIC_PRIMARY) != 0;
					if (!hit)
						continue;
					cell[r * cols + col] = ev->metric_values[i];
					direction = ev->metric_flags[i] & LETHE_METRIC_LOWER;
					if (primary_names)
						primary_names[col] = ev->metric_names[i];
				}
			}
		char path[300];
		rf_matrix_dataset(path, sizeof(path), metric ? metric : "primary");
		const char *dsname = path + sizeof("matrices/") - 1;
		hsize_t d[2] = {n_rec, cols};
		rc |= write_data(w, g, dsname, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, cell);
		hid_t ds = rc ? -1 : open_dataset(w, g, dsname);
		if (ds >= 0) {
			rc |= attr_strings(w, ds, "rows", row_names, n_rec) |
			      attr_strings(w, ds, "columns", col_names, cols);
			if (metric)
				rc |= attr_str(w, ds, "metric", metric) |
				      attr_str(w, ds, "better", direction ? "lower" : "higher");
			else if (primary_names) {
				for (size_t i = 0; i < cols; i++)
					if (!primary_names[i])
						primary_names[i] = "";
				rc |= attr_strings(w, ds, "metrics", primary_names, cols);
			}
			H5Dclose(ds);
		}
		free(primary_names);
	}
	free(names);
	free(row_names);
	free(col_names);
	free(cell);
	H5Gclose(g);
	return rc;
}

/* The row right after the stage that trained a task: the first stage naming it, where it was
 * learnt; later stages that name it again (replay, mixes) count as keeping it, so their effect
 * shows as less forgetting. */
static int trained_row(const lethe_curriculum *c, size_t task, size_t n_rec)
{
	for (size_t s = 0; s < lethe_curriculum_stage_count(c); s++)
		for (size_t k = 0; k < lethe_curriculum_stage(c, s)->n_tasks; k++)
			if (lethe_curriculum_stage(c, s)->tasks[k] == task) {
				int row = (int)s + (lethe_curriculum_baseline(c) ? 1 : 0);
				return (size_t)row < n_rec ? row : -1;
			}
	return -1;
}

/* Intervals (issue #12): the number of bootstrap resamples and the level. */
#define RF_RESAMPLES 1000
#define RF_LEVEL 0.95

/* /intervals/primary: the paired bootstrap (intervals.c) of every cell of the primary matrix
 * and of every measure and per-task figure of /forgetting/primary, each [low, high]. Written
 * only when some task has sufficient statistics. */
static int write_intervals(wr *w, hid_t f, const lethe_curriculum *c, const lethe_stage_record *rec,
                           size_t n_rec, const int *trained, const int *lower, const double *scale)
{
	size_t cols = lethe_curriculum_eval_count(c);
	lethe_interval_input *in = calloc(n_rec * cols + 1, sizeof(*in));
	if (!in)
		return -1;
	int any = 0;
	for (size_t r = 0; r < n_rec; r++)
		for (size_t e = 0; e < rec[r].n_evals; e++) {
			const lethe_task_eval *ev = &rec[r].evals[e];
			size_t col;
			for (col = 0; col < cols && lethe_curriculum_eval_task(c, col) != ev->task;
			     col++)
				;
			if (col == cols || !ev->stats)
				continue;
			in[r * cols + col] =
			    (lethe_interval_input){ev->n, ev->n_stats, ev->aggregate, ev->stats};
			any = 1;
		}
	lethe_intervals iv;
	uint64_t seed = lethe_curriculum_seed(c);
	if (!any || lethe_intervals_compute(&iv, in, n_rec, cols, lethe_curriculum_baseline(c),
	                                    trained, lower, scale, RF_RESAMPLES, RF_LEVEL, seed)) {
		free(in);
		return any ? -1 : 0;
	}
	free(in);
	hid_t top = group(w, f, "intervals");
	hid_t g = top >= 0 ? group(w, top, "primary") : -1;
	int rc = g < 0 ? -1 : 0;
	if (g >= 0) {
		hsize_t d3[3] = {n_rec, cols, 2}, d1[1] = {2}, d2[2] = {cols, 2};
		static const char *const mnames[4] = {"acc", "bwt", "fwt", "chaudhry"};
		rc |= write_data(w, g, "cells", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, d3, iv.cells);
		for (int i = 0; i < 4; i++)
			rc |= write_data(w, g, mnames[i], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1,
			                 iv.measures[i]);
		for (size_t k = 0; k < LETHE_INTERVAL_TASK_FIGURES; k++)
			rc |= write_data(w, g, lethe_interval_task_figure(k), H5T_IEEE_F64LE,
			                 H5T_NATIVE_DOUBLE, 2, d2, iv.per_task + k * cols * 2);
		rc |= attr_i64(w, g, "resamples", RF_RESAMPLES) |
		      attr_f64(w, g, "level", RF_LEVEL) | attr_i64(w, g, "seed", (int64_t)seed);
		H5Gclose(g);
	}
	if (top >= 0)
		H5Gclose(top);
	lethe_intervals_free(&iv);
	return rc;
}

/* /forgetting/<name>: the measures of forgetting.h for the primary metric and the target NLL. */
static int write_forgetting(wr *w, hid_t f, const lethe_curriculum *c,
                            const lethe_stage_record *rec, size_t n_rec)
{
	size_t cols = lethe_curriculum_eval_count(c);
	hid_t g = group(w, f, "forgetting");
	if (g < 0)
		return -1;
	double *R = malloc((n_rec * cols + 1) * sizeof(double));
	int *trained = malloc((cols + 1) * sizeof(int)), *lower = malloc((cols + 1) * sizeof(int));
	char **names = calloc(cols + 1, sizeof(char *));
	double *scale = malloc((cols + 1) * sizeof(double));
	int rc = R && trained && lower && names && scale ? 0 : -1;
	for (size_t k = 0; rc == 0 && k < cols; k++) {
		names[k] = lethe_curriculum_task(c, lethe_curriculum_eval_task(c, k))->name;
		trained[k] = trained_row(c, lethe_curriculum_eval_task(c, k), n_rec);
	}
	for (int which = 0; rc == 0 && which < 2; which++) {
		for (size_t i = 0; i < n_rec * cols; i++)
			R[i] = NAN;
		for (size_t k = 0; k < cols; k++) {
			lower[k] = 0;
			scale[k] = 1.0;
		}
		for (size_t r = 0; r < n_rec; r++)
			for (size_t e = 0; e < rec[r].n_evals; e++) {
				const lethe_task_eval *ev = &rec[r].evals[e];
				size_t col;
				for (col = 0;
				     col < cols && lethe_curriculum_eval_task(c, col) != ev->task;
				     col++)
					;
				for (size_t i = 0; col < cols && i < ev->n_metrics; i++)
					if (which == 0
					        ? (ev->metric_flags[i] & LETHE_METRIC_PRIMARY) != 0
					        : strcmp(ev->metric_names[i], "target_nll") == 0) {
						R[r * cols + col] = ev->metric_values[i];
						lower[col] =
						    (ev->metric_flags[i] & LETHE_METRIC_LOWER) != 0;
						/* One scale: a 0-100 metric enters every measure
						 * divided by 100. */
						if (ev->metric_flags[i] & LETHE_METRIC_PERCENT)
							scale[col] = 100.0;
					}
			}
		lethe_forgetting fm;
		if (lethe_forgetting_compute_scaled(
		        &fm, R, n_rec, cols, lethe_curriculum_baseline(c), trained, lower, scale)) {
			rc = -1;
			break;
		}
		hid_t m = group(w, g, rf_measures[which]);
		rc |= m < 0 ? -1 : 0;
		if (m >= 0) {
			int32_t *tr = malloc((cols + 1) * sizeof(int32_t));
			for (size_t k = 0; tr && k < cols; k++)
				tr[k] = trained[k];
			rc |= attr_f64(w, m, "acc", fm.acc) | attr_f64(w, m, "bwt", fm.bwt) |
			      attr_f64(w, m, "fwt", fm.fwt) |
			      attr_f64(w, m, "chaudhry", fm.chaudhry) |
			      write_strings(w, m, "tasks", names, cols) |
			      write_f64(w, m, "learning", fm.learning, cols) |
			      write_f64(w, m, "forgetting", fm.forgetting, cols) |
			      write_f64(w, m, "max_drop", fm.max_drop, cols) |
			      write_f64(w, m, "transfer", fm.transfer, cols) |
			      (tr ? write_i32(w, m, "trained_row", tr, cols) : -1);
			/* One scale (issue #12): what each task was divided by, and the per-task
			 * figures on that scale. */
			rc |= write_f64(w, m, "scale", fm.scale, cols) |
			      write_f64(w, m, "final", fm.final, cols) |
			      write_f64(w, m, "relative_forgetting", fm.relative, cols) |
			      write_f64(w, m, "normalised", fm.normalised, cols) |
			      write_f64(w, m, "forward_transfer", fm.forward, cols) |
			      write_f64(w, m, "gain", fm.gain, cols);
			if (which == 0)
				rc |= write_intervals(w, f, c, rec, n_rec, trained, lower, scale);
			free(tr);
			H5Gclose(m);
		}
		lethe_forgetting_free(&fm);
	}
	/* Parameter drift per row and group (NaN for the baseline). */
	hid_t dg = rc == 0 ? group(w, g, "drift") : -1;
	if (dg >= 0) {
		size_t G = LETHE_GROUP_COUNT + 1;
		double *D = malloc((n_rec * G + 1) * sizeof(double));
		char **rn = calloc(n_rec + 1, sizeof(char *));
		rc |= D && rn ? 0 : -1;
		for (size_t r = 0; rn && r < n_rec; r++)
			rn[r] = rec[r].name;
		for (int k = 0; D && k < 4; k++) {
			for (size_t r = 0; r < n_rec; r++)
				for (size_t i = 0; i < G; i++)
					D[r * G + i] = rec[r].has_drift ? rec[r].drift[k][i] : NAN;
			hsize_t d[2] = {n_rec, G};
			rc |= write_data(w, dg, rf_drift_kinds[k], H5T_IEEE_F64LE,
			                 H5T_NATIVE_DOUBLE, 2, d, D);
		}
		if (rn)
			rc |= write_strings(w, dg, "rows", rn, n_rec) |
			      write_strings(w, dg, "groups", rf_drift_groups, G);
		free(D);
		free(rn);
		H5Gclose(dg);
	}
	/* Forgetting events (Toneva et al. 2019): an example right after one row and wrong after
	 * the next, counted from the row that trained the task; right means a per-example primary
	 * score of at least 0.5 on 0-1 (a metric flagged LETHE_METRIC_PERCENT divided by 100). Only
	 * for higher-is-better primary metrics. */
	hid_t evg = rc == 0 ? group(w, g, "events") : -1;
	for (size_t k = 0; evg >= 0 && k < cols; k++) {
		size_t task = lethe_curriculum_eval_task(c, k), n = 0;
		int lower_is_better = 0, scale100 = 0, have = 0;
		for (size_t r = 0; r < n_rec; r++)
			for (size_t e = 0; e < rec[r].n_evals; e++)
				if (rec[r].evals[e].task == task) {
					const lethe_task_eval *ev = &rec[r].evals[e];
					n = ev->n > n ? ev->n : n;
					for (size_t i = 0; i < ev->n_metrics; i++)
						if (ev->metric_flags[i] & LETHE_METRIC_PRIMARY) {
							lower_is_better = (ev->metric_flags[i] &
							                   LETHE_METRIC_LOWER) != 0;
							scale100 = (ev->metric_flags[i] &
							            LETHE_METRIC_PERCENT) != 0;
						}
					have = 1;
				}
		if (!have || lower_is_better || n == 0)
			continue;
		int32_t *count = calloc(n, sizeof(int32_t));
		const double *prev = NULL;
		size_t prev_n = 0;
		int64_t total = 0, examples = 0;
		/* Honest cells (issue #12): only from the row right after the stage that trained
		 * the task; a task no stage trained has no events. */
		for (size_t r = trained[k] >= 0 ? (size_t)trained[k] : n_rec; count && r < n_rec;
		     r++) {
			const double *cur = NULL;
			size_t cur_n = 0;
			for (size_t e = 0; e < rec[r].n_evals; e++)
				if (rec[r].evals[e].task == task && rec[r].evals[e].score) {
					cur = rec[r].evals[e].score;
					cur_n = rec[r].evals[e].n;
				}
			for (size_t i = 0; prev && cur && i < n && i < prev_n && i < cur_n; i++) {
				double a = prev[i] / (scale100 ? 100.0 : 1.0),
				       b = cur[i] / (scale100 ? 100.0 : 1.0);
				if (!isnan(a) && !isnan(b) && a >= 0.5 && b < 0.5) {
					count[i]++;
					total++;
				}
			}
			if (cur) {
				prev = cur;
				prev_n = cur_n;
			}
		}
		for (size_t i = 0; count && i < n; i++)
			examples += count[i] > 0;
		if (count) {
			rc |= write_i32(w, evg, lethe_curriculum_task(c, task)->name, count, n);
			hid_t ds =
			    rc ? -1 : open_dataset(w, evg, lethe_curriculum_task(c, task)->name);
			if (ds >= 0) {
				rc |= attr_i64(w, ds, "events", total) |
				      attr_i64(w, ds, "examples_forgotten", examples) |
				      attr_f64(w, ds, "threshold", scale100 ? 50.0 : 0.5);
				H5Dclose(ds);
			}
		}
		free(count);
	}
	if (evg >= 0)
		H5Gclose(evg);
	free(R);
	free(trained);
	free(lower);
	free(names);
	free(scale);
	H5Gclose(g);
	return rc;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int lethe_runfile__write(const char *path, const lethe_curriculum *c, const lethe_tokenizer *tok,
                         lethe_model *m, const lethe_stage_record *records, size_t n_records,
                         int threads, char *err, size_t err_size)
{
	char tmp[4096];
	/* Unique per process: two writers never share a temporary file (the run lock keeps two
	 * runs off one output; this keeps any other writer's leftovers from mixing in). */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, err_size, "%s: path too long", path);
		return LETHE_EINVAL;
	}
	err[0] = '\0';
	lethe_runfile__hdf5_init();
	wr ctx = {tmp, err, err_size, 0}, *w = &ctx;
	hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0) {
		snprintf(err, err_size, "%s: cannot create the run file: %s", tmp, strerror(errno));
		return LETHE_EIO;
	}
	int rc = write_header(w, f, c, tok, m, threads);
	rc |= write_samples(w, f, c);
	hid_t stages = group(w, f, "stages");
	rc |= stages < 0 ? -1 : 0;
	/* Rows already written are copied from the previous file. */
	if (n_records > 1 && stages >= 0) {
		hid_t old = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		if (old < 0) {
			snprintf(err, err_size,
			         "%s: H5Fopen failed: cannot reopen the run file to "
			         "extend it",
			         path);
			w->failed = 1;
			rc = -1;
		}
		for (size_t r = 0; old >= 0 && r + 1 < n_records && rc == 0; r++) {
			char name[300], src[400];
			rf_row_name(name, sizeof(name), r, records[r].name);
			rf_row_group(src, sizeof(src), r, records[r].name);
			if (H5Ocopy(old, src, stages, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
				char why[128];
				snprintf(err, err_size, "%s: H5Ocopy '%s' from %s failed%s", tmp,
				         src, path, disk_reason(errno, why, sizeof(why)));
				w->failed = 1;
				rc = -1;
			}
		}
		if (old >= 0)
			H5Fclose(old);
	}
	if (rc == 0 && stages >= 0)
		rc |= write_row(w, stages, c, m, &records[n_records - 1], n_records - 1);
	if (stages >= 0)
		H5Gclose(stages);
	if (rc == 0)
		rc |= write_matrices(w, f, c, records, n_records) |
		      write_forgetting(w, f, c, records, n_records);
	/* What --resume needs to continue bit for bit: the optimizer state after the last row. */
	if (rc == 0) {
		hid_t g = group(w, f, "resume");
		rc |= g < 0 ? -1 : 0;
		if (g >= 0) {
			/* The moments exist once a step has been taken; never allocate them here.
			 */
			int moments = lethe_model_steps_taken(m) > 0 && lethe_model_has_moments(m);
			float *mo = moments ? lethe_model_adam_m(m) : NULL;
			float *ve = moments ? lethe_model_adam_v(m) : NULL;
			rc |=
			    attr_i64(w, g, "optimizer_steps", (int64_t)lethe_model_steps_taken(m));
			rc |= attr_i64(w, g, "rows", (int64_t)n_records);
			if (mo && ve)
				rc |= write_f32(w, g, "adam_m", mo, lethe_model_num_params(m)) |
				      write_f32(w, g, "adam_v", ve, lethe_model_num_params(m));
			rc |= write_f32(w, g, "params", lethe_model_lora_base(m),
			                lethe_model_num_params(m));
			rc |= write_resume_methods(w, g, m, &records[n_records - 1]);
			rc |= write_resume_adapter(w, g, m);
			H5Gclose(g);
		}
	}
	char **names = calloc(n_records + 1, sizeof(*names));
	for (size_t r = 0; names && r < n_records; r++)
		names[r] = records[r].name;
	rc |= names ? attr_strings(w, f, "rows", names, n_records) : -1;
	free(names);
	if (H5Fclose(f) < 0)
		rc = h5fail(w, "H5Fclose", -1, "/");
	if (rc) {
		if (!w->failed)
			snprintf(err, err_size, "%s: out of memory while writing the run file",
			         tmp);
		unlink(tmp);
		return LETHE_EIO;
	}
	if (fsync_path(tmp) || rename(tmp, path)) {
		snprintf(err, err_size, "%s: cannot replace the run file: %s", path,
		         strerror(errno));
		unlink(tmp);
		return LETHE_EIO;
	}
	/* The rename itself must reach the disk. */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	fsync_path(slash ? dir : ".");
	return 0;
}
