/*
 * runfile_read.c: the run file's reader (include/lethe/runfile.h) and what `lethe run --resume`
 * reads back (runfile.h). Nothing in the file is trusted: every dataset's class (float, integer,
 * string), rank and shape, and every attribute's, is checked against what the format and the
 * file's own attributes promise before a buffer is sized from it; lethe_runfile_open() checks the
 * whole structure once, each read checks its dataset again. HDF5's herr_t and hid_t stay inside
 * this file and runfile_write.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <hdf5.h>

#include <lethe/lethe.h>
#include <lethe/runfile.h>

#include "runfile.h"
#include "runfile_format.h"

struct lethe_runfile {
	char *path;
	hid_t f;
	char errmsg[1024];
	int version;
	char *name;
	size_t n_rows, n_cols;
	char **rows, **cols, **metrics, **plugins;
	int *lower;
	char **matrices; /* metric names, "primary" first */
	size_t n_matrices;
	int *trained;
	size_t *steps;
	lethe_model_config config;
	size_t n_params, n_merges;
	char *tok_source; /* a pretrained model's checkpoint, whose tokenizer the run used */
	char *model_from; /* model: {from: PATH} of the run (older files: tok_source), or NULL */
	char *model_from_stage; /* with a run file as PATH, its stage */
	char **stages;          /* the resolved settings of the writing curriculum's stages */
	size_t n_stages;
	int has_moments;
	int64_t seed, data_seed; /* data_seed: seed when the file has none */
	int *weighting;          /* per row: its lethe_loss_weighting (NULL: all token) */
	int *precision;          /* per row: its training lethe_precision (NULL: all fp32) */
};

#define ANY ((hsize_t)-1)

/* Builds an object's path into the array buf; a path too long for it becomes "" (and is then
 * reported missing). */
#define PATHF(buf, ...)                                                                            \
	((void)(snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf) ? (buf[0] = '\0') : 0))

typedef enum cls { CLS_FLOAT, CLS_INT, CLS_STRING } cls;
static const char *const cls_names[] = {"floats", "integers", "strings"};

static int fail(lethe_runfile *rf, int code, const char *fmt, ...) LETHE_PRINTF(3, 4);
static int fail(lethe_runfile *rf, int code, const char *fmt, ...)
{
	int k = snprintf(rf->errmsg, sizeof(rf->errmsg), "%s: ", rf->path);
	va_list ap;
	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < sizeof(rf->errmsg))
		vsnprintf(rf->errmsg + k, sizeof(rf->errmsg) - (size_t)k, fmt, ap);
	va_end(ap);
	return code;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* "400x500", "scalar"; ANY as "n". */
static void shape_text(char *buf, size_t size, int rank, const hsize_t *d)
{
	if (rank == 0) {
		snprintf(buf, size, "scalar");
		return;
	}
	size_t k = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && k < size; i++) {
		int w = d[i] == ANY ? snprintf(buf + k, size - k, "%sn", i ? "x" : "")
		                    : snprintf(buf + k, size - k, "%s%llu", i ? "x" : "",
		                               (unsigned long long)d[i]);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

/* Whether every link along path exists (H5Lexists on "a/b" fails when "a" does not). */
static int exists(hid_t loc, const char *path)
{
	char buf[1024];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return 0;
	for (char *p = buf; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int e = H5Lexists(loc, buf, H5P_DEFAULT);
		*p = '/';
		if (e <= 0)
			return 0;
	}
	return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

/* The first prefix of path that does not exist ("forgetting" of "forgetting/primary/acc"). */
static void first_missing(hid_t loc, const char *path, char *buf, size_t size)
{
	if (snprintf(buf, size, "%s", path) >= (int)size)
		return;
	for (char *p = buf; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
			return;
		*p = '/';
	}
}

static int open_group(lethe_runfile *rf, const char *path, hid_t *g)
{
	*g = -1;
	if (!exists(rf->f, path)) {
		char missing[1024];
		first_missing(rf->f, path, missing, sizeof(missing));
		return fail(rf, LETHE_EPARSE, "missing group '%s'", missing);
	}
	*g = H5Gopen2(rf->f, path, H5P_DEFAULT);
	if (*g < 0)
		return fail(rf, LETHE_EPARSE, "'%s' is not a group", path);
	return 0;
}

static int class_of(hid_t type)
{
	switch (H5Tget_class(type)) {
	case H5T_FLOAT: return CLS_FLOAT;
	case H5T_INTEGER: return CLS_INT;
	case H5T_STRING: return CLS_STRING;
	default: return -1;
	}
}

/* A dataset or an attribute: what the checks and reads below need of either. */
typedef struct obj {
	hid_t id;
	int attr;
	char what[600]; /* "dataset 'a/b'" or "attribute 'rows' of 'a/b'" */
} obj;

static void obj_close(obj *o)
{
	if (o->id >= 0)
		o->attr ? H5Aclose(o->id) : H5Dclose(o->id);
	o->id = -1;
}

/* Checks o's class, rank and dimensions (ANY: any) against the format; dims receives its
 * dimensions. what_dims says what the expected dimensions are ("rows x columns"). */
static int check(lethe_runfile *rf, obj *o, cls k, int rank, const hsize_t *want,
                 const char *what_dims, hsize_t *dims)
{
	hid_t t = o->attr ? H5Aget_type(o->id) : H5Dget_type(o->id);
	hid_t sp = o->attr ? H5Aget_space(o->id) : H5Dget_space(o->id);
	int rc = 0;
	if (t < 0 || sp < 0) {
		rc = fail(rf, LETHE_EPARSE, "%s cannot be read", o->what);
		goto out;
	}
	int c = class_of(t);
	if (c != (int)k) {
		rc = fail(rf, LETHE_EPARSE, "%s holds %s, expected %s", o->what,
		          c < 0 ? "values of another type" : cls_names[c], cls_names[k]);
		goto out;
	}
	int r = H5Sget_simple_extent_ndims(sp);
	hsize_t d[H5S_MAX_RANK] = {0};
	if (r < 0 || H5Sget_simple_extent_type(sp) == H5S_NULL) {
		rc = fail(rf, LETHE_EPARSE, "%s has no extent", o->what);
		goto out;
	}
	H5Sget_simple_extent_dims(sp, d, NULL);
	int ok = r == rank;
	for (int i = 0; ok && i < rank; i++)
		ok = want[i] == ANY || want[i] == d[i];
	if (!ok) {
		char got[128], exp[128];
		shape_text(got, sizeof(got), r, d);
		shape_text(exp, sizeof(exp), rank, want);
		rc = fail(rf, LETHE_EPARSE, "%s has shape %s, expected %s%s%s%s", o->what, got, exp,
		          what_dims ? " (" : "", what_dims ? what_dims : "", what_dims ? ")" : "");
		goto out;
	}
	for (int i = 0; dims && i < rank; i++)
		dims[i] = d[i];
out:
	if (t >= 0)
		H5Tclose(t);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

static int open_dataset(lethe_runfile *rf, const char *path, obj *o)
{
	o->attr = 0;
	snprintf(o->what, sizeof(o->what), "dataset '%s'", path);
	o->id = -1;
	if (!exists(rf->f, path)) {
		char missing[1024];
		first_missing(rf->f, path, missing, sizeof(missing));
		if (strcmp(missing, path) == 0)
			return fail(rf, LETHE_EPARSE, "missing dataset '%s'", path);
		return fail(rf, LETHE_EPARSE, "missing group '%s' (of dataset '%s')", missing,
		            path);
	}
	o->id = H5Dopen2(rf->f, path, H5P_DEFAULT);
	if (o->id < 0)
		return fail(rf, LETHE_EPARSE, "'%s' is not a dataset", path);
	return 0;
}

/* loc_path: the object's path ("" for the file's root), for messages. */
static int open_attr(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name, obj *o)
{
	o->attr = 1;
	o->id = -1;
	if (loc_path[0])
		snprintf(o->what, sizeof(o->what), "attribute '%s' of '%s'", name, loc_path);
	else
		snprintf(o->what, sizeof(o->what), "attribute '%s'", name);
	if (H5Aexists(loc, name) <= 0)
		return fail(rf, LETHE_EPARSE, "missing %s", o->what);
	o->id = H5Aopen(loc, name, H5P_DEFAULT);
	if (o->id < 0)
		return fail(rf, LETHE_EPARSE, "%s cannot be read", o->what);
	return 0;
}

static size_t count(int rank, const hsize_t *d)
{
	size_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= (size_t)d[i];
	return n;
}

/* Reads all of a checked numeric object into a new buffer of its n elements of mem_type. */
static int read_numbers(lethe_runfile *rf, obj *o, hid_t mem_type, size_t elem, size_t n,
                        void **out)
{
	*out = malloc((n ? n : 1) * elem);
	if (!*out)
		return fail(rf, LETHE_ENOMEM, "out of memory reading %s", o->what);
	herr_t e = n == 0    ? 0
	           : o->attr ? H5Aread(o->id, mem_type, *out)
	                     : H5Dread(o->id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out);
	if (e < 0) {
		free(*out);
		*out = NULL;
		return fail(rf, LETHE_EIO, "%s cannot be read (damaged or truncated file?)",
		            o->what);
	}
	return 0;
}

/* Reads all n strings of a checked string object, variable or fixed length, as our own copies
 * (NULL entries become ""). */
static int read_strings(lethe_runfile *rf, obj *o, size_t n, char ***out)
{
	*out = calloc(n + 1, sizeof(char *));
	if (!*out)
		return fail(rf, LETHE_ENOMEM, "out of memory reading %s", o->what);
	hid_t ft = o->attr ? H5Aget_type(o->id) : H5Dget_type(o->id);
	hid_t mt = ft >= 0 ? H5Tcopy(ft) : -1;
	int rc = 0, vlen = mt >= 0 ? H5Tis_variable_str(mt) > 0 : 0;
	size_t size = mt >= 0 ? H5Tget_size(mt) : 0;
	void *buf = n == 0 || mt < 0 ? NULL
	            : vlen           ? calloc(n, sizeof(char *))
	                             : calloc(n, size + 1);
	if (mt < 0 || (n && !buf)) {
		rc = fail(rf, mt < 0 ? LETHE_EIO : LETHE_ENOMEM, "%s cannot be read", o->what);
		goto out;
	}
	if (n) {
		herr_t e = o->attr ? H5Aread(o->id, mt, buf)
		                   : H5Dread(o->id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
		if (e < 0) {
			rc = fail(rf, LETHE_EIO, "%s cannot be read (damaged or truncated file?)",
			          o->what);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = vlen ? ((char **)buf)[i] : (char *)buf + i * size;
		(*out)[i] = vlen ? strdup(s ? s : "") : strndup(s, size);
		if (vlen && s)
			H5free_memory(((char **)buf)[i]);
		if (!(*out)[i] && rc == 0)
			rc = fail(rf, LETHE_ENOMEM, "out of memory reading %s", o->what);
	}
out:
	free(buf);
	if (mt >= 0)
		H5Tclose(mt);
	if (ft >= 0)
		H5Tclose(ft);
	if (rc) {
		free_strings(*out, n);
		*out = NULL;
	}
	return rc;
}

/* ---- typed reads: each checks, then reads ------------------------------------------------- */

/* A dataset of rank dimensions want (ANY: any) of class k; dims (may be NULL) receives them. */
static int dataset(lethe_runfile *rf, const char *path, cls k, int rank, const hsize_t *want,
                   const char *what_dims, hsize_t *dims, void **out)
{
	obj o;
	hsize_t d[H5S_MAX_RANK];
	int rc = open_dataset(rf, path, &o);
	if (rc == 0)
		rc = check(rf, &o, k, rank, want, what_dims, d);
	if (rc == 0 && out) {
		size_t n = count(rank, d);
		if (k == CLS_STRING)
			rc = read_strings(rf, &o, n, (char ***)out);
		else if (k == CLS_INT)
			rc = read_numbers(rf, &o, H5T_NATIVE_INT32, sizeof(int32_t), n, out);
		else
			rc = read_numbers(rf, &o, H5T_NATIVE_DOUBLE, sizeof(double), n, out);
	}
	for (int i = 0; rc == 0 && dims && i < rank; i++)
		dims[i] = d[i];
	obj_close(&o);
	return rc;
}

static int vector(lethe_runfile *rf, const char *path, cls k, hsize_t n, const char *what,
                  hsize_t *got, void **out)
{
	hsize_t want[1] = {n}, d[1] = {0};
	int rc = dataset(rf, path, k, 1, want, what, d, out);
	if (got)
		*got = d[0];
	return rc;
}

static int attr_strings(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name,
                        hsize_t n, const char *what, char ***out, size_t *got)
{
	obj o;
	hsize_t want[1] = {n}, d[1] = {0};
	int rc = open_attr(rf, loc, loc_path, name, &o);
	if (rc == 0)
		rc = check(rf, &o, CLS_STRING, 1, want, what, d);
	if (rc == 0)
		rc = read_strings(rf, &o, (size_t)d[0], out);
	if (got)
		*got = (size_t)d[0];
	obj_close(&o);
	return rc;
}

/* A scalar attribute (rank 0, or rank 1 of one element). */
static int attr_scalar(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name, cls k,
                       void *out)
{
	obj o;
	int rc = open_attr(rf, loc, loc_path, name, &o);
	if (rc == 0) {
		hid_t sp = H5Aget_space(o.id);
		int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
		if (sp >= 0)
			H5Sclose(sp);
		hsize_t one[1] = {1};
		rc = check(rf, &o, k, rank == 1 ? 1 : 0, one, NULL, NULL);
	}
	if (rc == 0) {
		if (k == CLS_STRING) {
			char **s = NULL;
			rc = read_strings(rf, &o, 1, &s);
			if (rc == 0)
				*(char **)out = s[0];
			free(s);
		} else {
			void *v = NULL;
			rc = k == CLS_INT
			         ? read_numbers(rf, &o, H5T_NATIVE_INT64, sizeof(int64_t), 1, &v)
			         : read_numbers(rf, &o, H5T_NATIVE_DOUBLE, sizeof(double), 1, &v);
			if (rc == 0)
				memcpy(out, v, k == CLS_INT ? sizeof(int64_t) : sizeof(double));
			free(v);
		}
	}
	obj_close(&o);
	return rc;
}

static int attr_i64(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name,
                    int64_t *v)
{
	return attr_scalar(rf, loc, loc_path, name, CLS_INT, v);
}

/* A non-negative integer attribute that sizes something. */
static int attr_count(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name,
                      int64_t max, size_t *v)
{
	int64_t x = 0;
	int rc = attr_i64(rf, loc, loc_path, name, &x);
	if (rc == 0 && (x < 0 || x > max))
		rc = fail(rf, LETHE_EPARSE, "attribute '%s' of '%s' is %lld, expected 0 to %lld",
		          name, loc_path, (long long)x, (long long)max);
	*v = rc ? 0 : (size_t)x;
	return rc;
}

/* An attribute holding a string array equal to names[0..n): "lying" attributes are refused. */
static int attr_names_equal(lethe_runfile *rf, hid_t loc, const char *loc_path, const char *name,
                            char *const *names, size_t n, const char *what)
{
	char **v = NULL;
	int rc = attr_strings(rf, loc, loc_path, name, n, what, &v, NULL);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (strcmp(v[i], names[i]) != 0)
			rc = fail(rf, LETHE_EPARSE,
			          "attribute '%s' of '%s' names '%s' at %zu, expected '%s'", name,
			          loc_path, v[i], i, names[i]);
	free_strings(v, n);
	return rc;
}

static int dataset_names_equal(lethe_runfile *rf, const char *path, char *const *names, size_t n,
                               const char *what)
{
	char **v = NULL;
	int rc = vector(rf, path, CLS_STRING, n, what, NULL, (void **)&v);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (strcmp(v[i], names[i]) != 0)
			rc = fail(rf, LETHE_EPARSE, "dataset '%s' names '%s' at %zu, expected '%s'",
			          path, v[i], i, names[i]);
	free_strings(v, n);
	return rc;
}

/* ---- the structure, checked once at open --------------------------------------------------- */

static int check_matrix(lethe_runfile *rf, const char *path, hsize_t *d)
{
	hsize_t want[2] = {rf->n_rows, rf->n_cols};
	int rc = dataset(rf, path, CLS_FLOAT, 2, want, "rows x columns", d, NULL);
	if (rc)
		return rc;
	hid_t ds = H5Dopen2(rf->f, path, H5P_DEFAULT);
	if (ds < 0)
		return fail(rf, LETHE_EPARSE, "'%s' is not a dataset", path);
	rc = attr_names_equal(rf, ds, path, "rows", rf->rows, rf->n_rows, "the file's rows");
	if (rc == 0)
		rc = attr_names_equal(rf, ds, path, "columns", rf->cols, rf->n_cols, "columns");
	H5Dclose(ds);
	return rc;
}

typedef struct name_list {
	char **v;
	size_t n;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)g;
	(void)info;
	name_list *l = data;
	char **grown = realloc(l->v, (l->n + 2) * sizeof(char *));
	if (!grown)
		return -1;
	l->v = grown;
	if (!(grown[l->n] = strdup(name)))
		return -1;
	l->n++;
	return 0;
}

/* The names of a group's links, in name order. */
static int list_group(lethe_runfile *rf, const char *path, char ***out, size_t *n)
{
	hid_t g;
	name_list l = {NULL, 0};
	int rc = open_group(rf, path, &g);
	if (rc == 0 && H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name, &l) < 0)
		rc = fail(rf, LETHE_ENOMEM, "cannot list group '%s'", path);
	if (g >= 0)
		H5Gclose(g);
	if (rc) {
		free_strings(l.v, l.n);
		l.v = NULL;
		l.n = 0;
	}
	*out = l.v;
	*n = l.n;
	return rc;
}

static int check_matrices(lethe_runfile *rf)
{
	hsize_t d[2];
	int rc = check_matrix(rf, "matrices/primary", d);
	hid_t ds = rc ? -1 : H5Dopen2(rf->f, "matrices/primary", H5P_DEFAULT);
	if (ds >= 0) {
		rc = attr_strings(rf, ds, "matrices/primary", "metrics", rf->n_cols, "columns",
		                  &rf->metrics, NULL);
		H5Dclose(ds);
	}
	if (rc == 0)
		rc = dataset_names_equal(rf, "matrices/rows", rf->rows, rf->n_rows, "rows");
	if (rc == 0)
		rc = dataset_names_equal(rf, "matrices/columns", rf->cols, rf->n_cols, "columns");
	char **names = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = list_group(rf, "matrices", &names, &n);
	rf->matrices = calloc(n + 2, sizeof(char *));
	rf->lower = calloc(rf->n_cols + 1, sizeof(int));
	if (rc == 0 && (!rf->matrices || !rf->lower))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	if (rc == 0 && !(rf->matrices[rf->n_matrices++] = strdup("primary")))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!strcmp(names[i], "primary") || !strcmp(names[i], "rows") ||
		    !strcmp(names[i], "columns"))
			continue;
		char path[600], *metric = NULL, *better = NULL;
		PATHF(path, "matrices/%s", names[i]);
		if ((rc = check_matrix(rf, path, d)))
			break;
		hid_t m = H5Dopen2(rf->f, path, H5P_DEFAULT);
		rc = attr_scalar(rf, m, path, "metric", CLS_STRING, &metric);
		if (rc == 0)
			rc = attr_scalar(rf, m, path, "better", CLS_STRING, &better);
		H5Dclose(m);
		if (rc == 0 && strcmp(better, "higher") != 0 && strcmp(better, "lower") != 0)
			rc =
			    fail(rf, LETHE_EPARSE,
			         "attribute 'better' of '%s' is '%s', expected 'higher' or 'lower'",
			         path, better);
		char expect[600];
		if (rc == 0) {
			rf_matrix_dataset(expect, sizeof(expect), metric);
			if (strcmp(expect, path) != 0)
				rc = fail(rf, LETHE_EPARSE,
				          "dataset '%s' holds the matrix of metric '%s'", path,
				          metric);
		}
		for (size_t c = 0; rc == 0 && c < rf->n_cols; c++)
			if (strcmp(rf->metrics[c], metric) == 0)
				rf->lower[c] = strcmp(better, "lower") == 0;
		if (rc == 0)
			rf->matrices[rf->n_matrices++] = metric;
		else
			free(metric);
		free(better);
	}
	free_strings(names, n);
	return rc;
}

/* Optional (issue #12): an evaluation's sufficient statistics of the primary metric,
 * /stages/<row>/eval/<task>/stats, n x k with k fixed by the group's attribute 'aggregate'.
 * Nothing (0, *out NULL) when absent; out NULL: check only. */
static int eval_stats(lethe_runfile *rf, const char *path, size_t n, double **out, size_t *k,
                      int *aggregate)
{
	char p[900];
	PATHF(p, "%s/stats", path);
	if (!exists(rf->f, p))
		return 0;
	static const hsize_t want_k[4] = {1, 3, 10, 2};
	int64_t agg = -1;
	hid_t g;
	int rc = open_group(rf, path, &g);
	if (rc == 0) {
		rc = attr_i64(rf, g, path, "aggregate", &agg);
		H5Gclose(g);
	}
	if (rc == 0 && (agg < 0 || agg > 3))
		rc = fail(rf, LETHE_EPARSE,
		          "group '%s': attribute 'aggregate' is %lld, expected 0 to 3", path,
		          (long long)agg);
	hsize_t want[2] = {n, rc == 0 ? want_k[agg] : 0};
	if (rc == 0)
		rc =
		    dataset(rf, p, CLS_FLOAT, 2, want, "examples x statistics", NULL, (void **)out);
	if (rc == 0 && k) {
		*k = (size_t)want[1];
		*aggregate = (int)agg;
	}
	return rc;
}

static int check_eval(lethe_runfile *rf, const char *path, size_t col)
{
	hid_t g;
	int rc = open_group(rf, path, &g);
	if (rc)
		return rc;
	size_t n = 0;
	char *plugin = NULL;
	rc = attr_count(rf, g, path, "examples", INT32_MAX, &n);
	if (rc == 0)
		rc = attr_scalar(rf, g, path, "plugin", CLS_STRING, &plugin);
	H5Gclose(g);
	if (rc == 0 && !rf->plugins[col])
		rf->plugins[col] = plugin;
	else
		free(plugin);
	char p[900];
	hsize_t k = 0;
	static const struct {
		const char *name;
		cls k;
	} per_example[] = {{"nll", CLS_FLOAT}, {"n_tokens", CLS_INT}, {"score", CLS_FLOAT}};
	for (int i = 0; rc == 0 && i < 3; i++) {
		PATHF(p, "%s/%s", path, per_example[i].name);
		rc = vector(rf, p, per_example[i].k, n, "examples", NULL, NULL);
	}
	PATHF(p, "%s/predictions", path);
	if (rc == 0 && exists(rf->f, p))
		rc = vector(rf, p, CLS_STRING, n, "examples", NULL, NULL);
	PATHF(p, "%s/metric_names", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_STRING, ANY, NULL, &k, NULL);
	PATHF(p, "%s/metric_values", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_FLOAT, k, "metric_names", NULL, NULL);
	PATHF(p, "%s/metric_flags", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_INT, k, "metric_names", NULL, NULL);
	if (rc == 0)
		rc = eval_stats(rf, path, n, NULL, NULL, NULL);
	return rc;
}

/* ---- within-stage curves and loss weighting (docs/run-file.md) ----------------------------- */

static int usable(lethe_runfile *rf);

/* A trained row's eval_curve group, when it has one: steps [P] (each 1 to the row's steps - 1,
 * increasing), primary [P x columns], examples [columns]; with out, steps and values are read
 * (*p: P). */
static int row_curve(lethe_runfile *rf, size_t row, int32_t **steps, double **values,
                     int32_t **examples, size_t *p)
{
	char path[600], q[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	hsize_t n = 0;
	int32_t *st = NULL;
	PATHF(q, "%s/eval_curve/steps", path);
	int rc = vector(rf, q, CLS_INT, ANY, NULL, &n, (void **)&st);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (st[i] < 1 || (size_t)st[i] >= rf->steps[row] || (i && st[i] <= st[i - 1]))
			rc = fail(rf, LETHE_EPARSE,
			          "dataset '%s' holds step %d at %zu, expected increasing steps "
			          "from 1 to %zu (inside the stage)",
			          q, (int)st[i], i, rf->steps[row] ? rf->steps[row] - 1 : 0);
	hsize_t want[2] = {n, rf->n_cols};
	PATHF(q, "%s/eval_curve/primary", path);
	if (rc == 0)
		rc = dataset(rf, q, CLS_FLOAT, 2, want, "points x columns", NULL, (void **)values);
	PATHF(q, "%s/eval_curve/examples", path);
	if (rc == 0)
		rc = vector(rf, q, CLS_INT, rf->n_cols, "columns", NULL, (void **)examples);
	for (size_t c = 0; rc == 0 && examples && c < rf->n_cols; c++)
		if ((*examples)[c] < 0)
			rc = fail(rf, LETHE_EPARSE, "dataset '%s' holds a negative count", q);
	if (rc == 0 && steps)
		*steps = st;
	else
		free(st);
	*p = rc ? 0 : (size_t)n;
	return rc;
}

/* A row's optional setting attribute `name` (loss_weighting, precision): one of two strings,
 * whose index (the enum's value; the first is the default) goes into (*into)[row], allocated for
 * every row when a file first has the attribute. Anything else is refused, named. */
static int row_setting(lethe_runfile *rf, hid_t g, const char *path, size_t row, const char *name,
                       const char *const values[2], int **into)
{
	if (H5Aexists(g, name) <= 0)
		return 0;
	char *v = NULL;
	int rc = attr_scalar(rf, g, path, name, CLS_STRING, &v);
	if (rc == 0 && strcmp(v, values[0]) && strcmp(v, values[1]))
		rc = fail(rf, LETHE_EPARSE, "attribute '%s' of '%s' is '%s', expected %s or %s",
		          name, path, v, values[0], values[1]);
	if (rc == 0 && !*into && !(*into = calloc(rf->n_rows + 1, sizeof(int))))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	if (rc == 0)
		(*into)[row] = strcmp(v, values[1]) == 0;
	free(v);
	return rc;
}

static int check_row_curves(lethe_runfile *rf, size_t row)
{
	char path[600], q[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	hid_t g;
	int rc = open_group(rf, path, &g);
	if (rc)
		return rc;
	static const char *const weighting[] = {"token", "example"};
	static const char *const precision[] = {"fp32", "bf16"};
	rc = row_setting(rf, g, path, row, "loss_weighting", weighting, &rf->weighting);
	if (rc == 0)
		rc = row_setting(rf, g, path, row, "precision", precision, &rf->precision);
	H5Gclose(g);
	PATHF(q, "%s/eval_curve", path);
	size_t p;
	if (rc == 0 && exists(rf->f, q))
		rc = row_curve(rf, row, NULL, NULL, NULL, &p);
	return rc;
}

/* The checks both eval-curve getters make before reading: a usable handle, a row and a column
   in range, a trained row with an eval_curve group. 0 or the code the getter returns. */
static int eval_curve_row(lethe_runfile *rf, size_t row, size_t column)
{
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows || column >= rf->n_cols)
		return fail(rf, LETHE_EINVAL, "no row %zu or column %zu", row, column);
	char path[600], q[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	PATHF(q, "%s/eval_curve", path);
	if (!rf->trained[row] || !exists(rf->f, q))
		return LETHE_ENOTFOUND;
	return 0;
}

int lethe_runfile_eval_curve(lethe_runfile *rf, size_t row, size_t column, int **steps,
                             double **values, size_t *n)
{
	*steps = NULL;
	*values = NULL;
	*n = 0;
	int rc = eval_curve_row(rf, row, column);
	if (rc)
		return rc;
	int32_t *st = NULL;
	double *all = NULL;
	size_t p = 0;
	if ((rc = row_curve(rf, row, &st, &all, NULL, &p)))
		return rc;
	double *v = malloc((p + 1) * sizeof(double));
	if (!v) {
		free(st);
		free(all);
		return fail(rf, LETHE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < p; i++)
		v[i] = all[i * rf->n_cols + column];
	free(all);
	*steps = (int *)st;
	*values = v;
	*n = p;
	return 0;
}

int lethe_runfile_eval_curve_examples(lethe_runfile *rf, size_t row, size_t column,
                                      size_t *examples)
{
	*examples = 0;
	int rc = eval_curve_row(rf, row, column);
	if (rc)
		return rc;
	int32_t *ex = NULL;
	size_t p = 0;
	if ((rc = row_curve(rf, row, NULL, NULL, &ex, &p)))
		return rc;
	*examples = (size_t)ex[column];
	free(ex);
	return 0;
}

int lethe_runfile_row_precision(const lethe_runfile *rf, size_t row)
{
	return rf && rf->precision && row < rf->n_rows ? rf->precision[row] : LETHE_PRECISION_FP32;
}

int lethe_runfile_row_loss_weighting(const lethe_runfile *rf, size_t row)
{
	return rf && rf->weighting && row < rf->n_rows ? rf->weighting[row]
	                                               : LETHE_LOSS_WEIGHTING_TOKEN;
}

static int check_rows(lethe_runfile *rf)
{
	rf->trained = calloc(rf->n_rows + 1, sizeof(int));
	rf->steps = calloc(rf->n_rows + 1, sizeof(size_t));
	rf->plugins = calloc(rf->n_cols + 1, sizeof(char *));
	if (!rf->trained || !rf->steps || !rf->plugins)
		return fail(rf, LETHE_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t r = 0; rc == 0 && r < rf->n_rows; r++) {
		char path[600], p[900];
		rf_row_group(path, sizeof(path), r, rf->rows[r]);
		hid_t g;
		if ((rc = open_group(rf, path, &g)))
			break;
		int64_t trained = 0, row = 0;
		char *name = NULL;
		rc = attr_scalar(rf, g, path, "name", CLS_STRING, &name);
		if (rc == 0 && strcmp(name, rf->rows[r]) != 0)
			rc = fail(rf, LETHE_EPARSE, "attribute 'name' of '%s' is '%s'", path, name);
		free(name);
		if (rc == 0)
			rc = attr_i64(rf, g, path, "row", &row);
		if (rc == 0 && row != (int64_t)r)
			rc = fail(rf, LETHE_EPARSE, "attribute 'row' of '%s' is %lld, expected %zu",
			          path, (long long)row, r);
		if (rc == 0)
			rc = attr_i64(rf, g, path, "trained", &trained);
		if (rc == 0)
			rc = attr_count(rf, g, path, "steps", INT32_MAX, &rf->steps[r]);
		H5Gclose(g);
		rf->trained[r] = trained != 0;
		if (rc == 0 && trained) {
			PATHF(p, "%s/params", path);
			rc = vector(rf, p, CLS_FLOAT, rf->n_params, "the model's parameters", NULL,
			            NULL);
			for (int i = 0; rc == 0 && i < 3; i++) {
				static const char *const curves[3] = {"loss", "lr", "grad_norm"};
				PATHF(p, "%s/curves/%s", path, curves[i]);
				rc = vector(rf, p, CLS_FLOAT, rf->steps[r], "steps", NULL, NULL);
			}
			if (rc == 0)
				rc = check_row_curves(rf, r);
		}
		PATHF(p, "%s/drift", path);
		if (rc == 0 && exists(rf->f, p)) {
			char q[1000];
			PATHF(q, "%s/groups", p);
			rc = vector(rf, q, CLS_STRING, LETHE_RUNFILE_DRIFT_GROUPS, "groups", NULL,
			            NULL);
			for (int k = 0; rc == 0 && k < 4; k++) {
				PATHF(q, "%s/%s", p, rf_drift_kinds[k]);
				rc = vector(rf, q, CLS_FLOAT, LETHE_RUNFILE_DRIFT_GROUPS, "groups",
				            NULL, NULL);
			}
		}
		for (size_t c = 0; rc == 0 && c < rf->n_cols; c++) {
			PATHF(p, "%s/eval/%s", path, rf->cols[c]);
			rc = check_eval(rf, p, c);
		}
	}
	return rc;
}

static int check_forgetting(lethe_runfile *rf)
{
	int rc = 0;
	for (int w = 0; rc == 0 && w < 2; w++) {
		lethe_forgetting fm;
		rc = lethe_runfile_forgetting(rf, rf_measures[w], &fm);
		if (rc == 0)
			lethe_forgetting_free(&fm);
	}
	for (int k = 0; rc == 0 && k < 4; k++) {
		double *v = NULL;
		rc = lethe_runfile_drift(rf, rf_drift_kinds[k], &v);
		free(v);
	}
	if (rc == 0)
		rc = dataset_names_equal(rf, "forgetting/drift/rows", rf->rows, rf->n_rows, "rows");
	if (rc == 0)
		rc = vector(rf, "forgetting/drift/groups", CLS_STRING, LETHE_RUNFILE_DRIFT_GROUPS,
		            "groups", NULL, NULL);
	hid_t g;
	if (rc == 0 && (rc = open_group(rf, "forgetting/events", &g)) == 0)
		H5Gclose(g);
	for (size_t c = 0; rc == 0 && c < rf->n_cols; c++) {
		char p[600];
		PATHF(p, "forgetting/events/%s", rf->cols[c]);
		if (!exists(rf->f, p))
			continue;
		rc = vector(rf, p, CLS_INT, ANY, NULL, NULL, NULL);
		hid_t ds = rc ? -1 : H5Dopen2(rf->f, p, H5P_DEFAULT);
		int64_t v;
		double t;
		if (ds >= 0) {
			rc = attr_i64(rf, ds, p, "events", &v);
			if (rc == 0)
				rc = attr_i64(rf, ds, p, "examples_forgotten", &v);
			if (rc == 0)
				rc = attr_scalar(rf, ds, p, "threshold", CLS_FLOAT, &t);
			H5Dclose(ds);
		}
		int32_t *counts = NULL;
		size_t n = 0;
		if (rc == 0)
			rc = lethe_runfile_events(rf, c, &counts, &n); /* the counts' values too */
		free(counts);
	}
	/* Intervals (issue #12): optional, checked whole when present. */
	if (rc == 0 && exists(rf->f, "intervals")) {
		lethe_intervals iv;
		if ((rc = lethe_runfile_intervals(rf, &iv)) == LETHE_ENOTFOUND)
			rc = fail(rf, LETHE_EPARSE, "group 'intervals' has no group 'primary'");
		lethe_intervals_free(&iv);
	}
	return rc;
}

static int check_model(lethe_runfile *rf)
{
	hid_t g;
	int rc = open_group(rf, "tokenizer", &g);
	size_t vocab_size = 0;
	if (rc == 0) {
		rc = attr_count(rf, g, "tokenizer", "vocab_size", INT32_MAX, &vocab_size);
		H5Gclose(g);
	}
	hsize_t want[2] = {ANY, 2}, d[2] = {0, 0};
	if (rc == 0)
		rc = dataset(rf, "tokenizer/merges", CLS_INT, 2, want, "merges x 2", d, NULL);
	rf->n_merges = (size_t)d[0];
	if (rc == 0 && open_group(rf, "tokenizer", &g) == 0) {
		if (H5Aexists(g, "source") > 0)
			rc = attr_scalar(rf, g, "tokenizer", "source", CLS_STRING, &rf->tok_source);
		H5Gclose(g);
	}
	if (rc == 0 && rf->tok_source && rf->n_merges != 0)
		rc = fail(rf, LETHE_EPARSE,
		          "'tokenizer' names a pretrained tokenizer's source but holds merges");
	if (rc == 0 && !rf->tok_source && vocab_size != LETHE_TOKEN_FIRST_MERGE + rf->n_merges)
		rc = fail(rf, LETHE_EPARSE,
		          "attribute 'vocab_size' of 'tokenizer' is %zu, but 'tokenizer/merges' "
		          "holds %zu merges (vocabulary %zu)",
		          vocab_size, rf->n_merges, LETHE_TOKEN_FIRST_MERGE + rf->n_merges);
	if (rc == 0)
		rc = open_group(rf, "model", &g);
	if (rc)
		return rc;
	int64_t v[7] = {0};
	double eps = 0, theta = 0;
	for (int i = 0; rc == 0 && i < 7; i++) {
		rc = attr_i64(rf, g, "model", rf_model_ints[i], &v[i]);
		if (rc == 0 && (v[i] < 0 || v[i] > INT32_MAX))
			rc = fail(rf, LETHE_EPARSE, "attribute '%s' of 'model' is %lld",
			          rf_model_ints[i], (long long)v[i]);
	}
	if (rc == 0)
		rc = attr_scalar(rf, g, "model", "norm_eps", CLS_FLOAT, &eps);
	if (rc == 0)
		rc = attr_scalar(rf, g, "model", "rope_theta", CLS_FLOAT, &theta);
	if (rc == 0)
		rc = attr_count(rf, g, "model", "params", INT64_MAX, &rf->n_params);
	/* A pretrained model's shapes (lethe's own follow from heads). */
	int64_t kv = 0, hd = 0, l3 = 0, orig = 0;
	double fac = 0, lo = 0, hi = 0;
	if (rc == 0 && H5Aexists(g, "from") > 0)
		rc = attr_scalar(rf, g, "model", "from", CLS_STRING, &rf->model_from);
	if (rc == 0 && H5Aexists(g, "from_stage") > 0)
		rc = attr_scalar(rf, g, "model", "from_stage", CLS_STRING, &rf->model_from_stage);
	if (rc == 0 && !rf->model_from && rf->tok_source &&
	    !(rf->model_from = strdup(rf->tok_source)))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	if (rc == 0 && rf->model_from) {
		static const char *const ints[] = {"kv_heads", "head_dim", "rope_llama3",
		                                   "rope_original_context"};
		int64_t *iv[] = {&kv, &hd, &l3, &orig};
		for (int i = 0; rc == 0 && i < 4; i++)
			if ((rc = attr_i64(rf, g, "model", ints[i], iv[i])) == 0 &&
			    (*iv[i] < 0 || *iv[i] > INT32_MAX))
				rc = fail(rf, LETHE_EPARSE, "attribute '%s' of 'model' is %lld",
				          ints[i], (long long)*iv[i]);
		if (rc == 0)
			rc = attr_scalar(rf, g, "model", "rope_factor", CLS_FLOAT, &fac);
		if (rc == 0)
			rc = attr_scalar(rf, g, "model", "rope_low_freq_factor", CLS_FLOAT, &lo);
		if (rc == 0)
			rc = attr_scalar(rf, g, "model", "rope_high_freq_factor", CLS_FLOAT, &hi);
	}
	H5Gclose(g);
	if (rc)
		return rc;
	rf->config = (lethe_model_config){.vocab = (int)v[0],
	                                  .context = (int)v[1],
	                                  .dim = (int)v[2],
	                                  .layers = (int)v[3],
	                                  .heads = (int)v[4],
	                                  .ff = (int)v[5],
	                                  .tied = (int)v[6],
	                                  .norm_eps = (float)eps,
	                                  .rope_theta = (float)theta,
	                                  .kv_heads = (int)kv,
	                                  .head_dim = (int)hd,
	                                  .rope_llama3 = (int)l3,
	                                  .rope_factor = (float)fac,
	                                  .rope_low_freq_factor = (float)lo,
	                                  .rope_high_freq_factor = (float)hi,
	                                  .rope_original_context = (int)orig};
	char why[256] = "";
	if (lethe_model_config_check(&rf->config, why, sizeof(why)))
		return fail(rf, LETHE_EPARSE, "the model's attributes are not a valid model: %s",
		            why);
	if (lethe_model_config_params(&rf->config) != rf->n_params)
		return fail(rf, LETHE_EPARSE,
		            "attribute 'params' of 'model' is %zu, but its configuration has %zu",
		            rf->n_params, lethe_model_config_params(&rf->config));
	/* A pretrained model's embedding table may be padded beyond its tokenizer's ids. */
	if (rf->model_from ? (size_t)rf->config.vocab < vocab_size
	                   : (size_t)rf->config.vocab != vocab_size)
		return fail(rf, LETHE_EPARSE,
		            "attribute 'vocab' of 'model' is %d, but the tokenizer's is %zu",
		            rf->config.vocab, vocab_size);
	hsize_t nt = 0, tw[2] = {ANY, 5};
	rc = vector(rf, "model/tensor_names", CLS_STRING, ANY, NULL, &nt, NULL);
	tw[0] = nt;
	if (rc == 0)
		rc = dataset(rf, "model/tensors", CLS_INT, 2, tw, "tensor_names x 5", NULL, NULL);
	return rc;
}

static int check_resume(lethe_runfile *rf)
{
	hid_t g;
	int rc = open_group(rf, "resume", &g);
	if (rc)
		return rc;
	int64_t steps = 0, rows = 0;
	rc = attr_i64(rf, g, "resume", "optimizer_steps", &steps);
	if (rc == 0)
		rc = attr_i64(rf, g, "resume", "rows", &rows);
	H5Gclose(g);
	if (rc == 0 && rows != (int64_t)rf->n_rows)
		rc = fail(rf, LETHE_EPARSE,
		          "attribute 'rows' of 'resume' is %lld, but the file has %zu rows",
		          (long long)rows, rf->n_rows);
	if (rc == 0)
		rc = vector(rf, "resume/params", CLS_FLOAT, rf->n_params, "the model's parameters",
		            NULL, NULL);
	int m = exists(rf->f, "resume/adam_m"), v = exists(rf->f, "resume/adam_v");
	if (rc == 0 && m != v)
		rc = fail(rf, LETHE_EPARSE, "missing dataset 'resume/%s'", m ? "adam_v" : "adam_m");
	if (rc == 0 && m)
		rc = vector(rf, "resume/adam_m", CLS_FLOAT, rf->n_params, "the model's parameters",
		            NULL, NULL);
	if (rc == 0 && m)
		rc = vector(rf, "resume/adam_v", CLS_FLOAT, rf->n_params, "the model's parameters",
		            NULL, NULL);
	rf->has_moments = m;
	return rc;
}

static int check_curriculum(lethe_runfile *rf)
{
	hsize_t n = 0;
	int rc = dataset(rf, "curriculum/text", CLS_STRING, 0, NULL, NULL, NULL, NULL);
	if (rc == 0)
		rc = dataset(rf, "curriculum/path", CLS_STRING, 0, NULL, NULL, NULL, NULL);
	if (rc == 0)
		rc = vector(rf, "curriculum/stages", CLS_STRING, ANY, NULL, &n,
		            (void **)&rf->stages);
	rf->n_stages = rc ? 0 : (size_t)n;
	return rc;
}

static int open_checked(lethe_runfile *rf, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return fail(rf, LETHE_EIO, "%s", strerror(errno));
	lethe_runfile__hdf5_init();
	if (!S_ISREG(sb.st_mode) || H5Fis_hdf5(path) <= 0)
		return fail(rf, LETHE_EIO, "not a readable HDF5 file");
	char why[256];
	if (lethe_runfile__probe(path, why, sizeof(why)) != 0)
		return fail(rf, LETHE_EPARSE, "%s", why);
	rf->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (rf->f < 0)
		return fail(rf, LETHE_EIO, "not a readable HDF5 file (damaged or truncated?)");
	char *format = NULL;
	int64_t version = 0;
	if (H5Aexists(rf->f, "format") <= 0)
		return fail(rf, LETHE_EPARSE, "not a lethe run file (no attribute 'format')");
	int rc = attr_scalar(rf, rf->f, "", "format", CLS_STRING, &format);
	if (rc == 0 && strcmp(format, RF_FORMAT) != 0)
		rc = fail(rf, LETHE_EPARSE, "not a lethe run file (attribute 'format' is '%s')",
		          format);
	free(format);
	if (rc == 0)
		rc = attr_i64(rf, rf->f, "", "format_version", &version);
	if (rc == 0 && version != RF_VERSION)
		return fail(
		    rf, LETHE_EVERSION,
		    "format_version %lld is not supported: this lethe reads format_version %d",
		    (long long)version, RF_VERSION);
	rf->version = (int)version;
	if (rc == 0)
		rc = attr_scalar(rf, rf->f, "", "name", CLS_STRING, &rf->name);
	if (rc == 0)
		rc = attr_i64(rf, rf->f, "", "seed", &rf->seed);
	rf->data_seed = rf->seed;
	if (rc == 0 && H5Aexists(rf->f, "data_seed") > 0)
		rc = attr_i64(rf, rf->f, "", "data_seed", &rf->data_seed);
	if (rc == 0)
		rc = attr_strings(rf, rf->f, "", "rows", ANY, NULL, &rf->rows, &rf->n_rows);
	if (rc == 0 && rf->n_rows == 0)
		rc = fail(rf, LETHE_EPARSE, "attribute 'rows' is empty: the file holds no row");
	/* The columns come from the primary matrix's attribute; everything else is held to them. */
	hid_t ds = -1;
	if (rc == 0 && !exists(rf->f, "matrices/primary"))
		rc = fail(rf, LETHE_EPARSE, "missing dataset 'matrices/primary'");
	if (rc == 0 && (ds = H5Dopen2(rf->f, "matrices/primary", H5P_DEFAULT)) < 0)
		rc = fail(rf, LETHE_EPARSE, "'matrices/primary' is not a dataset");
	if (rc == 0)
		rc = attr_strings(rf, ds, "matrices/primary", "columns", ANY, NULL, &rf->cols,
		                  &rf->n_cols);
	if (ds >= 0)
		H5Dclose(ds);
	if (rc == 0)
		rc = check_model(rf);
	if (rc == 0)
		rc = check_matrices(rf);
	if (rc == 0)
		rc = check_rows(rf);
	if (rc == 0)
		rc = check_forgetting(rf);
	if (rc == 0)
		rc = check_resume(rf);
	if (rc == 0)
		rc = check_curriculum(rf);
	return rc;
}

int lethe_runfile_open(lethe_runfile **out, const char *path)
{
	lethe_runfile *rf = calloc(1, sizeof(*rf));
	*out = rf;
	if (!rf)
		return LETHE_ENOMEM;
	rf->f = -1;
	if (!(rf->path = strdup(path))) {
		free(rf);
		*out = NULL;
		return LETHE_ENOMEM;
	}
	int rc = open_checked(rf, path);
	if (rc && rf->f >= 0) {
		H5Fclose(rf->f);
		rf->f = -1;
	}
	return rc;
}

void lethe_runfile_free(lethe_runfile *rf)
{
	if (!rf)
		return;
	if (rf->f >= 0)
		H5Fclose(rf->f);
	free(rf->path);
	free(rf->name);
	free(rf->tok_source);
	free(rf->model_from);
	free(rf->model_from_stage);
	free_strings(rf->rows, rf->n_rows);
	free_strings(rf->cols, rf->n_cols);
	free_strings(rf->metrics, rf->n_cols);
	free_strings(rf->plugins, rf->n_cols);
	free_strings(rf->matrices, rf->n_matrices);
	free_strings(rf->stages, rf->n_stages);
	free(rf->lower);
	free(rf->trained);
	free(rf->steps);
	free(rf->weighting);
	free(rf->precision);
	free(rf);
}

const char *lethe_runfile_errmsg(const lethe_runfile *rf)
{
	return rf ? rf->errmsg : "out of memory";
}

/* Reads need an open, checked file. */
static int usable(lethe_runfile *rf)
{
	if (rf->f < 0)
		return fail(rf, LETHE_EINVAL, "the run file was not opened");
	return 0;
}

const char *lethe_runfile_path(const lethe_runfile *rf)
{
	return rf->path;
}
int lethe_runfile_format_version(const lethe_runfile *rf)
{
	return rf->version;
}
const char *lethe_runfile_name(const lethe_runfile *rf)
{
	return rf->name ? rf->name : "";
}
size_t lethe_runfile_n_rows(const lethe_runfile *rf)
{
	return rf->n_rows;
}
const char *const *lethe_runfile_row_names(const lethe_runfile *rf)
{
	return (const char *const *)rf->rows;
}
size_t lethe_runfile_n_columns(const lethe_runfile *rf)
{
	return rf->n_cols;
}
const char *const *lethe_runfile_column_names(const lethe_runfile *rf)
{
	return (const char *const *)rf->cols;
}
const char *const *lethe_runfile_column_plugins(const lethe_runfile *rf)
{
	return (const char *const *)rf->plugins;
}
const char *const *lethe_runfile_column_metrics(const lethe_runfile *rf)
{
	return (const char *const *)rf->metrics;
}
const int *lethe_runfile_column_lower(const lethe_runfile *rf)
{
	return rf->lower;
}
size_t lethe_runfile_n_matrices(const lethe_runfile *rf)
{
	return rf->n_matrices;
}
const char *lethe_runfile_matrix_name(const lethe_runfile *rf, size_t i)
{
	return i < rf->n_matrices ? rf->matrices[i] : NULL;
}
size_t lethe_runfile_n_stages(const lethe_runfile *rf)
{
	return rf ? rf->n_stages : 0;
}

int lethe_runfile_row_trained(const lethe_runfile *rf, size_t row)
{
	return row < rf->n_rows ? rf->trained[row] : 0;
}
size_t lethe_runfile_row_steps(const lethe_runfile *rf, size_t row)
{
	return row < rf->n_rows ? rf->steps[row] : 0;
}
const lethe_model_config *lethe_runfile_model_config(const lethe_runfile *rf)
{
	return &rf->config;
}

int lethe_runfile_matrix(lethe_runfile *rf, const char *name, double **out)
{
	*out = NULL;
	int rc = usable(rf);
	if (rc)
		return rc;
	size_t i;
	for (i = 0; i < rf->n_matrices && strcmp(rf->matrices[i], name) != 0; i++)
		;
	if (i == rf->n_matrices)
		return fail(rf, LETHE_ENOTFOUND, "no matrix of metric '%s'", name);
	char path[600];
	rf_matrix_dataset(path, sizeof(path), name);
	hsize_t want[2] = {rf->n_rows, rf->n_cols};
	return dataset(rf, path, CLS_FLOAT, 2, want, "rows x columns", NULL, (void **)out);
}

void lethe_runfile_eval_clear(lethe_runfile_eval *ev)
{
	free(ev->nll);
	free(ev->n_tokens);
	free(ev->score);
	free(ev->stats);
	free_strings(ev->predictions, ev->n);
	free_strings(ev->metric_names, ev->n_metrics);
	free(ev->metric_values);
	free(ev->metric_flags);
	memset(ev, 0, sizeof(*ev));
}

int lethe_runfile_read_eval(lethe_runfile *rf, size_t row, size_t column, lethe_runfile_eval *out)
{
	memset(out, 0, sizeof(*out));
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows || column >= rf->n_cols)
		return fail(rf, LETHE_EINVAL, "no row %zu, column %zu", row, column);
	char path[600], p[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	size_t len = strlen(path);
	snprintf(path + len, sizeof(path) - len, "/eval/%s", rf->cols[column]);
	hid_t g;
	if ((rc = open_group(rf, path, &g)))
		return rc;
	rc = attr_count(rf, g, path, "examples", INT32_MAX, &out->n);
	H5Gclose(g);
	hsize_t k = 0;
	int32_t *flags = NULL;
	PATHF(p, "%s/nll", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_FLOAT, out->n, "examples", NULL, (void **)&out->nll);
	PATHF(p, "%s/n_tokens", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_INT, out->n, "examples", NULL, (void **)&out->n_tokens);
	PATHF(p, "%s/score", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_FLOAT, out->n, "examples", NULL, (void **)&out->score);
	PATHF(p, "%s/predictions", path);
	if (rc == 0 && exists(rf->f, p))
		rc =
		    vector(rf, p, CLS_STRING, out->n, "examples", NULL, (void **)&out->predictions);
	PATHF(p, "%s/metric_names", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_STRING, ANY, NULL, &k, (void **)&out->metric_names);
	out->n_metrics = out->metric_names ? (size_t)k : 0;
	PATHF(p, "%s/metric_values", path);
	if (rc == 0)
		rc =
		    vector(rf, p, CLS_FLOAT, k, "metric_names", NULL, (void **)&out->metric_values);
	PATHF(p, "%s/metric_flags", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_INT, k, "metric_names", NULL, (void **)&flags);
	if (rc == 0 && !(out->metric_flags = calloc(k + 1, sizeof(unsigned))))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < k; i++)
		out->metric_flags[i] = (unsigned)flags[i];
	free(flags);
	if (rc == 0)
		rc = eval_stats(rf, path, out->n, &out->stats, &out->n_stats, &out->aggregate);
	if (rc)
		lethe_runfile_eval_clear(out);
	return rc;
}

int lethe_runfile_forgetting(lethe_runfile *rf, const char *which, lethe_forgetting *out)
{
	memset(out, 0, sizeof(*out));
	int rc = usable(rf);
	if (rc)
		return rc;
	char path[300], p[400];
	PATHF(path, "forgetting/%s", which);
	hid_t g;
	if ((rc = open_group(rf, path, &g)))
		return rc;
	double *scalars[4] = {&out->acc, &out->bwt, &out->fwt, &out->chaudhry};
	static const char *const names[4] = {"acc", "bwt", "fwt", "chaudhry"};
	for (int i = 0; rc == 0 && i < 4; i++)
		rc = attr_scalar(rf, g, path, names[i], CLS_FLOAT, scalars[i]);
	H5Gclose(g);
	out->n_tasks = rf->n_cols;
	PATHF(p, "%s/tasks", path);
	if (rc == 0)
		rc = dataset_names_equal(rf, p, rf->cols, rf->n_cols, "columns");
	double **arrays[4] = {&out->learning, &out->forgetting, &out->max_drop, &out->transfer};
	static const char *const anames[4] = {"learning", "forgetting", "max_drop", "transfer"};
	for (int i = 0; rc == 0 && i < 4; i++) {
		PATHF(p, "%s/%s", path, anames[i]);
		rc = vector(rf, p, CLS_FLOAT, rf->n_cols, "columns", NULL, (void **)arrays[i]);
	}
	/* One scale (issue #12): optional, absent from files written before it (then NaN, and
	 * scale stays NULL: the measures there are on the raw scores). */
	double **extra[6] = {&out->scale,      &out->final,   &out->relative,
	                     &out->normalised, &out->forward, &out->gain};
	static const char *const enames[6] = {
	    "scale", "final", "relative_forgetting", "normalised", "forward_transfer", "gain"};
	for (int i = 0; rc == 0 && i < 6; i++) {
		PATHF(p, "%s/%s", path, enames[i]);
		if (exists(rf->f, p))
			rc = vector(rf, p, CLS_FLOAT, rf->n_cols, "columns", NULL,
			            (void **)extra[i]);
		else if (i > 0) {
			if (!(*extra[i] = malloc((rf->n_cols + 1) * sizeof(double))))
				rc = fail(rf, LETHE_ENOMEM, "out of memory");
			for (size_t c = 0; rc == 0 && c < rf->n_cols; c++)
				(*extra[i])[c] = NAN;
		}
	}
	PATHF(p, "%s/scale", path);
	for (size_t c = 0; rc == 0 && out->scale && c < rf->n_cols; c++)
		if (!(out->scale[c] > 0 && isfinite(out->scale[c])))
			rc = fail(rf, LETHE_EPARSE,
			          "dataset '%s' holds %g, expected a positive scale", p,
			          out->scale[c]);
	int32_t *tr = NULL;
	PATHF(p, "%s/trained_row", path);
	if (rc == 0)
		rc = vector(rf, p, CLS_INT, rf->n_cols, "columns", NULL, (void **)&tr);
	if (rc == 0 && !(out->trained_row = malloc((rf->n_cols + 1) * sizeof(int))))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t c = 0; rc == 0 && c < rf->n_cols; c++) {
		if (tr[c] < -1 || tr[c] >= (int32_t)rf->n_rows)
			rc = fail(rf, LETHE_EPARSE,
			          "dataset '%s' holds row %d, the file has %zu rows", p, (int)tr[c],
			          rf->n_rows);
		else
			out->trained_row[c] = tr[c];
	}
	free(tr);
	if (rc)
		lethe_forgetting_free(out);
	return rc;
}

int lethe_runfile_nll_intervals(lethe_runfile *rf, lethe_intervals *out)
{
	memset(out, 0, sizeof(*out));
	int rc = usable(rf);
	if (rc)
		return rc;
	size_t R = rf->n_rows, C = rf->n_cols;
	lethe_interval_input *in = calloc(R * C + 1, sizeof(*in));
	int *lower = malloc((C + 1) * sizeof(int));
	lethe_forgetting fm = {0};
	if (!in || !lower)
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t c = 0; rc == 0 && c < C; c++)
		lower[c] = 1;
	/* Each cell's statistics: per example its summed NLL and its target tokens. */
	for (size_t r = 0; rc == 0 && r < R; r++)
		for (size_t c = 0; rc == 0 && c < C; c++) {
			lethe_runfile_eval ev;
			if ((rc = lethe_runfile_read_eval(rf, r, c, &ev)))
				break;
			double *st = malloc((2 * ev.n + 1) * sizeof(double));
			if (!st)
				rc = fail(rf, LETHE_ENOMEM, "out of memory");
			for (size_t i = 0; st && i < ev.n; i++) {
				st[2 * i] = ev.nll[i];
				st[2 * i + 1] = ev.n_tokens[i];
			}
			in[r * C + c] = (lethe_interval_input){ev.n, 2, LETHE_INTERVAL_RATIO, st};
			lethe_runfile_eval_clear(&ev);
		}
	if (rc == 0)
		rc = lethe_runfile_forgetting(rf, "target_nll", &fm);
	int has_baseline = R > 0 && !rf->trained[0];
	if (rc == 0 && (rc = lethe_intervals_compute(out, in, R, C, has_baseline, fm.trained_row,
	                                             lower, NULL, 1000, 0.95, (uint64_t)rf->seed)))
		rc = fail(rf, rc, "%s", rc == LETHE_ENOMEM ? "out of memory" : "bootstrap failed");
	for (size_t i = 0; in && i < R * C; i++)
		free((void *)in[i].stats);
	free(in);
	free(lower);
	lethe_forgetting_free(&fm);
	return rc;
}

int lethe_runfile_intervals(lethe_runfile *rf, lethe_intervals *out)
{
	memset(out, 0, sizeof(*out));
	int rc = usable(rf);
	if (rc)
		return rc;
	static const char path[] = "intervals/primary";
	if (!exists(rf->f, path))
		return LETHE_ENOTFOUND;
	char p[300];
	hid_t g;
	if ((rc = open_group(rf, path, &g)))
		return rc;
	int64_t resamples = 0, seed = 0;
	double level = NAN;
	rc = attr_i64(rf, g, path, "resamples", &resamples);
	if (rc == 0)
		rc = attr_i64(rf, g, path, "seed", &seed);
	if (rc == 0)
		rc = attr_scalar(rf, g, path, "level", CLS_FLOAT, &level);
	H5Gclose(g);
	if (rc == 0 && (resamples < 1 || !(level > 0 && level < 1)))
		rc = fail(rf, LETHE_EPARSE,
		          "group '%s': resamples %lld, level %g: expected >= 1 and "
		          "a level in (0, 1)",
		          path, (long long)resamples, level);
	if (rc)
		return rc;
	out->rows = rf->n_rows;
	out->cols = rf->n_cols;
	out->resamples = (size_t)resamples;
	out->level = level;
	out->seed = (uint64_t)seed;
	hsize_t d3[3] = {rf->n_rows, rf->n_cols, 2}, d2[2] = {rf->n_cols, 2};
	PATHF(p, "%s/cells", path);
	rc = dataset(rf, p, CLS_FLOAT, 3, d3, "rows x columns x 2", NULL, (void **)&out->cells);
	static const char *const mnames[4] = {"acc", "bwt", "fwt", "chaudhry"};
	for (int i = 0; rc == 0 && i < 4; i++) {
		double *v = NULL;
		PATHF(p, "%s/%s", path, mnames[i]);
		rc = vector(rf, p, CLS_FLOAT, 2, "low, high", NULL, (void **)&v);
		if (rc == 0) {
			out->measures[i][0] = v[0];
			out->measures[i][1] = v[1];
		}
		free(v);
	}
	size_t F = LETHE_INTERVAL_TASK_FIGURES;
	if (rc == 0 && !(out->per_task = malloc((F * rf->n_cols * 2 + 1) * sizeof(double))))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t k = 0; rc == 0 && k < F; k++) {
		double *v = NULL;
		PATHF(p, "%s/%s", path, lethe_interval_task_figure(k));
		rc = dataset(rf, p, CLS_FLOAT, 2, d2, "columns x 2", NULL, (void **)&v);
		if (rc == 0)
			memcpy(out->per_task + k * rf->n_cols * 2, v,
			       rf->n_cols * 2 * sizeof(double));
		free(v);
	}
	if (rc)
		lethe_intervals_free(out);
	return rc;
}

int lethe_runfile_drift(lethe_runfile *rf, const char *kind, double **out)
{
	*out = NULL;
	int rc = usable(rf);
	if (rc)
		return rc;
	int k;
	for (k = 0; k < 4 && strcmp(rf_drift_kinds[k], kind) != 0; k++)
		;
	if (k == 4)
		return fail(rf, LETHE_EINVAL, "no drift kind '%s'", kind);
	char p[200];
	PATHF(p, "forgetting/drift/%s", kind);
	hsize_t want[2] = {rf->n_rows, LETHE_RUNFILE_DRIFT_GROUPS};
	return dataset(rf, p, CLS_FLOAT, 2, want, "rows x groups", NULL, (void **)out);
}

int lethe_runfile_events(lethe_runfile *rf, size_t column, int32_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rc = usable(rf);
	if (rc)
		return rc;
	if (column >= rf->n_cols)
		return fail(rf, LETHE_EINVAL, "no column %zu", column);
	char p[600];
	PATHF(p, "forgetting/events/%s", rf->cols[column]);
	if (!exists(rf->f, p))
		return LETHE_ENOTFOUND;
	hsize_t d = 0;
	rc = vector(rf, p, CLS_INT, ANY, NULL, &d, (void **)out);
	for (size_t i = 0; rc == 0 && i < (size_t)d; i++)
		if ((*out)[i] < 0)
			rc = fail(rf, LETHE_EPARSE, "dataset '%s' holds a negative count at %zu", p,
			          i);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	*n = rc ? 0 : (size_t)d;
	return rc;
}

int lethe_runfile_curve(lethe_runfile *rf, size_t row, const char *name, float **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows)
		return fail(rf, LETHE_EINVAL, "no row %zu", row);
	if (strcmp(name, "loss") && strcmp(name, "lr") && strcmp(name, "grad_norm") &&
	    strcmp(name, "penalty"))
		return fail(rf, LETHE_EINVAL, "no curve '%s'", name);
	if (!rf->trained[row])
		return LETHE_ENOTFOUND;
	char path[600], p[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	PATHF(p, "%s/curves/%s", path, name);
	if (strcmp(name, "penalty") == 0 && !exists(rf->f, p))
		return LETHE_ENOTFOUND; /* only a stage with a regulariser has it */
	double *v = NULL;
	rc = vector(rf, p, CLS_FLOAT, rf->steps[row], "steps", NULL, (void **)&v);
	if (rc == 0 && !(*out = malloc((rf->steps[row] + 1) * sizeof(float))))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < rf->steps[row]; i++)
		(*out)[i] = (float)v[i];
	free(v);
	*n = rc ? 0 : rf->steps[row];
	return rc;
}

int lethe_runfile_tokenizer(lethe_runfile *rf, lethe_tokenizer **out)
{
	*out = NULL;
	int rc = usable(rf);
	if (rc)
		return rc;
	if (rf->tok_source) {
		/* The checkpoint's tokenizer, opened again where the run found it. */
		if ((rc = lethe_tokenizer_open(out, rf->tok_source))) {
			fail(rf, rc, "the run's tokenizer: %s", lethe_tokenizer_errmsg(*out));
			lethe_tokenizer_free(*out);
			*out = NULL;
		} else if (lethe_tokenizer_vocab_size(*out) > (size_t)rf->config.vocab) {
			rc = fail(
			    rf, LETHE_EPARSE, "the tokenizer of %s has %zu tokens, the model %d",
			    rf->tok_source, lethe_tokenizer_vocab_size(*out), rf->config.vocab);
			lethe_tokenizer_free(*out);
			*out = NULL;
		}
		return rc;
	}
	hsize_t want[2] = {rf->n_merges, 2};
	int32_t *merges = NULL;
	rc =
	    dataset(rf, "tokenizer/merges", CLS_INT, 2, want, "merges x 2", NULL, (void **)&merges);
	for (size_t i = 0; rc == 0 && i < 2 * rf->n_merges; i++)
		if (merges[i] < 0 || merges[i] >= (int32_t)(LETHE_TOKEN_FIRST_MERGE + i / 2))
			rc = fail(rf, LETHE_EPARSE,
			          "dataset 'tokenizer/merges': merge %zu joins token %d, which "
			          "does not exist yet",
			          i / 2, (int)merges[i]);
	if (rc == 0 && (rc = lethe_tokenizer_from_merges(out, merges, rf->n_merges)))
		fail(rf, rc, "cannot rebuild the tokenizer from 'tokenizer/merges'");
	free(merges);
	return rc;
}

/* Reads a float vector of the model's parameter count into dst. */
static int read_block(lethe_runfile *rf, const char *path, lethe_model *m, float *dst)
{
	size_t np = lethe_model_num_params(m);
	if (np != rf->n_params)
		return fail(rf, LETHE_EINVAL, "the model has %zu parameters, the file's %zu", np,
		            rf->n_params);
	obj o;
	int rc = open_dataset(rf, path, &o);
	hsize_t want[1] = {np};
	if (rc == 0)
		rc = check(rf, &o, CLS_FLOAT, 1, want, "the model's parameters", NULL);
	if (rc == 0 && np &&
	    H5Dread(o.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
		rc = fail(rf, LETHE_EIO, "dataset '%s' cannot be read (damaged or truncated file?)",
		          path);
	obj_close(&o);
	return rc;
}

int lethe_runfile_params(lethe_runfile *rf, size_t row, lethe_model *m)
{
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows)
		return fail(rf, LETHE_EINVAL, "no row %zu", row);
	if (!rf->trained[row])
		return fail(rf, LETHE_ENOTFOUND, "row '%s' was not trained: it has no parameters",
		            rf->rows[row]);
	char path[600], p[900];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	PATHF(p, "%s/params", path);
	/* Read into a copy first: a failed read leaves the model as it was. */
	size_t np = lethe_model_num_params(m);
	float *tmp = malloc((np + 1) * sizeof(float));
	if (!tmp)
		return fail(rf, LETHE_ENOMEM, "out of memory");
	rc = read_block(rf, p, m, tmp);
	if (rc == 0)
		memcpy(lethe_model_params(m), tmp, np * sizeof(float));
	free(tmp);
	return rc;
}

int lethe_runfile_resume_state(lethe_runfile *rf, lethe_model *m)
{
	int rc = usable(rf);
	if (rc)
		return rc;
	size_t np = lethe_model_num_params(m);
	float *p = malloc((np + 1) * sizeof(float));
	float *mo = rf->has_moments ? malloc((np + 1) * sizeof(float)) : NULL;
	float *ve = rf->has_moments ? malloc((np + 1) * sizeof(float)) : NULL;
	int64_t steps = 0;
	if (!p || (rf->has_moments && (!mo || !ve)))
		rc = fail(rf, LETHE_ENOMEM, "out of memory");
	if (rc == 0)
		rc = read_block(rf, "resume/params", m, p);
	if (rc == 0 && rf->has_moments)
		rc = read_block(rf, "resume/adam_m", m, mo);
	if (rc == 0 && rf->has_moments)
		rc = read_block(rf, "resume/adam_v", m, ve);
	hid_t g = -1;
	if (rc == 0 && (rc = open_group(rf, "resume", &g)) == 0) {
		rc = attr_i64(rf, g, "resume", "optimizer_steps", &steps);
		H5Gclose(g);
		if (rc == 0 && steps < 0)
			rc = fail(rf, LETHE_EPARSE,
			          "attribute 'optimizer_steps' of 'resume' is %lld",
			          (long long)steps);
	}
	if (rc == 0 && rf->has_moments && (!lethe_model_adam_m(m) || !lethe_model_adam_v(m)))
		rc = fail(rf, LETHE_ENOMEM, "out of memory for the optimizer state");
	if (rc == 0) {
		memcpy(lethe_model_params(m), p, np * sizeof(float));
		if (rf->has_moments) {
			memcpy(lethe_model_adam_m(m), mo, np * sizeof(float));
			memcpy(lethe_model_adam_v(m), ve, np * sizeof(float));
		}
		lethe_model_set_steps_taken(m, (uint64_t)steps);
	}
	free(p);
	free(mo);
	free(ve);
	return rc;
}

int lethe_runfile_row_methods(lethe_runfile *rf, size_t row, char **out)
{
	*out = NULL;
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows)
		return fail(rf, LETHE_EINVAL, "no row %zu", row);
	char path[600];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	hid_t g;
	if ((rc = open_group(rf, path, &g)))
		return rc;
	if (H5Aexists(g, "methods") > 0)
		rc = attr_scalar(rf, g, path, "methods", CLS_STRING, out);
	else
		rc = LETHE_ENOTFOUND;
	H5Gclose(g);
	return rc;
}

/* ---- what --resume reads back (runfile.h) --------------------------------------------------- */

/* The methods' resume state (docs/methods.md). */
int lethe_runfile__resume_methods(lethe_runfile *rf, size_t n_params, float *fisher,
                                  int *has_fisher, uint64_t **replay, size_t *n_replay)
{
	*has_fisher = 0;
	*replay = NULL;
	*n_replay = 0;
	int rc = usable(rf);
	if (rc)
		return rc;
	obj o;
	if (exists(rf->f, "resume/ewc_fisher")) {
		hsize_t want[1] = {n_params};
		rc = open_dataset(rf, "resume/ewc_fisher", &o);
		if (rc == 0)
			rc = check(rf, &o, CLS_FLOAT, 1, want, "the model's parameters", NULL);
		if (rc == 0 && n_params &&
		    H5Dread(o.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fisher) < 0)
			rc = fail(rf, LETHE_EIO, "dataset 'resume/ewc_fisher' cannot be read");
		obj_close(&o);
		if (rc)
			return rc;
		*has_fisher = 1;
	}
	if (exists(rf->f, "resume/replay_memory")) {
		hsize_t want[1] = {ANY}, d[1] = {0};
		rc = open_dataset(rf, "resume/replay_memory", &o);
		if (rc == 0)
			rc = check(rf, &o, CLS_INT, 1, want, "the replay memory", d);
		if (rc == 0)
			rc = read_numbers(rf, &o, H5T_NATIVE_UINT64, sizeof(uint64_t), (size_t)d[0],
			                  (void **)replay);
		obj_close(&o);
		if (rc)
			return rc;
		*n_replay = (size_t)d[0];
	}
	return 0;
}

/* The stage's name and its task names ("a, b") in the writer's settings line (JSON). */
static int parse_stage(const char *line, char *name, size_t name_size, char *tasks,
                       size_t tasks_size)
{
	cJSON *j = cJSON_Parse(line);
	if (!j)
		return -1;
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "stage");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "tasks");
	int rc = cJSON_IsString(s) && cJSON_IsObject(t) ? 0 : -1;
	if (rc == 0) {
		snprintf(name, name_size, "%s", s->valuestring);
		size_t k = 0;
		tasks[0] = '\0';
		for (const cJSON *e = t->child; e && k < tasks_size; e = e->next) {
			int w =
			    snprintf(tasks + k, tasks_size - k, "%s%s", k ? ", " : "", e->string);
			if (w < 0)
				break;
			k += (size_t)w;
		}
	}
	cJSON_Delete(j);
	return rc;
}

int lethe_runfile__check_curriculum(lethe_runfile *rf, const lethe_curriculum *c)
{
	const char *cur = lethe_curriculum_path(c);
	int rc = usable(rf);
	if (rc)
		return rc;
#define ANOTHER(...) fail(rf, LETHE_EINVAL, "written by another curriculum: " __VA_ARGS__)
	/* Stage names and order, then each stage's tasks, then its settings. */
	for (size_t s = 0; s < rf->n_stages && s < lethe_curriculum_stage_count(c); s++) {
		char name[256], tasks[1024], want[1024];
		if (parse_stage(rf->stages[s], name, sizeof(name), tasks, sizeof(tasks)))
			return fail(rf, LETHE_EPARSE,
			            "dataset 'curriculum/stages' holds no stage settings at %zu",
			            s);
		if (strcmp(name, lethe_curriculum_stage(c, s)->name) != 0)
			return ANOTHER("stage %zu is '%s' in the file, '%s' in %s", s + 1, name,
			               lethe_curriculum_stage(c, s)->name, cur);
		size_t k = 0;
		want[0] = '\0';
		for (size_t t = 0; t < lethe_curriculum_stage(c, s)->n_tasks && k < sizeof(want);
		     t++) {
			int w = snprintf(
			    want + k, sizeof(want) - k, "%s%s", k ? ", " : "",
			    lethe_curriculum_task(c, lethe_curriculum_stage(c, s)->tasks[t])->name);
			if (w < 0)
				break;
			k += (size_t)w;
		}
		if (strcmp(tasks, want) != 0)
			return ANOTHER("stage %zu '%s' trains %s in the file, %s in %s", s + 1,
			               name, tasks, want, cur);
		char *line = lethe_runfile__stage_settings(c, s);
		if (!line)
			return fail(rf, LETHE_ENOMEM, "out of memory");
		int same = strcmp(line, rf->stages[s]) == 0;
		free(line);
		if (!same)
			return ANOTHER(
			    "stage %zu '%s' has other training settings in the file than "
			    "in %s (learning rate, batch, steps, freeze, weights, ...)",
			    s + 1, name, cur);
	}
	if (rf->n_stages != lethe_curriculum_stage_count(c))
		return ANOTHER("it has %zu stage%s, %s has %zu", rf->n_stages,
		               rf->n_stages == 1 ? "" : "s", cur, lethe_curriculum_stage_count(c));
	/* The rows already written follow the stages. */
	size_t first = lethe_curriculum_baseline(c) ? 1 : 0;
	if (rf->n_rows > lethe_curriculum_stage_count(c) + first)
		return ANOTHER("it has %zu rows, %s makes at most %zu", rf->n_rows, cur,
		               lethe_curriculum_stage_count(c) + first);
	if (rf->n_rows > 0 &&
	    (strcmp(rf->rows[0], "baseline") == 0) != (lethe_curriculum_baseline(c) != 0))
		return ANOTHER("its first row is '%s', %s %s a baseline", rf->rows[0], cur,
		               lethe_curriculum_baseline(c) ? "evaluates" : "has no");
	for (size_t r = first; r < rf->n_rows; r++)
		if (strcmp(rf->rows[r], lethe_curriculum_stage(c, r - first)->name) != 0)
			return ANOTHER("row %zu is '%s', %s's stage %zu is '%s'", r, rf->rows[r],
			               cur, r - first + 1,
			               lethe_curriculum_stage(c, r - first)->name);
	/* The evaluated tasks and their plugins. */
	for (size_t k = 0; k < rf->n_cols && k < lethe_curriculum_eval_count(c); k++) {
		const lethe_cur_task *t =
		    lethe_curriculum_task(c, lethe_curriculum_eval_task(c, k));
		if (strcmp(rf->cols[k], t->name) != 0)
			return ANOTHER("evaluated task %zu is '%s' in the file, '%s' in %s", k + 1,
			               rf->cols[k], t->name, cur);
		if (rf->plugins[k] && strcmp(rf->plugins[k], t->plugin) != 0)
			return ANOTHER("task '%s' uses plugin '%s' in the file, '%s' in %s",
			               t->name, rf->plugins[k], t->plugin, cur);
	}
	if (rf->n_cols != lethe_curriculum_eval_count(c))
		return ANOTHER("it evaluates %zu tasks, %s %zu", rf->n_cols, cur,
		               lethe_curriculum_eval_count(c));
	/* The seed makes the initial model, the sample streams and the drift's reference. */
	if ((uint64_t)rf->seed != lethe_curriculum_seed(c))
		return ANOTHER("seed %llu in the file, %llu in %s", (unsigned long long)rf->seed,
		               (unsigned long long)lethe_curriculum_seed(c), cur);
	if ((uint64_t)rf->data_seed != lethe_curriculum_data_seed(c))
		return ANOTHER("data seed %llu in the file, %llu in %s",
		               (unsigned long long)rf->data_seed,
		               (unsigned long long)lethe_curriculum_data_seed(c), cur);
	/* The model and the tokenizer. */
	lethe_model_config want = (*lethe_curriculum_model(c));
	if (!lethe_curriculum_model_from(c))
		want.vocab = rf->config.vocab; /* lethe's tokenizer, trained by the run */
	if (lethe_model_config_check(&want, NULL, 0))
		return ANOTHER("%s's model configuration is invalid", cur);
	const lethe_model_config *got = &rf->config;
	static const char *const keys[7] = {"vocab", "context", "dim", "layers",
	                                    "heads", "ff",      "tied"};
	const int a[7] = {got->vocab, got->context, got->dim, got->layers,
	                  got->heads, got->ff,      got->tied};
	const int b[7] = {want.vocab, want.context, want.dim, want.layers,
	                  want.heads, want.ff,      want.tied};
	for (int i = 1; i < 7; i++)
		if (a[i] != b[i])
			return ANOTHER("model %s is %d in the file, %d in %s", keys[i], a[i], b[i],
			               cur);
	if (got->norm_eps != want.norm_eps || got->rope_theta != want.rope_theta)
		return ANOTHER("model norm_eps or rope_theta differ (%g, %g in the file; %g, %g in "
		               "%s)",
		               (double)got->norm_eps, (double)got->rope_theta,
		               (double)want.norm_eps, (double)want.rope_theta, cur);
	const char *from = lethe_curriculum_model_from(c);
	const char *stage = lethe_curriculum_model_from_stage(c);
	if ((from != NULL) != (rf->model_from != NULL) ||
	    (from && strcmp(from, rf->model_from) != 0))
		return ANOTHER("the model starts from %s in the file, from %s in %s",
		               rf->model_from ? rf->model_from : "random weights",
		               from ? from : "random weights", cur);
	if ((stage != NULL) != (rf->model_from_stage != NULL) ||
	    (stage && strcmp(stage, rf->model_from_stage) != 0))
		return ANOTHER("the model starts after stage '%s' of %s in the file, '%s' in %s",
		               rf->model_from_stage ? rf->model_from_stage : "(none)", from,
		               stage ? stage : "(none)", cur);
	if (from && (got->vocab != want.vocab || got->kv_heads != want.kv_heads ||
	             got->head_dim != want.head_dim || got->rope_llama3 != want.rope_llama3))
		return ANOTHER("the model's vocabulary or head shapes differ from %s's", cur);
	if (!from && (lethe_curriculum_vocab(c) < 0 ||
	              (size_t)got->vocab > (size_t)lethe_curriculum_vocab(c)))
		return ANOTHER("the tokenizer's vocabulary is %d in the file, at most %ld in %s",
		               got->vocab, lethe_curriculum_vocab(c), cur);
#undef ANOTHER
	return 0;
}

int lethe_runfile__records(lethe_runfile *rf, const lethe_curriculum *c, lethe_stage_record *rec,
                           size_t room, size_t *n)
{
	*n = 0;
	int rc = usable(rf);
	if (rc)
		return rc;
	if (rf->n_rows > room)
		return fail(rf, LETHE_EINVAL,
		            "written by another curriculum: it has %zu rows, %zu "
		            "expected",
		            rf->n_rows, room);
	if (rf->n_cols != lethe_curriculum_eval_count(c))
		return fail(rf, LETHE_EINVAL,
		            "written by another curriculum: it evaluates %zu tasks", rf->n_cols);
	for (size_t r = 0; rc == 0 && r < rf->n_rows; r++) {
		lethe_stage_record *x = &rec[r];
		memset(x, 0, sizeof(*x));
		(*n)++;
		x->trained = rf->trained[r];
		x->steps = rf->steps[r];
		if (!(x->name = strdup(rf->rows[r])) ||
		    !(x->evals = calloc(rf->n_cols + 1, sizeof(*x->evals)))) {
			rc = fail(rf, LETHE_ENOMEM, "out of memory");
			break;
		}
		char path[600], p[900];
		rf_row_group(path, sizeof(path), r, rf->rows[r]);
		hid_t g;
		if ((rc = open_group(rf, path, &g)))
			break;
		int64_t tokens = 0;
		rc = attr_i64(rf, g, path, "tokens", &tokens);
		H5Gclose(g);
		x->tokens = (uint64_t)tokens;
		PATHF(p, "%s/drift", path);
		if (rc == 0 && exists(rf->f, p)) {
			x->has_drift = 1;
			for (int k = 0; rc == 0 && k < 4; k++) {
				char q[1000];
				double *d = NULL;
				PATHF(q, "%s/%s", p, rf_drift_kinds[k]);
				rc = vector(rf, q, CLS_FLOAT, LETHE_RUNFILE_DRIFT_GROUPS, "groups",
				            NULL, (void **)&d);
				for (int i = 0; rc == 0 && i < LETHE_RUNFILE_DRIFT_GROUPS; i++)
					x->drift[k][i] = d[i];
				free(d);
			}
		}
		for (size_t k = 0; rc == 0 && k < rf->n_cols; k++) {
			lethe_runfile_eval ev;
			if ((rc = lethe_runfile_read_eval(rf, r, k, &ev)))
				break;
			lethe_task_eval *t = &x->evals[x->n_evals++];
			t->task = lethe_curriculum_eval_task(c, k);
			t->n = ev.n;
			t->nll = ev.nll;
			t->n_tokens = ev.n_tokens;
			t->score = ev.score;
			t->predictions = ev.predictions;
			t->n_metrics = ev.n_metrics;
			t->metric_names = ev.metric_names;
			t->metric_values = ev.metric_values;
			t->metric_flags = ev.metric_flags;
			t->stats = ev.stats;
			t->n_stats = ev.n_stats;
			t->aggregate = ev.aggregate;
		}
	}
	return rc;
}

/* ---- LoRA: <row>/adapter and resume/adapter (runfile.h, lethe/runfile.h) ----------------------
 */

static int adapter_options(lethe_runfile *rf, hid_t g, const char *at, lethe_lora_options *o);

/* A float32 vector of n values at path into dst, checked first. */
static int read_f32(lethe_runfile *rf, const char *path, size_t n, float *dst)
{
	obj o;
	int rc = open_dataset(rf, path, &o);
	hsize_t want[1] = {n};
	if (rc == 0)
		rc = check(rf, &o, CLS_FLOAT, 1, want, "the adapter's parameters", NULL);
	if (rc == 0 && n && H5Dread(o.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
		rc = fail(rf, LETHE_EIO, "dataset '%s' cannot be read (damaged or truncated file?)",
		          path);
	obj_close(&o);
	return rc;
}

/* Per-stage adapters: the rows listed in <at>/frozen_rows (if any), each an earlier row with an
 * unmerged adapter, attached and frozen onto m in that order (lethe_model_lora_freeze(), the
 * same arithmetic the run used), so that m's parameters are the base plus their deltas. */
static int apply_frozen(lethe_runfile *rf, const char *at, size_t before, lethe_model *m)
{
	char path[800];
	PATHF(path, "%s/frozen_rows", at);
	if (!exists(rf->f, path))
		return 0;
	int32_t *rows = NULL;
	hsize_t n = 0;
	int rc = vector(rf, path, CLS_INT, ANY, "a vector of row indices", &n, (void **)&rows);
	for (hsize_t i = 0; rc == 0 && i < n; i++) {
		lethe_lora_options o;
		int merged = 0;
		float *p = NULL;
		size_t np = 0;
		if (rows[i] < 0 || (size_t)rows[i] >= before || (i > 0 && rows[i] <= rows[i - 1])) {
			rc = fail(rf, LETHE_EPARSE,
			          "dataset '%s': row %d is not an earlier row in increasing order",
			          path, (int)rows[i]);
			break;
		}
		rc = lethe_runfile_row_adapter(rf, (size_t)rows[i], &o, &merged, &p, &np);
		if (rc == LETHE_ENOTFOUND || (rc == 0 && merged))
			rc = fail(rf, LETHE_EPARSE, "dataset '%s': row %d has no unmerged adapter",
			          path, (int)rows[i]);
		if (rc == 0) {
			if ((rc = lethe_model_lora_attach(m, &o, 0)) == 0) {
				memcpy(lethe_model_lora_params(m), p, np * sizeof(float));
				rc = lethe_model_lora_freeze(m, rows[i]);
			}
			if (rc)
				fail(rf, rc, "'%s': row %d's adapter: %s", path, (int)rows[i],
				     lethe_model_errmsg(m));
		}
		free(p);
	}
	free(rows);
	return rc;
}

int lethe_runfile__resume_adapter(lethe_runfile *rf, lethe_model *m)
{
	const char *at = "resume/adapter";
	if (!exists(rf->f, at))
		return 0;
	hid_t g = -1;
	lethe_lora_options o = {0};
	int64_t seed = 0, calls = 0, steps = 0;
	int rc = open_group(rf, at, &g);
	if (rc == 0)
		rc = adapter_options(rf, g, at, &o);
	if (rc == 0)
		rc = attr_i64(rf, g, at, "seed", &seed);
	if (rc == 0)
		rc = attr_i64(rf, g, at, "calls", &calls);
	if (rc == 0)
		rc = attr_i64(rf, g, at, "steps", &steps);
	if (g >= 0)
		H5Gclose(g);
	if (rc == 0 && (calls < 0 || steps < 0))
		rc = fail(rf, LETHE_EPARSE, "'%s': negative calls or steps", at);
	lethe_model_lora_detach(m);
	if (rc == 0)
		rc = apply_frozen(rf, at, rf->n_rows, m);
	if (rc == 0 && (rc = lethe_model_lora_attach(m, &o, (uint64_t)seed)))
		rc = fail(rf, rc == LETHE_ENOMEM ? rc : LETHE_EPARSE, "'%s': %s", at,
		          lethe_model_errmsg(m));
	size_t n = lethe_model_lora_num_params(m);
	static const char *const blocks[3] = {"params", "adam_m", "adam_v"};
	for (int k = 0; rc == 0 && k < 3; k++) {
		char path[128];
		PATHF(path, "%s/%s", at, blocks[k]);
		if (k > 0 && !exists(rf->f, path))
			continue; /* no step taken yet: the moments are zero */
		float *dst = k == 0   ? lethe_model_lora_params(m)
		             : k == 1 ? lethe_model_lora_adam_m(m)
		                      : lethe_model_lora_adam_v(m);
		rc = dst ? read_f32(rf, path, n, dst)
		         : fail(rf, LETHE_ENOMEM, "out of memory for the adapter");
	}
	if (rc == 0) {
		lethe_model_lora_set_calls(m, (uint64_t)calls);
		lethe_model_lora_set_steps_taken(m, (uint64_t)steps);
	} else {
		lethe_model_lora_detach(m);
	}
	return rc;
}

/* The attributes shared by <row>/adapter and resume/adapter: the options. */
static int adapter_options(lethe_runfile *rf, hid_t g, const char *at, lethe_lora_options *o)
{
	static const char *const targets[] = {"q", "k", "v", "o", "gate", "up", "down"};
	int64_t rank = 0;
	double alpha = 0, dropout = 0;
	char **names = NULL, *kind = NULL;
	size_t n_names = 0;
	int rc = attr_scalar(rf, g, at, "kind", CLS_STRING, &kind);
	if (rc == 0 && strcmp(kind, "lora") != 0)
		rc = fail(rf, LETHE_EPARSE, "attribute 'kind' of '%s' is '%s', expected 'lora'", at,
		          kind);
	free(kind);
	if (rc == 0)
		rc = attr_i64(rf, g, at, "rank", &rank);
	if (rc == 0)
		rc = attr_scalar(rf, g, at, "alpha", CLS_FLOAT, &alpha);
	if (rc == 0)
		rc = attr_scalar(rf, g, at, "dropout", CLS_FLOAT, &dropout);
	if (rc == 0)
		rc = attr_strings(rf, g, at, "targets", ANY, "the adapter's targets", &names,
		                  &n_names);
	unsigned mask = 0;
	for (size_t i = 0; rc == 0 && i < n_names; i++) {
		int t = 0;
		while (t < 7 && strcmp(names[i], targets[t]) != 0)
			t++;
		if (t == 7)
			rc = fail(rf, LETHE_EPARSE,
			          "attribute 'targets' of '%s' names '%s', not a LoRA target", at,
			          names[i]);
		else
			mask |= 1u << t;
	}
	free_strings(names, n_names);
	if (rc == 0 &&
	    (rank < 1 || rank > 4096 || !(alpha > 0) || !(dropout >= 0) || !(dropout < 1) || !mask))
		rc = fail(rf, LETHE_EPARSE,
		          "'%s': rank %lld, alpha %g, dropout %g or its targets out of range", at,
		          (long long)rank, alpha, dropout);
	*o = (lethe_lora_options){(int)rank, (float)alpha, (float)dropout, mask};
	return rc;
}

/* The adapter block's length for options o on the file's model. */
static size_t adapter_floats(const lethe_runfile *rf, const lethe_lora_options *o)
{
	const lethe_model_config *c = &rf->config;
	size_t C = (size_t)c->dim, FF = (size_t)c->ff, HQ = (size_t)c->heads * c->head_dim,
	       KVC = (size_t)c->kv_heads * c->head_dim, r = (size_t)o->rank;
	const size_t in[7] = {C, C, C, HQ, C, C, FF}, out[7] = {HQ, KVC, KVC, C, FF, FF, C};
	size_t n = 0;
	for (int t = 0; t < 7; t++)
		if (o->targets & (1u << t))
			n += r * (in[t] + out[t]);
	return n * (size_t)c->layers;
}

int lethe_runfile_row_adapter(lethe_runfile *rf, size_t row, lethe_lora_options *opt, int *merged,
                              float **params, size_t *n)
{
	int rc = usable(rf);
	if (rc)
		return rc;
	if (row >= rf->n_rows)
		return fail(rf, LETHE_EINVAL, "no row %zu", row);
	char path[600], at[700];
	rf_row_group(path, sizeof(path), row, rf->rows[row]);
	PATHF(at, "%s/adapter", path);
	if (!exists(rf->f, at))
		return LETHE_ENOTFOUND;
	hid_t g = -1;
	lethe_lora_options o;
	int64_t mg = 0;
	if ((rc = open_group(rf, at, &g)) == 0) {
		rc = adapter_options(rf, g, at, &o);
		if (rc == 0)
			rc = attr_i64(rf, g, at, "merged", &mg);
		H5Gclose(g);
	}
	if (rc == 0 && params) {
		char p[800];
		PATHF(p, "%s/params", at);
		size_t want = adapter_floats(rf, &o);
		if (!(*params = malloc((want + 1) * sizeof(float))))
			rc = fail(rf, LETHE_ENOMEM, "out of memory");
		else if ((rc = read_f32(rf, p, want, *params))) {
			free(*params);
			*params = NULL;
		}
		if (n)
			*n = rc ? 0 : want;
	}
	if (rc == 0 && opt)
		*opt = o;
	if (rc == 0 && merged)
		*merged = mg != 0;
	return rc;
}

/* Per-stage or not is a setting of the row's stage, in its line of /curriculum/stages (matched
 * by name), not of the adapter group. */
int lethe_runfile_row_adapter_per_stage(lethe_runfile *rf, size_t row)
{
	int rc = lethe_runfile_row_adapter(rf, row, NULL, NULL, NULL, NULL);
	if (rc)
		return rc;
	for (size_t s = 0; s < rf->n_stages; s++) {
		cJSON *j = cJSON_Parse(rf->stages[s]);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "stage");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "adapter");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(a, "per_stage");
		int found = cJSON_IsString(name) && strcmp(name->valuestring, rf->rows[row]) == 0;
		int per_stage = cJSON_IsNumber(p) && p->valuedouble != 0;
		cJSON_Delete(j);
		if (found)
			return per_stage;
	}
	return 0;
}

int lethe_runfile_find_stage(lethe_runfile *rf, const char *stage, size_t *row)
{
	int rc = usable(rf);
	if (rc)
		return rc;
	int found = 0;
	for (size_t i = 0; i < rf->n_rows; i++)
		if (rf->trained[i] && (!stage || strcmp(rf->rows[i], stage) == 0))
			*row = i, found = 1;
	if (found)
		return 0;
	if (stage)
		return fail(rf, LETHE_ENOTFOUND, "no trained stage '%s'", stage);
	return fail(rf, LETHE_ENOTFOUND, "no trained stage yet");
}

int lethe_runfile_row_model(lethe_runfile *rf, size_t row, lethe_model *m)
{
	int rc = lethe_runfile_params(rf, row, m);
	lethe_lora_options o;
	int merged = 0;
	float *p = NULL;
	size_t n = 0;
	int ar = rc ? 0 : lethe_runfile_row_adapter(rf, row, &o, &merged, &p, &n);
	if (ar == 0 && p && !merged) {
		char rg[600], at[700];
		rf_row_group(rg, sizeof(rg), row, rf->rows[row]);
		PATHF(at, "%s/adapter", rg);
		if ((ar = apply_frozen(rf, at, row, m)) != 0)
			; /* the message is on rf */
		else if ((ar = lethe_model_lora_attach(m, &o, 0)) == 0)
			memcpy(lethe_model_lora_params(m), p, n * sizeof(float));
		else
			fail(rf, ar, "stage '%s': its adapter: %s", rf->rows[row],
			     lethe_model_errmsg(m));
	}
	free(p);
	return rc ? rc : ar == LETHE_ENOTFOUND ? 0 : ar;
}
