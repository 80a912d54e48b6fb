/*
 * runfile.c: writes and reads the HDF5 run file (docs/run-file.md). Every write builds a new
 * file beside the old one (path.tmp): the header from memory, the stage groups already written
 * copied from the old file with H5Ocopy, the new row from memory, the score matrices and the
 * resume state from memory; then fsync and rename() over the old file. A kill at any moment
 * leaves either the old or the new file, both valid. Object timestamps are off, so the same run
 * writes the same bytes for its tensors.
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

#include <lethe/lethe.h>
#include <lethe/version.h>

#include "forgetting.h"
#include "model/model_internal.h"
#include "runfile.h"

#define FORMAT_VERSION 1

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
	}
	free(r->evals);
	free(r->name);
	free(r->loss);
	free(r->lr);
	free(r->grad_norm);
	memset(r, 0, sizeof(*r));
}

/* ---- writing helpers: each returns 0 or -1 ----------------------------------------------------
 */

static hid_t gcpl(void)
{
	hid_t p = H5Pcreate(H5P_GROUP_CREATE);
	H5Pset_obj_track_times(p, 0);
	return p;
}

static hid_t group(hid_t loc, const char *name)
{
	hid_t p = gcpl();
	hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, p, H5P_DEFAULT);
	H5Pclose(p);
	return g;
}

static hid_t str_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

static int write_data(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                      const hsize_t *dims, const void *data)
{
	hid_t sp = H5Screate_simple(rank, dims, NULL);
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(p, 0);
	hid_t ds = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, p, H5P_DEFAULT);
	int rc = ds < 0 ? -1 : 0;
	hsize_t total = 1;
	for (int i = 0; i < rank; i++)
		total *= dims[i];
	if (rc == 0 && total > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
		rc = -1;
	if (ds >= 0)
		H5Dclose(ds);
	H5Pclose(p);
	H5Sclose(sp);
	return rc;
}

static int write_f32(hid_t loc, const char *name, const float *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, v);
}

static int write_f64(hid_t loc, const char *name, const double *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d, v);
}

static int write_i32(hid_t loc, const char *name, const int32_t *v, size_t n)
{
	hsize_t d[1] = {n};
	return write_data(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d, v);
}

static int write_strings(hid_t loc, const char *name, char *const *v, size_t n)
{
	hid_t t = str_type();
	hsize_t d[1] = {n};
	/* NULL entries are written as empty strings. */
	const char **copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy) {
		H5Tclose(t);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		copy[i] = v[i] ? v[i] : "";
	int rc = write_data(loc, name, t, t, 1, d, copy);
	free(copy);
	H5Tclose(t);
	return rc;
}

static int write_string(hid_t loc, const char *name, const char *v)
{
	hid_t t = str_type(), sp = H5Screate(H5S_SCALAR);
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(p, 0);
	hid_t ds = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, p, H5P_DEFAULT);
	int rc = ds >= 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0 ? 0 : -1;
	if (ds >= 0)
		H5Dclose(ds);
	H5Pclose(p);
	H5Sclose(sp);
	H5Tclose(t);
	return rc;
}

static int attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v)
{
	if (H5Aexists(obj, name) > 0)
		H5Adelete(obj, name);
	hid_t sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
	int rc = a >= 0 && H5Awrite(a, mem_type, v) >= 0 ? 0 : -1;
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	return rc;
}

static int attr_str(hid_t obj, const char *name, const char *v)
{
	hid_t t = str_type();
	int rc = attr(obj, name, t, t, &v);
	H5Tclose(t);
	return rc;
}

static int attr_i64(hid_t obj, const char *name, int64_t v)
{
	return attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
static int attr_f64(hid_t obj, const char *name, double v)
{
	return attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int attr_strings(hid_t obj, const char *name, char *const *v, size_t n)
{
	if (H5Aexists(obj, name) > 0)
		H5Adelete(obj, name);
	hid_t t = str_type();
	hsize_t d[1] = {n};
	hid_t sp = H5Screate_simple(1, d, NULL);
	hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	int rc = a >= 0 && (n == 0 || H5Awrite(a, t, v) >= 0) ? 0 : -1;
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(t);
	return rc;
}

/* "03_entities": groups sort in stage order. */
static void row_group_name(char *buf, size_t size, size_t row, const char *name)
{
	snprintf(buf, size, "%02zu_%s", row, name);
}

/* Metric names may hold '/', which HDF5 reads as a path: the dataset uses '.' instead. */
static void dataset_name(char *buf, size_t size, const char *metric)
{
	snprintf(buf, size, "%s", metric);
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '.';
}

static int write_eval(hid_t loc, const lethe_curriculum *c, const lethe_task_eval *ev)
{
	hid_t g = group(loc, lethe_curriculum_task(c, ev->task)->name);
	if (g < 0)
		return -1;
	int rc = write_f64(g, "nll", ev->nll, ev->n) |
	         write_i32(g, "n_tokens", ev->n_tokens, ev->n) |
	         write_f64(g, "score", ev->score, ev->n);
	if (ev->predictions)
		rc |= write_strings(g, "predictions", ev->predictions, ev->n);
	rc |= write_strings(g, "metric_names", ev->metric_names, ev->n_metrics);
	rc |= write_f64(g, "metric_values", ev->metric_values, ev->n_metrics);
	int32_t *flags = malloc((ev->n_metrics + 1) * sizeof(*flags));
	for (size_t i = 0; flags && i < ev->n_metrics; i++)
		flags[i] = (int32_t)ev->metric_flags[i];
	rc |= flags ? write_i32(g, "metric_flags", flags, ev->n_metrics) : -1;
	free(flags);
	rc |= attr_str(g, "plugin", lethe_curriculum_task(c, ev->task)->plugin);
	rc |= attr_i64(g, "examples", (int64_t)ev->n);
	H5Gclose(g);
	return rc;
}

static int write_row(hid_t stages, const lethe_curriculum *c, lethe_model *m,
                     const lethe_stage_record *r, size_t row)
{
	char name[300];
	row_group_name(name, sizeof(name), row, r->name);
	hid_t g = group(stages, name);
	if (g < 0)
		return -1;
	int rc = attr_str(g, "name", r->name) | attr_i64(g, "row", (int64_t)row) |
	         attr_i64(g, "trained", r->trained) | attr_f64(g, "seconds", r->seconds) |
	         attr_i64(g, "steps", (int64_t)r->steps) |
	         attr_i64(g, "tokens", (int64_t)r->tokens);
	if (r->has_drift) {
		hid_t dg = group(g, "drift");
		rc |= dg < 0 ? -1 : 0;
		if (dg >= 0) {
			static char *groups[] = {"embeddings", "attention", "mlp", "norms", "all"};
			rc |=
			    write_strings(dg, "groups", groups, LETHE_GROUP_COUNT + 1) |
			    write_f64(dg, "l2_previous", r->drift[0], LETHE_GROUP_COUNT + 1) |
			    write_f64(dg, "relative_previous", r->drift[1], LETHE_GROUP_COUNT + 1) |
			    write_f64(dg, "l2_initial", r->drift[2], LETHE_GROUP_COUNT + 1) |
			    write_f64(dg, "relative_initial", r->drift[3], LETHE_GROUP_COUNT + 1);
			H5Gclose(dg);
		}
	}
	if (r->trained) {
		rc |= write_f32(g, "params", lethe_model_params(m), lethe_model_num_params(m));
		hid_t cg = group(g, "curves");
		rc |= cg < 0 ? -1 : 0;
		if (cg >= 0) {
			rc |= write_f32(cg, "loss", r->loss, r->steps) |
			      write_f32(cg, "lr", r->lr, r->steps) |
			      write_f32(cg, "grad_norm", r->grad_norm, r->steps);
			H5Gclose(cg);
		}
	}
	hid_t eg = group(g, "eval");
	rc |= eg < 0 ? -1 : 0;
	for (size_t e = 0; eg >= 0 && e < r->n_evals; e++)
		rc |= write_eval(eg, c, &r->evals[e]);
	if (eg >= 0)
		H5Gclose(eg);
	H5Gclose(g);
	return rc;
}

static int write_header(hid_t f, const lethe_curriculum *c, const lethe_tokenizer *tok,
                        lethe_model *m, int threads)
{
	int rc = attr_str(f, "format", "lethe-run") |
	         attr_i64(f, "format_version", FORMAT_VERSION) |
	         attr_str(f, "lethe_version", LETHE_VERSION_STRING) |
	         attr_str(f, "name", lethe_curriculum_name(c)) |
	         attr_i64(f, "seed", (int64_t)lethe_curriculum_seed(c)) |
	         attr_i64(f, "threads", threads);
	hid_t g = group(f, "curriculum");
	rc |= g < 0 ? -1
	            : write_string(g, "text", lethe_curriculum_text(c)) |
	                  write_string(g, "path", lethe_curriculum_path(c));
	if (g >= 0) {
		/* The resolved configuration: what every stage actually trains with. */
		char **lines = calloc(lethe_curriculum_stage_count(c) + 1, sizeof(*lines));
		for (size_t i = 0; lines && i < lethe_curriculum_stage_count(c); i++) {
			const lethe_cur_stage *s = lethe_curriculum_stage(c, i);
			char buf[2048];
			int k = snprintf(buf, sizeof(buf),
			                 "{\"stage\": \"%s\", \"lr\": %.9g, \"weight_decay\": "
			                 "%.9g, \"beta1\": %.9g, \"beta2\": %.9g, "
			                 "\"eps\": %.9g, \"schedule\": %d, \"warmup\": %ld, "
			                 "\"batch\": %ld, \"grad_accum\": %ld, "
			                 "\"epochs\": %.9g, \"steps\": %ld, \"clip\": %.9g, "
			                 "\"freeze\": %u, \"tasks\": {",
			                 s->name, s->train.lr, s->train.weight_decay,
			                 s->train.beta1, s->train.beta2, s->train.eps,
			                 (int)s->train.schedule, s->train.warmup, s->train.batch,
			                 s->train.grad_accum, s->train.epochs, s->train.steps,
			                 s->train.clip, s->train.freeze);
			for (size_t t = 0; t < s->n_tasks && k < (int)sizeof(buf); t++)
				k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%s\"%s\": %.9g",
				              t ? ", " : "",
				              lethe_curriculum_task(c, s->tasks[t])->name,
				              s->weights[t]);
			if (k < (int)sizeof(buf))
				snprintf(buf + k, sizeof(buf) - (size_t)k, "}}");
			lines[i] = strdup(buf);
		}
		rc |=
		    lines ? write_strings(g, "stages", lines, lethe_curriculum_stage_count(c)) : -1;
		for (size_t i = 0; lines && i < lethe_curriculum_stage_count(c); i++)
			free(lines[i]);
		free(lines);
		H5Gclose(g);
	}
	g = group(f, "tokenizer");
	if (g < 0)
		return -1;
	size_t nm = lethe_tokenizer_n_merges(tok);
	hsize_t d[2] = {nm, 2};
	rc |= write_data(g, "merges", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d,
	                 lethe_tokenizer_merges(tok));
	rc |= attr_i64(g, "vocab_size", (int64_t)lethe_tokenizer_vocab_size(tok));
	rc |= attr_str(g, "kind",
	               "byte-level BPE; ids 0-255 bytes, 256 BOS, 257 EOS, 258 PAD, 259 SEP");
	H5Gclose(g);
	g = group(f, "model");
	if (g < 0)
		return -1;
	const lethe_model_config *mc = lethe_model_config_of(m);
	rc |= attr_i64(g, "vocab", mc->vocab) | attr_i64(g, "context", mc->context) |
	      attr_i64(g, "dim", mc->dim) | attr_i64(g, "layers", mc->layers) |
	      attr_i64(g, "heads", mc->heads) | attr_i64(g, "ff", mc->ff) |
	      attr_i64(g, "tied", mc->tied) | attr_f64(g, "norm_eps", mc->norm_eps) |
	      attr_f64(g, "rope_theta", mc->rope_theta) |
	      attr_i64(g, "params", (int64_t)lethe_model_num_params(m));
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
	rc |= write_strings(g, "tensor_names", names, nt);
	hsize_t td[2] = {nt, 5};
	rc |= write_data(g, "tensors", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, td, info);
	rc |= attr_str(
	    g, "tensors_columns",
	    "offset, rows, cols, group (0 embeddings, 1 attention, 2 mlp, 3 norms), layer");
	free(names);
	free(info);
	H5Gclose(g);
	return rc;
}

/* The score matrices: one 2-D dataset per metric, rows = records, columns = evaluated tasks. */
static int write_matrices(hid_t f, const lethe_curriculum *c, const lethe_stage_record *rec,
                          size_t n_rec)
{
	hid_t g = group(f, "matrices");
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
		rc |= write_strings(g, "rows", row_names, n_rec) |
		      write_strings(g, "columns", col_names, cols);
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
		char dsname[300];
		dataset_name(dsname, sizeof(dsname), metric ? metric : "primary");
		hsize_t d[2] = {n_rec, cols};
		rc |= write_data(g, dsname, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, cell);
		hid_t ds = H5Dopen2(g, dsname, H5P_DEFAULT);
		if (ds >= 0) {
			rc |= attr_strings(ds, "rows", row_names, n_rec) |
			      attr_strings(ds, "columns", col_names, cols);
			if (metric)
				rc |= attr_str(ds, "metric", metric) |
				      attr_str(ds, "better", direction ? "lower" : "higher");
			else if (primary_names) {
				for (size_t i = 0; i < cols; i++)
					if (!primary_names[i])
						primary_names[i] = "";
				rc |= attr_strings(ds, "metrics", primary_names, cols);
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

/* /forgetting/<name>: the measures of forgetting.h for the primary metric and the target NLL. */
static int write_forgetting(hid_t f, const lethe_curriculum *c, const lethe_stage_record *rec,
                            size_t n_rec)
{
	size_t cols = lethe_curriculum_eval_count(c);
	hid_t g = group(f, "forgetting");
	if (g < 0)
		return -1;
	double *R = malloc((n_rec * cols + 1) * sizeof(double));
	int *trained = malloc((cols + 1) * sizeof(int)), *lower = malloc((cols + 1) * sizeof(int));
	char **names = calloc(cols + 1, sizeof(char *));
	int rc = R && trained && lower && names ? 0 : -1;
	for (size_t k = 0; rc == 0 && k < cols; k++) {
		names[k] = lethe_curriculum_task(c, lethe_curriculum_eval_task(c, k))->name;
		trained[k] = trained_row(c, lethe_curriculum_eval_task(c, k), n_rec);
	}
	for (int which = 0; rc == 0 && which < 2; which++) {
		for (size_t i = 0; i < n_rec * cols; i++)
			R[i] = NAN;
		for (size_t k = 0; k < cols; k++)
			lower[k] = 0;
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
					}
			}
		lethe_forgetting fm;
		if (lethe_forgetting_compute(&fm, R, n_rec, cols, lethe_curriculum_baseline(c),
		                             trained, lower)) {
			rc = -1;
			break;
		}
		hid_t m = group(g, which == 0 ? "primary" : "target_nll");
		rc |= m < 0 ? -1 : 0;
		if (m >= 0) {
			int32_t *tr = malloc((cols + 1) * sizeof(int32_t));
			for (size_t k = 0; tr && k < cols; k++)
				tr[k] = trained[k];
			rc |= attr_f64(m, "acc", fm.acc) | attr_f64(m, "bwt", fm.bwt) |
			      attr_f64(m, "fwt", fm.fwt) | attr_f64(m, "chaudhry", fm.chaudhry) |
			      write_strings(m, "tasks", names, cols) |
			      write_f64(m, "learning", fm.learning, cols) |
			      write_f64(m, "forgetting", fm.forgetting, cols) |
			      write_f64(m, "max_drop", fm.max_drop, cols) |
			      write_f64(m, "transfer", fm.transfer, cols) |
			      (tr ? write_i32(m, "trained_row", tr, cols) : -1);
			free(tr);
			H5Gclose(m);
		}
		lethe_forgetting_free(&fm);
	}
	/* Parameter drift per row and group (NaN for the baseline). */
	hid_t dg = rc == 0 ? group(g, "drift") : -1;
	if (dg >= 0) {
		static const char *const kinds[4] = {"l2_previous", "relative_previous",
		                                     "l2_initial", "relative_initial"};
		static char *groups[] = {"embeddings", "attention", "mlp", "norms", "all"};
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
			rc |= write_data(dg, kinds[k], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, D);
		}
		if (rn)
			rc |= write_strings(dg, "rows", rn, n_rec) |
			      write_strings(dg, "groups", groups, G);
		free(D);
		free(rn);
		H5Gclose(dg);
	}
	/* Forgetting events (Toneva et al. 2019): an example right after one row and wrong after
	 * the next; right means a per-example primary score of at least 0.5 (BLEU scaled to 0..1).
	 * Only for higher-is-better primary metrics. */
	hid_t evg = rc == 0 ? group(g, "events") : -1;
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
							scale100 = strcmp(ev->metric_names[i],
							                  "bleu") == 0;
						}
					have = 1;
				}
		if (!have || lower_is_better || n == 0)
			continue;
		int32_t *count = calloc(n, sizeof(int32_t));
		const double *prev = NULL;
		size_t prev_n = 0;
		int64_t total = 0, examples = 0;
		for (size_t r = lethe_curriculum_baseline(c) ? 1 : 0; count && r < n_rec; r++) {
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
			rc |= write_i32(evg, lethe_curriculum_task(c, task)->name, count, n);
			hid_t ds = H5Dopen2(evg, lethe_curriculum_task(c, task)->name, H5P_DEFAULT);
			if (ds >= 0) {
				rc |= attr_i64(ds, "events", total) |
				      attr_i64(ds, "examples_forgotten", examples) |
				      attr_f64(ds, "threshold", scale100 ? 50.0 : 0.5);
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

int lethe_runfile_write(const char *path, const lethe_curriculum *c, const lethe_tokenizer *tok,
                        lethe_model *m, const lethe_stage_record *records, size_t n_records,
                        int threads, char *err, size_t err_size)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, err_size, "%s: path too long", path);
		return LETHE_EINVAL;
	}
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported here, not printed by HDF5 */
	hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0) {
		snprintf(err, err_size, "%s: cannot create the run file: %s", tmp, strerror(errno));
		return LETHE_EIO;
	}
	int rc = write_header(f, c, tok, m, threads);
	hid_t stages = group(f, "stages");
	rc |= stages < 0 ? -1 : 0;
	/* Rows already written are copied from the previous file. */
	if (n_records > 1 && stages >= 0) {
		hid_t old = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		if (old < 0) {
			snprintf(err, err_size, "%s: cannot reopen the run file to extend it",
			         path);
			rc = -1;
		}
		for (size_t r = 0; old >= 0 && r + 1 < n_records && rc == 0; r++) {
			char name[300], src[400];
			row_group_name(name, sizeof(name), r, records[r].name);
			snprintf(src, sizeof(src), "/stages/%s", name);
			if (H5Ocopy(old, src, stages, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
				snprintf(err, err_size,
				         "%s: cannot copy %s from the previous run file", path,
				         src);
				rc = -1;
			}
		}
		if (old >= 0)
			H5Fclose(old);
	}
	if (rc == 0 && stages >= 0)
		rc |= write_row(stages, c, m, &records[n_records - 1], n_records - 1);
	if (stages >= 0)
		H5Gclose(stages);
	if (rc == 0)
		rc |= write_matrices(f, c, records, n_records) |
		      write_forgetting(f, c, records, n_records);
	/* What --resume needs to continue bit for bit: the optimizer state after the last row. */
	if (rc == 0) {
		hid_t g = group(f, "resume");
		rc |= g < 0 ? -1 : 0;
		if (g >= 0) {
			float *mo = m->adam_m, *ve = m->adam_v;
			rc |= attr_i64(g, "optimizer_steps", (int64_t)lethe_model_steps_taken(m));
			rc |= attr_i64(g, "rows", (int64_t)n_records);
			if (mo && ve)
				rc |= write_f32(g, "adam_m", mo, lethe_model_num_params(m)) |
				      write_f32(g, "adam_v", ve, lethe_model_num_params(m));
			rc |= write_f32(g, "params", lethe_model_params(m),
			                lethe_model_num_params(m));
			H5Gclose(g);
		}
	}
	char **names = calloc(n_records + 1, sizeof(*names));
	for (size_t r = 0; names && r < n_records; r++)
		names[r] = records[r].name;
	rc |= names ? attr_strings(f, "rows", names, n_records) : -1;
	free(names);
	if (H5Fclose(f) < 0)
		rc = -1;
	if (rc) {
		if (!err[0])
			snprintf(err, err_size, "%s: writing the run file failed", tmp);
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

/* ---- reading --------------------------------------------------------------------------------- */

static int read_attr_i64(hid_t obj, const char *name, int64_t *v)
{
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return -1;
	int rc = H5Aread(a, H5T_NATIVE_INT64, v) < 0 ? -1 : 0;
	H5Aclose(a);
	return rc;
}

static char **read_strings_attr(hid_t obj, const char *name, size_t *n)
{
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return NULL;
	hid_t sp = H5Aget_space(a);
	hssize_t k = H5Sget_simple_extent_npoints(sp);
	char **v = calloc((size_t)k + 1, sizeof(*v));
	hid_t t = str_type();
	if (v && k > 0 && H5Aread(a, t, v) < 0) {
		free(v);
		v = NULL;
	}
	H5Tclose(t);
	H5Sclose(sp);
	H5Aclose(a);
	*n = (size_t)k;
	return v;
}

static void *read_dataset(hid_t loc, const char *name, hid_t mem_type, size_t elem, size_t *n)
{
	hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
	if (ds < 0)
		return NULL;
	hid_t sp = H5Dget_space(ds);
	hssize_t k = H5Sget_simple_extent_npoints(sp);
	void *v = malloc(((size_t)k + 1) * elem);
	if (v && k > 0 && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
		free(v);
		v = NULL;
	}
	H5Sclose(sp);
	H5Dclose(ds);
	*n = (size_t)k;
	return v;
}

int lethe_runfile_read_state(const char *path, const lethe_curriculum *c,
                             lethe_stage_record **records, size_t *n_records, int32_t **merges,
                             size_t *n_merges, lethe_model_config *config, char *err,
                             size_t err_size)
{
	*records = NULL;
	*n_records = 0;
	*merges = NULL;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) {
		snprintf(err, err_size, "%s: not a readable HDF5 run file", path);
		return LETHE_EIO;
	}
	size_t n_rows = 0, n;
	char **rows = read_strings_attr(f, "rows", &n_rows);
	int rc = rows ? 0 : LETHE_EPARSE;
	hid_t tg = rc ? -1 : H5Gopen2(f, "tokenizer", H5P_DEFAULT);
	if (tg >= 0) {
		*merges = read_dataset(tg, "merges", H5T_NATIVE_INT32, sizeof(int32_t), &n);
		*n_merges = n / 2;
		H5Gclose(tg);
	}
	hid_t mg = rc ? -1 : H5Gopen2(f, "model", H5P_DEFAULT);
	int64_t v[7];
	const char *keys[] = {"vocab", "context", "dim", "layers", "heads", "ff", "tied"};
	for (int i = 0; mg >= 0 && i < 7; i++)
		if (read_attr_i64(mg, keys[i], &v[i]))
			rc = LETHE_EPARSE;
	if (mg >= 0) {
		*config = (lethe_model_config){.vocab = (int)v[0],
		                               .context = (int)v[1],
		                               .dim = (int)v[2],
		                               .layers = (int)v[3],
		                               .heads = (int)v[4],
		                               .ff = (int)v[5],
		                               .tied = (int)v[6]};
		lethe_model_config_check(config, NULL, 0);
		H5Gclose(mg);
	}
	if (!*merges || mg < 0)
		rc = LETHE_EPARSE;
	lethe_stage_record *rec = rc ? NULL : calloc(n_rows + 1, sizeof(*rec));
	hid_t sg = rec ? H5Gopen2(f, "stages", H5P_DEFAULT) : -1;
	for (size_t r = 0; sg >= 0 && r < n_rows && rc == 0; r++) {
		char name[300];
		row_group_name(name, sizeof(name), r, rows[r]);
		hid_t g = H5Gopen2(sg, name, H5P_DEFAULT);
		if (g < 0) {
			rc = LETHE_EPARSE;
			break;
		}
		int64_t trained = 0, steps = 0, tokens = 0;
		read_attr_i64(g, "trained", &trained);
		read_attr_i64(g, "steps", &steps);
		read_attr_i64(g, "tokens", &tokens);
		rec[r].name = strdup(rows[r]);
		rec[r].trained = (int)trained;
		rec[r].steps = (size_t)steps;
		rec[r].tokens = (uint64_t)tokens;
		if (H5Lexists(g, "drift", H5P_DEFAULT) > 0) {
			hid_t dg = H5Gopen2(g, "drift", H5P_DEFAULT);
			static const char *const names[4] = {"l2_previous", "relative_previous",
			                                     "l2_initial", "relative_initial"};
			rec[r].has_drift = 1;
			for (int k = 0; dg >= 0 && k < 4; k++) {
				size_t nd = 0;
				double *d = read_dataset(dg, names[k], H5T_NATIVE_DOUBLE,
				                         sizeof(double), &nd);
				for (size_t i = 0; d && i < nd && i <= LETHE_GROUP_COUNT; i++)
					rec[r].drift[k][i] = d[i];
				if (!d || nd != LETHE_GROUP_COUNT + 1)
					rec[r].has_drift = 0;
				free(d);
			}
			if (dg >= 0)
				H5Gclose(dg);
		}
		hid_t eg = H5Gopen2(g, "eval", H5P_DEFAULT);
		rec[r].evals = calloc(lethe_curriculum_task_count(c) + 1, sizeof(*rec[r].evals));
		for (size_t t = 0; eg >= 0 && rec[r].evals && t < lethe_curriculum_task_count(c);
		     t++) {
			if (H5Lexists(eg, lethe_curriculum_task(c, t)->name, H5P_DEFAULT) <= 0)
				continue;
			hid_t tgp = H5Gopen2(eg, lethe_curriculum_task(c, t)->name, H5P_DEFAULT);
			lethe_task_eval *ev = &rec[r].evals[rec[r].n_evals++];
			ev->task = t;
			size_t nm, nv, nf;
			hid_t ds = H5Dopen2(tgp, "metric_names", H5P_DEFAULT);
			if (ds >= 0) {
				hid_t sp = H5Dget_space(ds);
				nm = (size_t)H5Sget_simple_extent_npoints(sp);
				ev->metric_names = calloc(nm + 1, sizeof(char *));
				hid_t st = str_type();
				if (nm && ev->metric_names)
					H5Dread(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT,
					        ev->metric_names);
				/* Strings from HDF5's allocator become ours. */
				for (size_t i = 0; i < nm && ev->metric_names; i++) {
					char *s =
					    strdup(ev->metric_names[i] ? ev->metric_names[i] : "");
					H5free_memory(ev->metric_names[i]);
					ev->metric_names[i] = s;
				}
				H5Tclose(st);
				H5Sclose(sp);
				H5Dclose(ds);
				ev->n_metrics = nm;
			}
			size_t ns = 0;
			ev->score =
			    read_dataset(tgp, "score", H5T_NATIVE_DOUBLE, sizeof(double), &ns);
			ev->n = ns;
			ev->metric_values = read_dataset(tgp, "metric_values", H5T_NATIVE_DOUBLE,
			                                 sizeof(double), &nv);
			int32_t *flags = read_dataset(tgp, "metric_flags", H5T_NATIVE_INT32,
			                              sizeof(int32_t), &nf);
			ev->metric_flags = calloc(ev->n_metrics + 1, sizeof(unsigned));
			for (size_t i = 0; flags && ev->metric_flags && i < nf && i < ev->n_metrics;
			     i++)
				ev->metric_flags[i] = (unsigned)flags[i];
			free(flags);
			if (!ev->metric_values || nv != ev->n_metrics)
				rc = LETHE_EPARSE;
			H5Gclose(tgp);
		}
		if (eg >= 0)
			H5Gclose(eg);
		H5Gclose(g);
	}
	if (sg >= 0)
		H5Gclose(sg);
	for (size_t r = 0; rows && r < n_rows; r++)
		H5free_memory(rows[r]);
	free(rows);
	H5Fclose(f);
	if (rc) {
		for (size_t r = 0; rec && r < n_rows; r++)
			lethe_stage_record_clear(&rec[r]);
		free(rec);
		free(*merges);
		*merges = NULL;
		snprintf(err, err_size, "%s: the run file is incomplete or not lethe's", path);
		return rc;
	}
	*records = rec;
	*n_records = n_rows;
	return 0;
}

int lethe_runfile_read_model(const char *path, lethe_model *m, char *err, size_t err_size)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) {
		snprintf(err, err_size, "%s: not a readable HDF5 run file", path);
		return LETHE_EIO;
	}
	hid_t g = H5Gopen2(f, "resume", H5P_DEFAULT);
	size_t np = lethe_model_num_params(m), n1 = 0, n2 = 0, n3 = 0;
	float *p = g >= 0 ? read_dataset(g, "params", H5T_NATIVE_FLOAT, sizeof(float), &n1) : NULL;
	float *mo = g >= 0 ? read_dataset(g, "adam_m", H5T_NATIVE_FLOAT, sizeof(float), &n2) : NULL;
	float *ve = g >= 0 ? read_dataset(g, "adam_v", H5T_NATIVE_FLOAT, sizeof(float), &n3) : NULL;
	int64_t steps = 0;
	if (g >= 0)
		read_attr_i64(g, "optimizer_steps", &steps);
	int rc = 0;
	if (!p || n1 != np || (mo && (n2 != np || n3 != np))) {
		snprintf(err, err_size,
		         "%s: the resume state does not match the model (%zu parameters)", path,
		         np);
		rc = LETHE_EPARSE;
	} else {
		memcpy(lethe_model_params(m), p, np * sizeof(float));
		if (mo && ve) {
			memcpy(lethe_model_adam_m(m), mo, np * sizeof(float));
			memcpy(lethe_model_adam_v(m), ve, np * sizeof(float));
		}
		lethe_model_set_steps_taken(m, (uint64_t)steps);
	}
	free(p);
	free(mo);
	free(ve);
	if (g >= 0)
		H5Gclose(g);
	H5Fclose(f);
	return rc;
}
