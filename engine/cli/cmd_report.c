/*
 * cmd_report.c: `lethe report RUN.h5`, the forgetting report of a run file: the score matrix of
 * each task's primary metric, then the measures the runner stored under /forgetting (primary
 * metric and target NLL), as text, Markdown, CSV or JSON; and `lethe compare`, the same measures
 * of several runs side by side. Both read only run files.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "compare.h"
#include "compare_html.h"
#include "report_html.h"

/* v as the shortest decimal that reads back to the same double (0.47, not 0.46999999999999997),
 * for CSV and JSON. */
static const char *exact(double v)
{
	static char buf[4][40];
	static int k;
	char *b = buf[k++ & 3];
	for (int p = 1; p <= 17; p++) {
		snprintf(b, sizeof(buf[0]), "%.*g", p, v);
		if (strtod(b, NULL) == v)
			break;
	}
	return b;
}

/* A CSV field: as it is, or quoted (RFC 4180: in double quotes, quotes doubled) when it holds a
 * comma, a quote or a line break. */
static const char *csvq(const char *s)
{
	static char buf[4][2048];
	static int k;
	if (!s || !strpbrk(s, ",\"\r\n"))
		return s ? s : "";
	char *b = buf[k++ & 3], *e = b + sizeof(buf[0]) - 2;
	*b = '"';
	char *w = b + 1;
	for (; *s && w < e - 1; s++) {
		if (*s == '"')
			*w++ = '"';
		*w++ = *s;
	}
	*w++ = '"';
	*w = '\0';
	return b;
}

/* s in a column of width characters (code points, not bytes): cut at a character boundary so a
 * multi-byte name never loses half a character, padded with spaces on the right (left < 0) or the
 * left (left > 0). */
static const char *col(const char *s, int width, int left)
{
	static char buf[4][512];
	static int k;
	char *b = buf[k++ & 3];
	size_t n = 0, chars = 0;
	s = s ? s : "";
	while (s[n] && (int)chars < width && n + 4 < sizeof(buf[0]) - (size_t)width - 1) {
		size_t len = 1;
		while (((unsigned char)s[n + len] & 0xC0) == 0x80)
			len++;
		n += len;
		chars++;
	}
	size_t pad = chars < (size_t)width ? (size_t)width - chars : 0, at = 0;
	if (left > 0)
		for (; at < pad; at++)
			b[at] = ' ';
	memcpy(b + at, s, n);
	at += n;
	if (left < 0)
		for (size_t i = 0; i < pad; i++)
			b[at++] = ' ';
	b[at] = '\0';
	return b;
}

/* ---- methods against forgetting (docs/methods.md) ----------------------------------------- */

/* Each row's methods line (NULL when it used none). */
static int read_methods(lethe_report *rep, lethe_runfile *rf)
{
	rep->methods = calloc(rep->rows + 1, sizeof(*rep->methods));
	if (!rep->methods)
		return LETHE_ENOMEM;
	for (size_t r = 0; r < rep->rows; r++) {
		int rc = lethe_runfile_row_methods(rf, r, &rep->methods[r]);
		if (rc && rc != LETHE_ENOTFOUND)
			return rc;
	}
	return 0;
}

/* LoRA: when a row trained an adapter, every row's label carries its method beside the stage
 * name ("one [lora r8]", "two [lora r8, merged]", "three [full]", per-stage adapters "one [lora
 * r8 per stage]"); runs without adapters keep their row names unchanged. */
static int label_methods(lethe_report *rep, lethe_runfile *rf)
{
	int any = 0, rc;
	for (size_t r = 0; r < rep->rows && !any; r++)
		any = lethe_runfile_row_adapter(rf, r, NULL, NULL, NULL, NULL) == 0;
	if (!any)
		return 0;
	if (!(rep->row_labels = calloc(rep->rows, sizeof(char *))))
		return LETHE_ENOMEM;
	for (size_t r = 0; r < rep->rows; r++) {
		lethe_lora_options o;
		int merged = 0;
		char method[64];
		rc = lethe_runfile_row_adapter(rf, r, &o, &merged, NULL, NULL);
		if (rc && rc != LETHE_ENOTFOUND)
			return rc;
		int per_stage = rc == 0 ? lethe_runfile_row_adapter_per_stage(rf, r) : 0;
		if (per_stage < 0)
			return per_stage;
		if (rc == 0)
			snprintf(method, sizeof(method), " [lora r%d%s%s]", o.rank,
			         per_stage ? " per stage" : "", merged ? ", merged" : "");
		else
			snprintf(method, sizeof(method), "%s",
			         lethe_runfile_row_trained(rf, r) ? " [full]" : "");
		size_t len = strlen(rep->row_names[r]) + strlen(method) + 1;
		if (!(rep->row_labels[r] = malloc(len)))
			return LETHE_ENOMEM;
		snprintf(rep->row_labels[r], len, "%s%s", rep->row_names[r], method);
	}
	rep->row_names = (const char *const *)rep->row_labels;
	return 0;
}

/* Reads everything a report shows; the reader checks every dataset first. 0, or the reader's
 * error code with its message on rf. */
/* ---- within-stage curves and loss weighting (issue #12) ------------------------------------ */

/* The rows' loss weighting and their within-stage curve points (lethe_report's fields). */
static int read_eval_curves(lethe_report *rep, lethe_runfile *rf)
{
	size_t R = rep->rows, C = rep->cols;
	if (!(rep->loss_weighting = calloc(R + 1, sizeof(int))) ||
	    !(rep->precision = calloc(R + 1, sizeof(int))))
		return LETHE_ENOMEM;
	for (size_t r = 0; r < R; r++) {
		rep->loss_weighting[r] = lethe_runfile_row_loss_weighting(rf, r);
		rep->precision[r] = lethe_runfile_row_precision(rf, r);
		for (size_t c = 0; c < C; c++) {
			int *st = NULL;
			double *v = NULL;
			size_t n = 0, ex = 0;
			int rc = lethe_runfile_eval_curve(rf, r, c, &st, &v, &n);
			if (rc == LETHE_ENOTFOUND)
				break;
			if (rc == 0)
				rc = lethe_runfile_eval_curve_examples(rf, r, c, &ex);
			size_t p0 = rep->n_points;
			if (rc == 0 && c == 0) { /* the row's points: room for every column */
				size_t *pr = realloc(rep->point_row, (p0 + n + 1) * sizeof(size_t));
				if (pr)
					rep->point_row = pr;
				int *ps = pr ? realloc(rep->point_step, (p0 + n + 1) * sizeof(int))
				             : NULL;
				if (ps)
					rep->point_step = ps;
				double *pv = ps ? realloc(rep->point_value,
				                          (p0 + n + 1) * (C + 1) * sizeof(double))
				                : NULL;
				if (pv)
					rep->point_value = pv;
				if (!rep->point_examples)
					rep->point_examples = calloc(R * C + 1, sizeof(size_t));
				rc = pv && rep->point_examples ? 0 : LETHE_ENOMEM;
				for (size_t i = 0; rc == 0 && i < n; i++) {
					rep->point_row[p0 + i] = r;
					rep->point_step[p0 + i] = st[i];
				}
				if (rc == 0)
					rep->n_points += n;
			}
			/* The row's first n points start at n_points - n. */
			size_t first = rep->n_points - n;
			for (size_t i = 0; rc == 0 && i < n; i++)
				rep->point_value[(first + i) * C + c] = v[i];
			if (rc == 0)
				rep->point_examples[r * C + c] = ex;
			free(st);
			free(v);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- the target NLL's intervals (issue #12): computed from the stored per-example NLL ---- */

static const double *defined_ci(const double *ci);

static const double *nll_measure_ci(const lethe_report *rep, int measure)
{
	return rep->has_nll_iv ? defined_ci(rep->nll_iv.measures[measure]) : NULL;
}

static const double *nll_task_ci(const lethe_report *rep, size_t figure, size_t col)
{
	return rep->has_nll_iv ? defined_ci(rep->nll_iv.per_task + 2 * (figure * rep->cols + col))
	                       : NULL;
}

static void eval_curves_free(lethe_report *rep)
{
	free(rep->point_row);
	free(rep->point_step);
	free(rep->point_value);
	free(rep->point_examples);
	free(rep->loss_weighting);
	free(rep->precision);
	lethe_intervals_free(&rep->nll_iv);
}

static int report_read(lethe_report *rep, lethe_runfile *rf)
{
	memset(rep, 0, sizeof(*rep));
	rep->name = lethe_runfile_name(rf)[0] ? lethe_runfile_name(rf) : lethe_runfile_path(rf);
	rep->rows = lethe_runfile_n_rows(rf);
	rep->cols = lethe_runfile_n_columns(rf);
	rep->row_names = lethe_runfile_row_names(rf);
	rep->col_names = lethe_runfile_column_names(rf);
	rep->metrics = lethe_runfile_column_metrics(rf);
	int rc;
	if ((rc = lethe_runfile_matrix(rf, "primary", &rep->primary)) ||
	    (rc = lethe_runfile_forgetting(rf, "primary", &rep->pm)) ||
	    (rc = lethe_runfile_forgetting(rf, "target_nll", &rep->lm)) ||
	    (rc = lethe_runfile_drift(rf, "relative_previous", &rep->rel_prev)) ||
	    (rc = lethe_runfile_drift(rf, "relative_initial", &rep->rel_init)))
		return rc;
	rc = lethe_runfile_matrix(rf, "target_nll", &rep->nll);
	if (rc && rc != LETHE_ENOTFOUND)
		return rc;
	rc = lethe_runfile_intervals(rf, &rep->iv);
	if (rc && rc != LETHE_ENOTFOUND)
		return rc;
	rep->has_iv = rc == 0;
	rep->stages = lethe_runfile_n_stages(rf);
	for (size_t r = 0; r < rep->rows; r++)
		rep->trained_rows += lethe_runfile_row_trained(rf, r) != 0;
	rep->events = calloc(rep->cols + 1, sizeof(*rep->events));
	rep->n_events = calloc(rep->cols + 1, sizeof(*rep->n_events));
	if (!rep->events || !rep->n_events)
		return LETHE_ENOMEM;
	for (size_t c = 0; c < rep->cols; c++) {
		rc = lethe_runfile_events(rf, c, &rep->events[c], &rep->n_events[c]);
		if (rc && rc != LETHE_ENOTFOUND)
			return rc;
	}
	if ((rc = read_methods(rep, rf)))
		return rc;
	/* The training loss, all rows end to end; a boundary before each row after the first. */
	if (!(rep->row_step0 = calloc(rep->rows + 1, sizeof(size_t))))
		return LETHE_ENOMEM;
	for (size_t r = 0; r < rep->rows; r++) {
		float *v = NULL;
		size_t k = 0;
		rep->row_step0[r] = rep->n_loss;
		rc = lethe_runfile_curve(rf, r, "loss", &v, &k);
		if (rc == LETHE_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		double *grown = realloc(rep->loss, (rep->n_loss + k + 1) * sizeof(double));
		double *b2 =
		    grown ? realloc(rep->bounds, (rep->n_bounds + 1) * sizeof(double)) : NULL;
		if (grown)
			rep->loss = grown;
		if (b2)
			rep->bounds = b2;
		if (!grown || !b2) {
			free(v);
			return LETHE_ENOMEM;
		}
		if (rep->n_loss)
			rep->bounds[rep->n_bounds++] = (double)rep->n_loss - 0.5;
		for (size_t i = 0; i < k; i++)
			rep->loss[rep->n_loss + i] = v[i];
		rep->n_loss += k;
		free(v);
	}
	if ((rc = read_eval_curves(rep, rf)))
		return rc;
	if ((rc = lethe_runfile_nll_intervals(rf, &rep->nll_iv)))
		return rc;
	rep->has_nll_iv = 1;
	return label_methods(rep, rf);
}

/* ---- what only the HTML report and the SVG figures show (report_html.c) --------------------- */

/* Up to this many examples per task: the most-forgotten first, then the first ones. */
enum { HTML_EXAMPLES = 3 };

static void report_free_html(lethe_report *rep)
{
	free(rep->trained);
	for (size_t c = 0; rep->examples && c < rep->cols; c++) {
		lethe_report_examples *ex = &rep->examples[c];
		for (size_t i = 0; ex->text && i < ex->n * rep->rows; i++)
			free(ex->text[i]);
		free(ex->text);
		free(ex->score);
		free(ex->index);
		free(ex->events);
	}
	free(rep->examples);
}

/* Which examples of column c to show: the HTML_EXAMPLES with the most events (ties: the lower
 * index), then the first ones. */
static size_t pick_examples(const lethe_report *rep, size_t c, size_t n, size_t *idx)
{
	size_t k = 0;
	const int32_t *ev = rep->events ? rep->events[c] : NULL;
	size_t n_ev = ev ? rep->n_events[c] : 0;
	while (k < HTML_EXAMPLES && k < n) {
		size_t best = n;
		for (size_t i = 0; i < n_ev && i < n; i++) {
			int taken = 0;
			for (size_t j = 0; j < k; j++)
				taken |= idx[j] == i;
			if (!taken && ev[i] > 0 && (best == n || ev[i] > ev[best]))
				best = i;
		}
		if (best == n)
			break;
		idx[k++] = best;
	}
	for (size_t i = 0; k < HTML_EXAMPLES && i < n; i++) {
		int taken = 0;
		for (size_t j = 0; j < k; j++)
			taken |= idx[j] == i;
		if (!taken)
			idx[k++] = i;
	}
	return k;
}

/* The metric directions, the trained rows and a few examples' predictions per task. 0, or the
 * reader's error code. */
static int report_read_html(lethe_report *rep, lethe_runfile *rf)
{
	size_t R = rep->rows, C = rep->cols;
	rep->lower = lethe_runfile_column_lower(rf);
	rep->trained = calloc(R + 1, sizeof(int));
	rep->examples = calloc(C + 1, sizeof(*rep->examples));
	if (!rep->trained || !rep->examples)
		return LETHE_ENOMEM;
	for (size_t r = 0; r < R; r++)
		rep->trained[r] = lethe_runfile_row_trained(rf, r) != 0;
	rep->has_baseline = R > 0 && !rep->trained[0];
	for (size_t c = 0; c < C; c++) {
		lethe_report_examples *ex = &rep->examples[c];
		for (size_t r = 0; r < R; r++) {
			lethe_runfile_eval ev = {0};
			int rc = lethe_runfile_read_eval(rf, r, c, &ev);
			if (rc == LETHE_ENOTFOUND)
				continue;
			if (rc)
				return rc;
			if (!ex->index) { /* the first evaluated row decides which examples */
				size_t idx[HTML_EXAMPLES];
				ex->n = pick_examples(rep, c, ev.n, idx);
				ex->index = calloc(ex->n + 1, sizeof(size_t));
				ex->events = calloc(ex->n + 1, sizeof(int32_t));
				ex->text = calloc(ex->n * R + 1, sizeof(char *));
				ex->score = malloc((ex->n * R + 1) * sizeof(double));
				if (!ex->index || !ex->events || !ex->text || !ex->score) {
					lethe_runfile_eval_clear(&ev);
					return LETHE_ENOMEM;
				}
				for (size_t i = 0; i < ex->n; i++) {
					ex->index[i] = idx[i];
					ex->events[i] = rep->events && rep->events[c] &&
					                        idx[i] < rep->n_events[c]
					                    ? rep->events[c][idx[i]]
					                    : 0;
				}
				for (size_t i = 0; i < ex->n * R; i++)
					ex->score[i] = NAN;
			}
			for (size_t i = 0; i < ex->n; i++) {
				size_t e = ex->index[i];
				if (e >= ev.n) /* another row evaluated fewer examples */
					continue;
				ex->score[i * R + r] = ev.score ? ev.score[e] : NAN;
				if (ev.predictions && ev.predictions[e]) {
					const char *t = ev.predictions[e];
					if (!(ex->text[i * R + r] =
					          lethe_cli_utf8_lossy(t, strlen(t)))) {
						lethe_runfile_eval_clear(&ev);
						return LETHE_ENOMEM;
					}
				}
			}
			lethe_runfile_eval_clear(&ev);
		}
	}
	return 0;
}

static void report_free(lethe_report *rep)
{
	free(rep->primary);
	free(rep->nll);
	lethe_forgetting_free(&rep->pm);
	lethe_forgetting_free(&rep->lm);
	free(rep->rel_prev);
	free(rep->rel_init);
	for (size_t c = 0; rep->events && c < rep->cols; c++)
		free(rep->events[c]);
	free(rep->events);
	free(rep->n_events);
	free(rep->loss);
	free(rep->bounds);
	free(rep->row_step0);
	for (size_t r = 0; rep->methods && r < rep->rows; r++)
		free(rep->methods[r]);
	free(rep->methods);
	for (size_t r = 0; rep->row_labels && r < rep->rows; r++)
		free(rep->row_labels[r]);
	free(rep->row_labels);
	lethe_intervals_free(&rep->iv);
	report_free_html(rep);
	eval_curves_free(rep);
}

/* ---- intervals (issue #12) ------------------------------------------------------------------ */

static const double *defined_ci(const double *ci)
{
	return ci && !isnan(ci[0]) && !isnan(ci[1]) ? ci : NULL;
}

const double *lethe_report_cell_ci(const lethe_report *rep, size_t row, size_t col)
{
	return rep->has_iv ? defined_ci(rep->iv.cells + 2 * (row * rep->cols + col)) : NULL;
}

const double *lethe_report_measure_ci(const lethe_report *rep, int measure)
{
	return rep->has_iv ? defined_ci(rep->iv.measures[measure]) : NULL;
}

const double *lethe_report_task_ci(const lethe_report *rep, size_t figure, size_t col)
{
	return rep->has_iv ? defined_ci(rep->iv.per_task + 2 * (figure * rep->cols + col)) : NULL;
}

int lethe_report_partial(const lethe_report *rep)
{
	return rep->trained_rows < rep->stages;
}

static int partial(const lethe_report *rep)
{
	return lethe_report_partial(rep);
}

int lethe_report_not_learnt(const lethe_report *rep, size_t col)
{
	const double *ci = lethe_report_task_ci(rep, 7, col); /* gain */
	return ci && ci[0] <= 0.0;
}

/* A figure as JSON: {"value": x, "ci": [low, high]} (ci null when there is no interval). */
static void json_fig(FILE *o, double v, const double *ci)
{
	fputs("{\"value\": ", o);
	isnan(v) ? fputs("null", o) : fputs(exact(v), o);
	if (ci)
		fprintf(o, ", \"ci\": [%s, %s]}", exact(ci[0]), exact(ci[1]));
	else
		fputs(", \"ci\": null}", o);
}

/* A figure as text: "0.4700 [0.3700, 0.5600]", or "-" when undefined. */
static void text_fig(char *buf, size_t size, double v, const double *ci, int sign, int digits)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else if (ci)
		snprintf(buf, size, sign ? "%+.*f [%+.*f, %+.*f]" : "%.*f [%.*f, %.*f]", digits, v,
		         digits, ci[0], digits, ci[1]);
	else
		snprintf(buf, size, sign ? "%+.*f" : "%.*f", digits, v);
}

/* Opens and checks a run file, printing the reader's one-line refusal. */
static lethe_runfile *open_run(const char *path)
{
	lethe_runfile *rf = NULL;
	if (lethe_runfile_open(&rf, path)) {
		lethe_cli_error("%s", lethe_runfile_errmsg(rf));
		lethe_runfile_free(rf);
		return NULL;
	}
	return rf;
}

enum format { TEXT, MARKDOWN, CSV, JSON, HTML };

/* --format's value for report and compare; names in enum format's order. */
static int parse_format(const char *cmd, const char *arg, enum format *out)
{
	static const char *const names[] = {"text", "markdown", "csv", "json", "html"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(arg, names[i]) == 0) {
			*out = (enum format)i;
			return 0;
		}
	lethe_cli_error("%s: --format: expected text, markdown, csv, json or html, got '%s'", cmd,
	                arg);
	return -1;
}

static void num(FILE *o, double v, enum format fmt)
{
	if (isnan(v))
		fputs(fmt == JSON ? "null" : fmt == CSV ? "" : "-", o);
	else if (fmt == JSON || fmt == CSV)
		fputs(exact(v), o);
	else
		fprintf(o, "%.4f", v);
}

static void json_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(o, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(o, "\\u%04x", *s);
		else
			fputc(*s, o);
	}
	fputc('"', o);
}

/* Parameter drift and forgetting events, read from /forgetting (written by the runner). */
/* The stages that used methods against forgetting, each beside its name; nothing when none did.
 */
static void print_methods(FILE *o, enum format fmt, const lethe_report *mx)
{
	int any = 0;
	for (size_t r = 0; mx->methods && r < mx->rows; r++)
		any |= mx->methods[r] != NULL;
	if (!any)
		return;
	int md = fmt == MARKDOWN;
	if (fmt == JSON)
		fputs(", \"methods\": {", o);
	else if (fmt == TEXT)
		fputs("\nMethods against forgetting (docs/methods.md)\n", o);
	else if (md)
		fputs("\n## Methods against forgetting\n\n| stage | methods |\n| --- | --- |\n", o);
	int first = 1;
	for (size_t r = 0; r < mx->rows; r++) {
		const char *m = mx->methods[r];
		if (!m)
			continue;
		if (fmt == JSON) {
			fputs(first ? "" : ", ", o);
			json_str(o, mx->row_names[r]);
			fputs(": ", o);
			json_str(o, m);
		} else if (fmt == CSV)
			fprintf(o, "methods,%s,,methods,%s\n", csvq(mx->row_names[r]), csvq(m));
		else
			fprintf(o, md ? "| %s | %s |\n" : "  %-14s %s\n", mx->row_names[r], m);
		first = 0;
	}
	if (fmt == JSON)
		fputc('}', o);
}

/* The stages whose setting `key` (per row in `of`) is `value`, when any: JSON ", KEY: {stage:
 * "NAME"}", CSV rows "KEY,STAGE,,NAME,", text and markdown one line that names them after
 * `text` or `md`. */
static void print_stage_setting(FILE *o, enum format fmt, const lethe_report *mx, const int *of,
                                int value, const char *key, const char *name, const char *text,
                                const char *md)
{
	int any = 0;
	for (size_t r = 0; of && r < mx->rows; r++) {
		if (of[r] != value)
			continue;
		if (fmt == JSON) {
			fprintf(o, any ? ", " : ", \"%s\": {", key);
			json_str(o, mx->row_names[r]);
			fprintf(o, ": \"%s\"", name);
		} else if (fmt == CSV) {
			fprintf(o, "%s,%s,,%s,\n", key, csvq(mx->row_names[r]), name);
		} else {
			if (!any)
				fputs(fmt == MARKDOWN ? md : text, o);
			fprintf(o, "%s %s", any ? "," : "", mx->row_names[r]);
		}
		any = 1;
	}
	if (any)
		fputs(fmt == JSON ? "}" : fmt == CSV ? "" : "\n", o);
}

/* The within-stage curves (evaluate: {every: N}), the stages that weigh the loss per example and
 * those that trained in bf16; nothing when the run has none of them. JSON: "loss_weighting":
 * {stage: "example"}, "precision": {stage: "bf16"} and "curves": {task: [{"stage", "step",
 * "value", "examples"}]}; CSV: rows "curve,STAGE,TASK,METRIC@STEP, VALUE",
 * "loss_weighting,STAGE,,example," and "precision,STAGE,,bf16,"; text: a table per stage, steps
 * down. */
static void print_eval_curves(FILE *o, enum format fmt, const lethe_report *mx)
{
	size_t C = mx->cols;
	int md = fmt == MARKDOWN;
	print_stage_setting(
	    o, fmt, mx, mx->loss_weighting, LETHE_LOSS_WEIGHTING_EXAMPLE, "loss_weighting",
	    "example",
	    "\nLoss weighting: example (each example's mean token loss, averaged "
	    "over examples) in stages",
	    "\nLoss weighting **example** (each example's mean token loss, averaged "
	    "over examples) in:");
	print_stage_setting(o, fmt, mx, mx->precision, LETHE_PRECISION_BF16, "precision", "bf16",
	                    "\nPrecision: bf16 (training matrix products in bfloat16, fp32 "
	                    "accumulation) in stages",
	                    "\nPrecision **bf16** (training matrix products in bfloat16, fp32 "
	                    "accumulation) in:");
	if (!mx->n_points)
		return;
	if (fmt == JSON) {
		fputs(", \"curves\": {", o);
		for (size_t c = 0; c < C; c++) {
			fputs(c ? ", " : "", o);
			json_str(o, mx->col_names[c]);
			fputs(": [", o);
			for (size_t i = 0; i < mx->n_points; i++) {
				size_t r = mx->point_row[i];
				fputs(i ? ", {\"stage\": " : "{\"stage\": ", o);
				json_str(o, mx->row_names[r]);
				fprintf(o, ", \"step\": %d, \"value\": ", mx->point_step[i]);
				num(o, mx->point_value[i * C + c], fmt);
				fprintf(o, ", \"examples\": %zu}", mx->point_examples[r * C + c]);
			}
			fputc(']', o);
		}
		fputc('}', o);
		return;
	}
	if (fmt == CSV) {
		for (size_t i = 0; i < mx->n_points; i++)
			for (size_t c = 0; c < C; c++) {
				fprintf(o, "curve,%s,", csvq(mx->row_names[mx->point_row[i]]));
				fprintf(o, "%s,", csvq(mx->col_names[c]));
				char metric[300];
				snprintf(metric, sizeof(metric), "%s@%d",
				         mx->metrics ? mx->metrics[c] : "", mx->point_step[i]);
				fprintf(o, "%s,", csvq(metric));
				num(o, mx->point_value[i * C + c], fmt);
				fputc('\n', o);
			}
		return;
	}
	fprintf(o, md ? "\n## Within-stage curves\n\nEach task's primary metric every few "
	                "optimizer steps inside a stage (the stage's end is its row of the "
	                "matrix).\n"
	              : "\nWithin-stage curves (each task's primary metric every few optimizer "
	                "steps inside a stage;\nthe stage's end is its row of the matrix)\n");
	for (size_t i = 0; i < mx->n_points; i++) {
		size_t r = mx->point_row[i];
		if (i == 0 || mx->point_row[i - 1] != r) {
			fprintf(o,
			        md ? "\n### %s (examples:" : "  %s (examples:", mx->row_names[r]);
			for (size_t c = 0; c < C; c++)
				fprintf(o, " %s %zu", mx->col_names[c],
				        mx->point_examples[r * C + c]);
			fputs(md ? ")\n\n| step |" : ")\n", o);
			if (!md)
				fprintf(o, "  %6s", "step");
			for (size_t c = 0; c < C; c++)
				fprintf(o, md ? " %s |" : " %s",
				        md ? mx->col_names[c] : col(mx->col_names[c], 14, 1));
			if (md) {
				fputs("\n| ---: |", o);
				for (size_t c = 0; c < C; c++)
					fputs(" ---: |", o);
			}
			fputc('\n', o);
		}
		fprintf(o, md ? "| %d |" : "  %6d", mx->point_step[i]);
		for (size_t c = 0; c < C; c++) {
			double v = mx->point_value[i * C + c];
			if (md)
				fputs(" ", o);
			if (isnan(v))
				fprintf(o, md ? "- |" : " %14s", "-");
			else
				fprintf(o, md ? "%.4f |" : " %14.4f", v);
		}
		fputc('\n', o);
	}
}

static void extras(FILE *o, enum format fmt, const lethe_report *mx)
{
	int md = fmt == MARKDOWN;
	{
		size_t R = mx->rows, G = LETHE_RUNFILE_DRIFT_GROUPS;
		const double *rel_prev = mx->rel_prev, *rel_init = mx->rel_init;
		static const char *const groups[5] = {"embeddings", "attention", "mlp", "norms",
		                                      "all"};
		if (rel_prev && rel_init) {
			if (fmt == JSON) {
				fputs(", \"drift\": {\"groups\": [\"embeddings\", \"attention\", "
				      "\"mlp\", \"norms\", \"all\"], \"relative_previous\": [",
				      o);
				for (size_t r = 0; r < R; r++) {
					fputs(r ? ", [" : "[", o);
					for (size_t i = 0; i < G; i++) {
						fputs(i ? ", " : "", o);
						num(o, rel_prev[r * G + i], fmt);
					}
					fputc(']', o);
				}
				fputs("], \"relative_initial\": [", o);
				for (size_t r = 0; r < R; r++) {
					fputs(r ? ", [" : "[", o);
					for (size_t i = 0; i < G; i++) {
						fputs(i ? ", " : "", o);
						num(o, rel_init[r * G + i], fmt);
					}
					fputc(']', o);
				}
				fputs("]}", o);
			} else if (fmt == CSV) {
				for (size_t r = 0; r < R; r++)
					for (size_t i = 0; i < G; i++) {
						fprintf(o, "drift,%s,,relative_previous/%s,",
						        csvq(mx->row_names[r]), groups[i]);
						num(o, rel_prev[r * G + i], fmt);
						fprintf(o, "\ndrift,%s,,relative_initial/%s,",
						        csvq(mx->row_names[r]), groups[i]);
						num(o, rel_init[r * G + i], fmt);
						fputc('\n', o);
					}
			} else {
				fprintf(o,
				        md ? "\n## Parameter drift (relative L2 change: since the "
				             "previous row / since the initial model)\n\n| after |"
				           : "\nParameter drift (relative L2 change: since the "
				             "previous row / since the initial model)\n%-14s",
				        md ? "" : "");
				for (size_t i = 0; i < G; i++)
					fprintf(o, md ? " %s |" : " %17s", groups[i]);
				if (md) {
					fputs("\n| --- |", o);
					for (size_t i = 0; i < G; i++)
						fputs(" ---: |", o);
				}
				fputc('\n', o);
				for (size_t r = 0; r < R; r++) {
					fprintf(o, md ? "| %s |" : "%s",
					        md ? mx->row_names[r]
					           : col(mx->row_names[r], 14, -1));
					for (size_t i = 0; i < G; i++) {
						char buf[48];
						if (isnan(rel_prev[r * G + i]))
							snprintf(buf, sizeof(buf), "-");
						else
							snprintf(buf, sizeof(buf), "%.3f / %.3f",
							         rel_prev[r * G + i],
							         rel_init[r * G + i]);
						fprintf(o, md ? " %s |" : " %17s", buf);
					}
					fputc('\n', o);
				}
			}
		}
	}
	if (fmt == JSON)
		fputs(", \"events\": {", o);
	else if (fmt != CSV)
		fprintf(o,
		        md ? "\n## Forgetting events (an example right after one stage and wrong "
		             "after the next)\n\n| task | events | examples forgotten | most "
		             "forgotten examples (index: events) |\n| --- | ---: | ---: | --- |\n"
		           : "\nForgetting events (an example right after one stage and wrong "
		             "after the next)\n  %-14s %7s %9s  %s\n",
		        "task", "events", "examples", "most forgotten (index: events)");
	int first = 1;
	for (size_t c = 0; c < mx->cols; c++) {
		const char *task = mx->col_names[c];
		if (!mx->events[c])
			continue;
		size_t n = mx->n_events[c];
		int32_t *cnt = malloc((n + 1) * sizeof(int32_t));
		if (cnt) {
			memcpy(cnt, mx->events[c], n * sizeof(int32_t));
			long total = 0, examples = 0;
			for (size_t i = 0; i < n; i++) {
				total += cnt[i];
				examples += cnt[i] > 0;
			}
			char top[256] = "";
			for (int k = 0; k < 5;
			     k++) { /* the five examples with most events, lowest index first */
				size_t best = n;
				for (size_t i = 0; i < n; i++)
					if (cnt[i] > 0 && (best == n || cnt[i] > cnt[best]))
						best = i;
				if (best == n)
					break;
				size_t used = strlen(top);
				snprintf(top + used, sizeof(top) - used, "%s%zu: %d", k ? ", " : "",
				         best, cnt[best]);
				cnt[best] = -cnt[best];
			}
			if (fmt == JSON) {
				fputs(first ? "" : ", ", o);
				json_str(o, task);
				fprintf(o,
				        ": {\"events\": %ld, \"examples_forgotten\": %ld, "
				        "\"per_example\": [",
				        total, examples);
				for (size_t i = 0; i < n; i++)
					fprintf(o, "%s%d", i ? ", " : "",
					        cnt[i] < 0 ? -cnt[i] : cnt[i]);
				fputs("]}", o);
			} else if (fmt == CSV) {
				fprintf(
				    o, "events,,%s,events,%ld\nevents,,%s,examples_forgotten,%ld\n",
				    csvq(task), total, csvq(task), examples);
			} else {
				fprintf(o,
				        md ? "| %s | %ld | %ld | %s |\n" : "  %s %7ld %9ld  %s\n",
				        md ? task : col(task, 14, -1), total, examples,
				        top[0] ? top : "-");
			}
			first = 0;
		}
		free(cnt);
	}
	if (fmt == JSON)
		fputc('}', o);
	print_methods(o, fmt, mx);
	print_eval_curves(o, fmt, mx);
}

/* The per-task figures of a lethe_forgetting, in the order reports list them. "transfer" (minus
 * the forgetting) stays in the run file but is no longer shown: readers took it for forward
 * transfer, which is now its own column. */
enum { N_TASK_ARRAYS = 7 };
static const char *const task_arrays[N_TASK_ARRAYS] = {
    "learning",         "final",   "forgetting", "relative_forgetting", "normalised",
    "forward_transfer", "max_drop"};
static const char *const task_titles[N_TASK_ARRAYS] = {
    "after its stage", "final", "forgetting", "relative", "normalised", "fwd transfer", "max drop"};

static void task_values(const lethe_forgetting *f, const double *v[N_TASK_ARRAYS])
{
	const double *all[LETHE_INTERVAL_TASK_FIGURES];
	lethe_forgetting_task_figures(f, all);
	for (int i = 0; i < N_TASK_ARRAYS; i++)
		v[i] = all[i]; /* the same order; gain is shown as "not learnt" */
}
/* Says on which scale the measures are, naming each task whose metric was divided. */
static void scale_note(FILE *o, int md, const lethe_report *mx)
{
	const lethe_forgetting *pm = &mx->pm;
	if (!pm->scale) {
		fprintf(o, md ? "Measures on the raw primary metrics (a run file written before "
		                "lethe put them on one scale).\n\n"
		              : "  (measures on the raw primary metrics: a run file written before "
		                "lethe put them on one scale)\n");
		return;
	}
	fprintf(o, md ? "All measures and per-task figures below use each primary metric on 0-1"
	              : "  All measures and per-task figures below use each primary metric on "
	                "0-1");
	int any = 0;
	for (size_t c = 0; c < mx->cols; c++)
		if (pm->scale[c] != 1.0) {
			fprintf(o, "%s%s %s / %g", any ? ", " : " (", mx->col_names[c],
			        mx->metrics ? mx->metrics[c] : "", pm->scale[c]);
			any = 1;
		}
	fprintf(o, "%s; the matrix above shows raw values.\n%s", any ? ")" : "", md ? "\n" : "");
}

/* The per-task figures; on the primary metric (ci set) with their intervals, and "not learnt"
 * in place of the forgetting of a task whose gain over the baseline is not above 0. */
static void per_task_table(FILE *o, int md, const lethe_report *mx, const lethe_forgetting *f,
                           int ci)
{
	const double *arr[N_TASK_ARRAYS];
	task_values(f, arr);
	int width = ci && mx->has_iv ? 24 : 12;
	if (md) {
		fprintf(o, "| task |");
		for (int i = 0; i < N_TASK_ARRAYS; i++)
			fprintf(o, " %s |", task_titles[i]);
		fprintf(o, "\n| --- |");
		for (int i = 0; i < N_TASK_ARRAYS; i++)
			fprintf(o, " ---: |");
		fputc('\n', o);
	} else {
		fprintf(o, "  %-14s", "task");
		for (int i = 0; i < N_TASK_ARRAYS; i++)
			fprintf(o, " %*s", width, task_titles[i]);
		fputc('\n', o);
	}
	for (size_t c = 0; c < mx->cols; c++) {
		fprintf(o, md ? "| %s |" : "  %s",
		        md ? mx->col_names[c] : col(mx->col_names[c], 14, -1));
		for (int i = 0; i < N_TASK_ARRAYS; i++) {
			char v[96];
			double x = arr[i] ? arr[i][c] : NAN;
			if (ci && (i == 2 || i == 3) && !isnan(x) && lethe_report_not_learnt(mx, c))
				snprintf(v, sizeof(v), "not learnt");
			else
				text_fig(v, sizeof(v), x,
				         ci ? lethe_report_task_ci(mx, (size_t)i, c) : NULL, i >= 2,
				         ci && mx->has_iv ? 3 : 4);
			if (md)
				fprintf(o, " %s |", v);
			else
				fprintf(o, " %*s", width, v);
		}
		fputc('\n', o);
	}
}

static void report(FILE *o, enum format fmt, const lethe_report *mx)
{
	if (fmt == HTML) {
		lethe_report_html(o, mx);
		return;
	}
	const char *name = mx->name;
	const lethe_forgetting *pm = &mx->pm, *lm = &mx->lm;
	size_t R = mx->rows, C = mx->cols;
	if (fmt == JSON) {
		fprintf(o, "{\"run\": ");
		json_str(o, name);
		fprintf(o, ", \"rows\": [");
		for (size_t r = 0; r < R; r++) {
			fputs(r ? ", " : "", o);
			json_str(o, mx->row_names[r]);
		}
		fprintf(o, "], \"tasks\": [");
		for (size_t c = 0; c < C; c++) {
			fputs(c ? ", " : "", o);
			json_str(o, mx->col_names[c]);
		}
		fprintf(o, "], \"metrics\": [");
		for (size_t c = 0; c < C; c++) {
			fputs(c ? ", " : "", o);
			json_str(o, mx->metrics ? mx->metrics[c] : "");
		}
		fprintf(o, "], \"matrix\": [");
		for (size_t r = 0; r < R; r++) {
			fputs(r ? ", [" : "[", o);
			for (size_t c = 0; c < C; c++) {
				fputs(c ? ", " : "", o);
				json_fig(o, mx->primary[r * C + c], lethe_report_cell_ci(mx, r, c));
			}
			fputc(']', o);
		}
		fputc(']', o);
		const lethe_forgetting *ms[2] = {pm, lm};
		const char *keys[2] = {"primary", "target_nll"};
		for (int k = 0; k < 2; k++) {
			const char *mnames[4] = {"acc", "bwt", "fwt", "chaudhry_forgetting"};
			double mv[4] = {ms[k]->acc, ms[k]->bwt, ms[k]->fwt, ms[k]->chaudhry};
			fprintf(o, ", \"%s\": {", keys[k]);
			if (k == 0)
				fprintf(o, "\"scale\": \"%s\", \"partial\": %s, ",
				        ms[k]->scale ? "0-1" : "raw",
				        partial(mx) ? "true" : "false");
			for (int i = 0; i < 4; i++) {
				fprintf(o, "%s\"%s\": ", i ? ", " : "", mnames[i]);
				json_fig(o, mv[i],
				         k == 0 ? lethe_report_measure_ci(mx, i)
				                : nll_measure_ci(mx, i));
			}
			const char *const *arrays = task_arrays;
			const double *vals[N_TASK_ARRAYS];
			task_values(ms[k], vals);
			for (int a = 0; a < N_TASK_ARRAYS; a++) {
				if (!vals[a])
					continue;
				fprintf(o, ", \"%s\": {", arrays[a]);
				for (size_t c = 0; c < C; c++) {
					fputs(c ? ", " : "", o);
					json_str(o, mx->col_names[c]);
					fputs(": ", o);
					json_fig(o, vals[a][c],
					         k == 0 ? lethe_report_task_ci(mx, (size_t)a, c)
					                : nll_task_ci(mx, (size_t)a, c));
				}
				fputc('}', o);
			}
			fputc('}', o);
		}
		extras(o, fmt, mx);
		fprintf(o, "}\n");
		return;
	}
	if (fmt == CSV) {
		fprintf(o, "section,row,task,metric,value\n");
		for (size_t r = 0; r < R; r++)
			for (size_t c = 0; c < C; c++) {
				fprintf(o, "matrix,%s,%s,%s,", csvq(mx->row_names[r]),
				        csvq(mx->col_names[c]),
				        csvq(mx->metrics ? mx->metrics[c] : ""));
				num(o, mx->primary[r * C + c], fmt);
				fputc('\n', o);
				const double *ci = lethe_report_cell_ci(mx, r, c);
				for (int e = 0; ci && e < 2; e++)
					fprintf(o, "matrix,%s,%s,%s/%s,%s\n",
					        csvq(mx->row_names[r]), csvq(mx->col_names[c]),
					        mx->metrics ? mx->metrics[c] : "",
					        e ? "high" : "low", exact(ci[e]));
			}
		const lethe_forgetting *ms[2] = {pm, lm};
		const char *keys[2] = {"primary", "target_nll"};
		for (int k = 0; k < 2; k++) {
			const char *names[4] = {"acc", "bwt", "fwt", "chaudhry_forgetting"};
			double v[4] = {ms[k]->acc, ms[k]->bwt, ms[k]->fwt, ms[k]->chaudhry};
			for (int i = 0; i < 4; i++) {
				fprintf(o, "%s,,,%s,", keys[k], names[i]);
				num(o, v[i], fmt);
				fputc('\n', o);
				const double *ci =
				    k == 0 ? lethe_report_measure_ci(mx, i) : nll_measure_ci(mx, i);
				for (int e = 0; ci && e < 2; e++)
					fprintf(o, "%s,,,%s/%s,%s\n", keys[k], names[i],
					        e ? "high" : "low", exact(ci[e]));
			}
			const char *const *arrays = task_arrays;
			const double *vals[N_TASK_ARRAYS];
			task_values(ms[k], vals);
			for (int a = 0; a < N_TASK_ARRAYS; a++)
				for (size_t c = 0; vals[a] && c < C; c++) {
					fprintf(o, "%s,,%s,%s,", keys[k], csvq(mx->col_names[c]),
					        arrays[a]);
					num(o, vals[a][c], fmt);
					fputc('\n', o);
					const double *ci =
					    k == 0 ? lethe_report_task_ci(mx, (size_t)a, c)
					           : nll_task_ci(mx, (size_t)a, c);
					for (int e = 0; ci && e < 2; e++)
						fprintf(o, "%s,,%s,%s/%s,%s\n", keys[k],
						        csvq(mx->col_names[c]), arrays[a],
						        e ? "high" : "low", exact(ci[e]));
				}
		}
		extras(o, fmt, mx);
		return;
	}
	int md = fmt == MARKDOWN;
	int lw = mx->row_labels ? 26 : 14; /* row labels with a method (LoRA) are longer */
	int cw = mx->has_iv ? 24 : 14;     /* a matrix column's width */
	fprintf(o, md ? "# Forgetting report: %s\n\n" : "Forgetting report: %s\n\n", name);
	fprintf(o, md ? "## Score matrix (each task's primary metric)\n\n"
	              : "Score matrix (each task's primary metric; rows: before training and after "
	                "each stage)\n\n");
	if (md) {
		fprintf(o, "| after |");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " %s (%s) |", mx->col_names[c],
			        mx->metrics ? mx->metrics[c] : "");
		fprintf(o, "\n| --- |");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " ---: |");
		fputc('\n', o);
	} else {
		fprintf(o, "%-*s", lw, "");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " %s", col(mx->col_names[c], cw, 1));
		fprintf(o, "\n%-*s", lw, "");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " %s", col(mx->metrics ? mx->metrics[c] : "", cw, 1));
		fputc('\n', o);
	}
	for (size_t r = 0; r < R; r++) {
		if (md)
			fprintf(o, "| %s |", mx->row_names[r]);
		else
			fputs(col(mx->row_names[r], lw, -1), o);
		for (size_t c = 0; c < C; c++) {
			char buf[96];
			text_fig(buf, sizeof(buf), mx->primary[r * C + c],
			         lethe_report_cell_ci(mx, r, c), 0, mx->has_iv ? 3 : 4);
			if (md)
				fprintf(o, " %s |", buf);
			else
				fprintf(o, " %*s", cw, buf);
		}
		fputc('\n', o);
	}
	if (mx->has_iv)
		fprintf(
		    o,
		    md ? "\nIntervals: %.0f%% paired bootstrap over the evaluation examples, %zu "
		         "resamples, seed %llu (docs/forgetting.md).\n"
		       : "\n  [low, high]: %.0f%% paired bootstrap over the evaluation examples, "
		         "%zu resamples, seed %llu (docs/forgetting.md)\n",
		    100 * mx->iv.level, mx->iv.resamples, (unsigned long long)mx->iv.seed);
	const lethe_forgetting *ms[2] = {pm, lm};
	const char *titles[2] = {"Measures on the primary metrics",
	                         "Loss-based: mean target NLL per token (lower is better)"};
	for (int k = 0; k < 2; k++) {
		fprintf(o, md ? "\n## %s\n\n" : "\n%s\n", titles[k]);
		char a[96], b[96], cc[96], d[96];
		const double *none = NULL;
		text_fig(a, sizeof(a), ms[k]->acc, k ? none : lethe_report_measure_ci(mx, 0), 0, 4);
		text_fig(b, sizeof(b), ms[k]->bwt,
		         k ? nll_measure_ci(mx, 1) : lethe_report_measure_ci(mx, 1), 1, 4);
		text_fig(cc, sizeof(cc), ms[k]->fwt, k ? none : lethe_report_measure_ci(mx, 2), 1,
		         4);
		text_fig(d, sizeof(d), ms[k]->chaudhry,
		         k ? nll_measure_ci(mx, 3) : lethe_report_measure_ci(mx, 3), 0, 4);
		if (k == 0 && partial(mx))
			fprintf(
			    o,
			    md ? "**Partial run**: %zu of %zu stages; the measures are over the "
			         "rows so far, not final.\n\n"
			       : "  PARTIAL: %zu of %zu stages trained; the measures are over the "
			         "rows so far, not final.\n",
			    mx->trained_rows, mx->stages);
		if (k == 0)
			fprintf(o,
			        md ? "ACC (final average) %s, BWT %s, FWT %s, forgetting "
			             "(Chaudhry) %s\n\n"
			           : "  ACC (final average) %s   BWT %s   FWT %s   forgetting "
			             "(Chaudhry) %s\n",
			        a, b, cc, d);
		else
			fprintf(o,
			        md ? "BWT %s, forgetting (Chaudhry) %s (in nats per token; "
			             "positive forgetting: the loss rose)\n\n"
			           : "  BWT %s   forgetting (Chaudhry) %s   (nats per token; "
			             "positive forgetting: the loss rose)\n",
			        b, d);
		if (k == 0)
			scale_note(o, md, mx);
		per_task_table(o, md, mx, ms[k], k == 0);
	}
	extras(o, fmt, mx);
	fprintf(o,
	        "\nFormulas: docs/forgetting.md. '-' marks a value that is undefined (never 0).\n");
}

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe report [--format text|markdown|csv|json|html] [-o FILE] RUN.h5\n"
	    "       lethe report --figure NAME [--format svg] [-o FILE] RUN.h5\n\n"
	    "Prints a run's score matrix (each task's primary metric, before training and after "
	    "each\n"
	    "stage) and its forgetting measures: ACC, backward and forward transfer, Chaudhry's\n"
	    "forgetting, per-task forgetting, and the same on the target NLL "
	    "(docs/forgetting.md).\n\n"
	    "  -f, --format FORMAT  text (default), markdown, csv, json, or html (one "
	    "self-contained file\n"
	    "                       with SVG charts)\n"
	    "  -o, --output FILE    write to FILE instead of standard output\n"
	    "      --figure NAME    one chart as a standalone SVG file (--format svg): matrix,\n"
	    "                       nll, tasks, forgetting, events, loss or drift; list: the "
	    "names\n"
	    "      --follow         a run going on: its live log (RUN.h5.log.jsonl), printed "
	    "again as\n"
	    "                       it grows until the run ends\n"
	    "      --log FILE       with --follow: the log lethe run --log wrote\n"
	    "  -h, --help           show this help\n");
}

/* ---- lethe report --figure NAME --format svg ----------------------------------------------- */

/* The figure names, comma-separated, for messages. */
static void figure_list(char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; lethe_report_figure_name(i); i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
		         lethe_report_figure_name(i));
	}
}

/* Checks --figure and --format svg together: an exit status when done (--figure list, or a
 * refusal), -1 to go on and write the figure. */
static int figure_usage(const char *figure, int svg, int fmt_given)
{
	char names[256];
	figure_list(names, sizeof(names));
	if (figure && strcmp(figure, "list") == 0) {
		for (size_t i = 0; lethe_report_figure_name(i); i++)
			printf("%s\n", lethe_report_figure_name(i));
		return LETHE_EXIT_OK;
	}
	if (!figure) {
		lethe_cli_error("report: --format svg draws one figure: give --figure NAME (%s)",
		                names);
		return LETHE_EXIT_USAGE;
	}
	if (fmt_given && !svg) {
		lethe_cli_error("report: --figure writes SVG: give --format svg or no --format");
		return LETHE_EXIT_USAGE;
	}
	for (size_t i = 0; lethe_report_figure_name(i); i++)
		if (strcmp(figure, lethe_report_figure_name(i)) == 0)
			return -1;
	lethe_cli_error("report: --figure: no figure '%s' (figures: %s)", figure, names);
	return LETHE_EXIT_USAGE;
}

static int write_figure(const lethe_report *rep, const char *figure, const char *output,
                        const char *input)
{
	lethe_cli_out out;
	const char *inputs[1] = {input};
	if (lethe_cli_out_open(&out, output, inputs, 1) != 0)
		return LETHE_EXIT_USAGE;
	const char *why = NULL;
	int rc = lethe_report_figure(out.f, rep, figure, &why);
	if (rc == -2)
		lethe_cli_error("%s: figure '%s': %s", input, figure, why);
	else if (rc)
		lethe_cli_error("out of memory");
	if (lethe_cli_out_close(&out, rc == 0) != 0 || rc)
		return rc == -2 ? LETHE_EXIT_USAGE : LETHE_EXIT_FAILED;
	return LETHE_EXIT_OK;
}

int lethe_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
	    {"follow", no_argument, NULL, 'F'},       {"once", no_argument, NULL, '1'},
	    {"log", required_argument, NULL, 'L'},    {"figure", required_argument, NULL, 'G'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	enum format fmt = TEXT;
	const char *output = NULL, *log = NULL, *figure = NULL;
	int c, follow = 0, once = 0, svg = 0, fmt_given = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt_given = 1;
			if (strcmp(optarg, "svg") == 0) /* a figure's format only (--figure) */
				svg = 1;
			else if (parse_format("report", optarg, &fmt))
				return LETHE_EXIT_USAGE;
			break;
		case 'G': figure = optarg; break;
		case 'o': output = optarg; break;
		case 'F': follow = 1; break;
		case '1': once = 1; break; /* --follow without waiting: for tests */
		case 'L': log = optarg; break;
		case 'h': help(stdout); return LETHE_EXIT_OK;
		case ':':
			lethe_cli_error("report: option '%s' needs a value", argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		default:
			lethe_cli_error("report: unknown option '%s' (try 'lethe report --help')",
			                argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	if (figure || svg) {
		int rc = figure_usage(figure, svg, fmt_given);
		if (rc >= 0)
			return rc;
	}
	if (argc - optind != 1) {
		lethe_cli_error("report: expected one run file");
		return LETHE_EXIT_USAGE;
	}
	if (follow || once)
		return lethe_cli_follow(argv[optind], log, once);
	lethe_runfile *rf = open_run(argv[optind]);
	if (!rf)
		return LETHE_EXIT_USAGE;
	lethe_report rep;
	int status = LETHE_EXIT_USAGE;
	int rc = report_read(&rep, rf);
	if (rc == 0 && (fmt == HTML || figure))
		rc = report_read_html(&rep, rf);
	if (rc) {
		lethe_cli_error("%s",
		                rc == LETHE_ENOMEM ? "out of memory" : lethe_runfile_errmsg(rf));
		status = rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
	} else if (figure) {
		status = write_figure(&rep, figure, output, argv[optind]);
	} else {
		lethe_cli_out out;
		const char *inputs[1] = {argv[optind]};
		if (lethe_cli_out_open(&out, output, inputs, 1) == 0) {
			report(out.f, fmt, &rep);
			status =
			    lethe_cli_out_close(&out, 1) == 0 ? LETHE_EXIT_OK : LETHE_EXIT_FAILED;
		}
	}
	report_free(&rep);
	lethe_runfile_free(rf);
	return status;
}

/* ---- lethe compare ------------------------------------------------------------------------------
 */

static void compare_help(FILE *f)
{
	fprintf(
	    f, "Usage: lethe compare [--format text|markdown|csv|json|html] [-o FILE] RUN.h5 "
	       "RUN.h5...\n\n"
	       "Puts runs side by side (sequential against mixed, against replay, ...): one row "
	       "per run,\n"
	       "one column per measure, on the primary metrics and on the target NLL. Runs should\n"
	       "evaluate the same tasks; a difference is reported on stderr.\n"
	       "A directory (lethe sweep's) makes every argument a group of seeds: per measure\n"
	       "the mean, its 95%% t-interval and Welch's p-value between the first two groups.\n\n"
	       "  -f, --format FORMAT  text (default), markdown, csv, json or html\n"
	       "  -o, --output FILE    write to FILE instead of standard output\n"
	       "  -h, --help           show this help\n");
}

/* ---- compare: groups of seeds (issue #12) -------------------------------------------------- */

/* The measures compare shows, per run (compare.h); 0 or the exit status of a refusal. */
enum { N_MEASURES = LETHE_COMPARE_N_MEASURES };

static int run_measures(const char *path, double v[N_MEASURES])
{
	lethe_runfile *rf = open_run(path);
	if (!rf)
		return LETHE_EXIT_USAGE;
	lethe_forgetting pm = {0}, lm = {0};
	int rc;
	if ((rc = lethe_runfile_forgetting(rf, "primary", &pm)) ||
	    (rc = lethe_runfile_forgetting(rf, "target_nll", &lm))) {
		lethe_cli_error("%s",
		                rc == LETHE_ENOMEM ? "out of memory" : lethe_runfile_errmsg(rf));
		lethe_forgetting_free(&pm);
		lethe_runfile_free(rf);
		return rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
	}
	lethe_compare_measures(v, &pm, &lm, lethe_runfile_n_columns(rf));
	lethe_forgetting_free(&pm);
	lethe_forgetting_free(&lm);
	lethe_runfile_free(rf);
	return 0;
}

typedef struct group {
	char *name;
	size_t n_runs;
	double *v;                /* n_runs x N_MEASURES */
	double mean[N_MEASURES];  /* over the runs where the measure is defined */
	double ci[N_MEASURES][2]; /* t-based 95% interval of the mean, NaN under 2 runs */
	size_t n[N_MEASURES];     /* runs with the measure defined */
} group;

/* A directory's *.h5 files in name order (a sweep's seed-N.h5), or the one file. */
static int group_read(group *g, const char *path)
{
	char **files = NULL;
	size_t n = 0;
	g->name = strdup(path);
	if (!g->name)
		return LETHE_EXIT_FAILED;
	int list = lethe_compare_list_runs(path, &files, &n);
	if (list)
		return list;
	int status = (g->v = calloc(n * N_MEASURES + 1, sizeof(double))) ? 0 : LETHE_EXIT_FAILED;
	for (size_t i = 0; status == 0 && i < n; i++)
		status = run_measures(files[i], g->v + i * N_MEASURES);
	lethe_compare_runs_free(files, n);
	g->n_runs = n;
	for (int k = 0; status == 0 && k < N_MEASURES; k++) {
		double sum = 0, sq = 0;
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			double x = g->v[i * N_MEASURES + k];
			if (!isnan(x))
				sum += x, m++;
		}
		g->n[k] = m;
		g->mean[k] = m ? sum / (double)m : NAN;
		for (size_t i = 0; i < n; i++) {
			double x = g->v[i * N_MEASURES + k];
			if (!isnan(x))
				sq += (x - g->mean[k]) * (x - g->mean[k]);
		}
		double half = m >= 2 ? lethe_t_quantile(0.975, (double)(m - 1)) *
		                           sqrt(sq / (double)(m - 1)) / sqrt((double)m)
		                     : NAN;
		g->ci[k][0] = g->mean[k] - half;
		g->ci[k][1] = g->mean[k] + half;
	}
	return status;
}

/* Welch's p-value between the first two groups for measure k; NaN when either has fewer than
 * two defined runs (too few seeds) or both have no variance. */
static double group_p(const group *a, const group *b, int k)
{
	double *x = malloc((a->n_runs + 1) * sizeof(double)),
	       *y = malloc((b->n_runs + 1) * sizeof(double));
	size_t nx = 0, ny = 0;
	for (size_t i = 0; x && i < a->n_runs; i++)
		if (!isnan(a->v[i * N_MEASURES + k]))
			x[nx++] = a->v[i * N_MEASURES + k];
	for (size_t i = 0; y && i < b->n_runs; i++)
		if (!isnan(b->v[i * N_MEASURES + k]))
			y[ny++] = b->v[i * N_MEASURES + k];
	double t, df, p = NAN;
	if (x && y && (nx < 2 || ny < 2 || lethe_welch_t_test(&t, &df, &p, x, nx, y, ny)))
		p = NAN;
	free(x);
	free(y);
	return p;
}

/* The best group of measure k when its interval overlaps no other group's; -1 otherwise. */
static int group_best(const group *g, size_t n, int k)
{
	int best = -1;
	for (size_t i = 0; i < n; i++)
		if (!isnan(g[i].mean[k]) && (best < 0 || (lethe_compare_measure_higher[k]
		                                              ? g[i].mean[k] > g[best].mean[k]
		                                              : g[i].mean[k] < g[best].mean[k])))
			best = (int)i;
	if (best < 0 || n < 2 || isnan(g[best].ci[k][0]))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((int)i == best || isnan(g[i].mean[k]))
			continue;
		if (isnan(g[i].ci[k][0]) ||
		    !(g[i].ci[k][1] < g[best].ci[k][0] || g[i].ci[k][0] > g[best].ci[k][1]))
			return -1;
	}
	return best;
}

static int compare_groups(FILE *o, enum format fmt, const group *g, size_t n)
{
	double p[N_MEASURES];
	int best[N_MEASURES];
	for (int k = 0; k < N_MEASURES; k++) {
		p[k] = n >= 2 ? group_p(&g[0], &g[1], k) : NAN;
		best[k] = group_best(g, n, k);
	}
	int few = n >= 2 && (g[0].n_runs < 2 || g[1].n_runs < 2);
	if (fmt == JSON) {
		fputs("{\"groups\": [", o);
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", {\"group\": " : "{\"group\": ", o);
			json_str(o, g[i].name);
			fprintf(o, ", \"runs\": %zu, \"measures\": {", g[i].n_runs);
			for (int k = 0; k < N_MEASURES; k++) {
				fputs(k ? ", " : "", o);
				json_str(o, lethe_compare_measure_names[k]);
				fputs(": {\"mean\": ", o);
				num(o, g[i].mean[k], fmt);
				if (isnan(g[i].ci[k][0]))
					fputs(", \"ci\": null", o);
				else
					fprintf(o, ", \"ci\": [%s, %s]", exact(g[i].ci[k][0]),
					        exact(g[i].ci[k][1]));
				fprintf(o, ", \"n\": %zu, \"best\": %s}", g[i].n[k],
				        best[k] == (int)i ? "true" : "false");
			}
			fputs("}}", o);
		}
		fputs("], \"p_value\": {", o);
		for (int k = 0; k < N_MEASURES; k++) {
			fputs(k ? ", " : "", o);
			json_str(o, lethe_compare_measure_names[k]);
			fputs(": ", o);
			num(o, p[k], fmt);
		}
		fprintf(o, "}, \"too_few_seeds\": %s}\n", few ? "true" : "false");
		return 0;
	}
	if (fmt == CSV) {
		fputs("group,runs,measure,mean,low,high,n,best\n", o);
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < N_MEASURES; k++) {
				fprintf(o, "%s,%zu,%s,", csvq(g[i].name), g[i].n_runs,
				        lethe_compare_measure_names[k]);
				num(o, g[i].mean[k], fmt);
				fputc(',', o);
				num(o, g[i].ci[k][0], fmt);
				fputc(',', o);
				num(o, g[i].ci[k][1], fmt);
				fprintf(o, ",%zu,%d\n", g[i].n[k], best[k] == (int)i);
			}
		for (int k = 0; n >= 2 && k < N_MEASURES; k++) {
			fprintf(o, "p_value,,%s,", lethe_compare_measure_names[k]);
			num(o, p[k], fmt);
			fputs(",,,,\n", o);
		}
		return 0;
	}
	/* text and markdown: one line per measure, one column per group (HTML: compare_html.c). */
	int md = fmt == MARKDOWN;
	fprintf(o, md ? "| measure |" : "%-28s", md ? "" : "measure");
	int w = 28; /* a group's column: as wide as its longest heading */
	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(g[i].name) + 12;
		w = len > w && len < 280 ? len : w;
	}
	for (size_t i = 0; i < n; i++) {
		char head[300];
		snprintf(head, sizeof(head), "%s (%zu run%s)", g[i].name, g[i].n_runs,
		         g[i].n_runs == 1 ? "" : "s");
		if (md)
			fprintf(o, " %s |", head);
		else
			fprintf(o, " %*s", w, head);
	}
	if (n >= 2)
		fprintf(o, md ? " p (Welch, first two) |" : " %10s", "p (1 vs 2)");
	fputc('\n', o);
	if (md) {
		fputs("| --- |", o);
		for (size_t i = 0; i < n + (n >= 2); i++)
			fputs(" ---: |", o);
		fputc('\n', o);
	}
	for (int k = 0; k < N_MEASURES; k++) {
		fprintf(o, md ? "| %s |" : "%-28s", lethe_compare_measure_names[k]);
		for (size_t i = 0; i < n; i++) {
			char buf[96];
			if (isnan(g[i].mean[k]))
				snprintf(buf, sizeof(buf), "-");
			else if (isnan(g[i].ci[k][0]))
				snprintf(buf, sizeof(buf), "%.4f", g[i].mean[k]);
			else
				snprintf(buf, sizeof(buf), "%s%.4f [%.4f, %.4f]",
				         best[k] == (int)i ? "*" : "", g[i].mean[k], g[i].ci[k][0],
				         g[i].ci[k][1]);
			if (md)
				fprintf(o, " %s |", buf);
			else
				fprintf(o, " %*s", w, buf);
		}
		if (n >= 2) {
			char buf[32];
			snprintf(buf, sizeof(buf), isnan(p[k]) ? "-" : "%.4g", p[k]);
			fprintf(o, md ? " %s |" : " %10s", buf);
		}
		fputc('\n', o);
	}
	const char *note =
	    "Mean over seeds [95% t-interval of the mean]; measures on 0-1 "
	    "(docs/forgetting.md). Best (*) only where its interval overlaps no other "
	    "group's; p: Welch's t-test between the first two groups.";
	fprintf(o, "\n%s\n", note);
	if (few)
		fputs("Too few seeds for a p-value or an interval: each group needs at least 2 "
		      "runs.\n",
		      o);
	return 0;
}

int lethe_cmd_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum format fmt = TEXT;
	const char *output = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format("compare", optarg, &fmt))
				return LETHE_EXIT_USAGE;
			break;
		case 'o': output = optarg; break;
		case 'h': compare_help(stdout); return LETHE_EXIT_OK;
		case ':':
			lethe_cli_error("compare: option '%s' needs a value", argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		default:
			lethe_cli_error("compare: unknown option '%s' (try 'lethe compare --help')",
			                argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	int n = argc - optind;
	if (n < 1) {
		lethe_cli_error("compare: expected run files");
		return LETHE_EXIT_USAGE;
	}
	/* A directory among the arguments: every argument is a group of seeds. */
	int groups = 0;
	for (int i = 0; i < n; i++) {
		struct stat st;
		groups |= stat(argv[optind + i], &st) == 0 && S_ISDIR(st.st_mode);
	}
	if (fmt == HTML) /* compare_html.c: per-task columns, groups or runs with their intervals */
		return lethe_compare_html(output, (const char *const *)(argv + optind), (size_t)n,
		                          groups);
	if (groups) {
		group *g = calloc((size_t)n, sizeof(*g));
		int gs = g ? LETHE_EXIT_OK : LETHE_EXIT_FAILED;
		for (int i = 0; gs == LETHE_EXIT_OK && i < n; i++)
			gs = group_read(&g[i], argv[optind + i]);
		lethe_cli_out gout = {NULL, NULL, NULL};
		if (gs == LETHE_EXIT_OK &&
		    lethe_cli_out_open(&gout, output, (const char *const *)(argv + optind), n) != 0)
			gs = LETHE_EXIT_USAGE;
		if (gs == LETHE_EXIT_OK) {
			compare_groups(gout.f, fmt, g, (size_t)n);
			if (lethe_cli_out_close(&gout, 1) != 0)
				gs = LETHE_EXIT_FAILED;
		}
		for (int i = 0; g && i < n; i++) {
			free(g[i].name);
			free(g[i].v);
		}
		free(g);
		return gs;
	}
	enum { NCOL = LETHE_COMPARE_N_MEASURES };
	double *v = calloc((size_t)n * NCOL, sizeof(double));
	char **names = calloc((size_t)n, sizeof(char *));
	char *first_tasks = NULL;
	int status = v && names ? LETHE_EXIT_OK : LETHE_EXIT_FAILED;
	for (int i = 0; status == LETHE_EXIT_OK && i < n; i++) {
		const char *path = argv[optind + i];
		names[i] = strdup(path);
		lethe_runfile *rf = names[i] ? open_run(path) : NULL;
		lethe_forgetting pm = {0}, lm = {0};
		int rc = LETHE_ENOMEM;
		if (!rf || (rc = lethe_runfile_forgetting(rf, "primary", &pm)) ||
		    (rc = lethe_runfile_forgetting(rf, "target_nll", &lm))) {
			if (rf)
				lethe_cli_error("%s", rc == LETHE_ENOMEM
				                          ? "out of memory"
				                          : lethe_runfile_errmsg(rf));
			status = rf && rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
			lethe_forgetting_free(&pm);
			lethe_runfile_free(rf);
			break;
		}
		size_t nc = lethe_runfile_n_columns(rf);
		const char *const *tasks = lethe_runfile_column_names(rf);
		/* Runs should evaluate the same tasks: compare the joined column names. */
		size_t len = 1;
		for (size_t k = 0; k < nc; k++)
			len += strlen(tasks[k]) + 1;
		char *joined = calloc(len, 1);
		for (size_t k = 0; joined && k < nc; k++) {
			strcat(joined, tasks[k]);
			strcat(joined, ",");
		}
		if (!first_tasks)
			first_tasks = joined;
		else {
			if (joined && strcmp(joined, first_tasks) != 0)
				lethe_cli_error(
				    "warning: %s evaluates other tasks (%s) than %s (%s)", path,
				    joined, argv[optind], first_tasks);
			free(joined);
		}
		lethe_compare_measures(v + (size_t)i * NCOL, &pm, &lm, nc);
		lethe_forgetting_free(&pm);
		lethe_forgetting_free(&lm);
		lethe_runfile_free(rf);
	}
	lethe_cli_out out = {NULL, NULL, NULL};
	if (status == LETHE_EXIT_OK &&
	    lethe_cli_out_open(&out, output, (const char *const *)(argv + optind), n) != 0)
		status = LETHE_EXIT_USAGE;
	FILE *o = out.f;
	if (o) {
		if (fmt == JSON) {
			fputs("[", o);
			for (int i = 0; i < n; i++) {
				fputs(i ? ", {\"run\": " : "{\"run\": ", o);
				json_str(o, names[i]);
				for (int k = 0; k < NCOL; k++) {
					fputs(", ", o);
					json_str(o, lethe_compare_measure_names[k]);
					fputs(": ", o);
					num(o, v[(size_t)i * NCOL + k], fmt);
				}
				fputs("}", o);
			}
			fputs("]\n", o);
		} else if (fmt == CSV) {
			fputs("run", o);
			for (int k = 0; k < NCOL; k++)
				fprintf(o, ",%s", csvq(lethe_compare_measure_names[k]));
			fputc('\n', o);
			for (int i = 0; i < n; i++) {
				fputs(csvq(names[i]), o);
				for (int k = 0; k < NCOL; k++) {
					fputc(',', o);
					num(o, v[(size_t)i * NCOL + k], fmt);
				}
				fputc('\n', o);
			}
		} else {
			int md = fmt == MARKDOWN;
			if (md) {
				fputs("| run |", o);
				for (int k = 0; k < NCOL; k++)
					fprintf(o, " %s |", lethe_compare_measure_names[k]);
				fputs("\n| --- |", o);
				for (int k = 0; k < NCOL; k++)
					fputs(" ---: |", o);
				fputc('\n', o);
			}
			int w = 3;
			for (int i = 0; i < n; i++)
				w = (int)strlen(names[i]) > w ? (int)strlen(names[i]) : w;
			if (!md)
				fprintf(o, "%-*s %8s %8s %8s %10s %10s %9s %10s\n", w, "run", "ACC",
				        "BWT", "FWT", "forget(C)", "forget(t)", "NLL BWT",
				        "NLL forg.");
			for (int i = 0; i < n; i++) {
				if (md)
					fprintf(o, "| %s |", names[i]);
				else
					fprintf(o, "%-*s", w, names[i]);
				for (int k = 0; k < NCOL; k++) {
					char buf[32];
					double x = v[(size_t)i * NCOL + k];
					snprintf(buf, sizeof(buf), isnan(x) ? "-" : "%.4f", x);
					static const int width[NCOL] = {8, 8, 8, 10, 10, 9, 10};
					if (md)
						fprintf(o, " %s |", buf);
					else
						fprintf(o, " %*s", width[k], buf);
				}
				fputc('\n', o);
			}
			if (!md)
				fputs("\nForgetting: lower is less forgotten; BWT: higher is "
				      "better (docs/forgetting.md).\n",
				      o);
		}
		if (lethe_cli_out_close(&out, 1) != 0)
			status = LETHE_EXIT_FAILED;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(v);
	free(first_tasks);
	return status;
}
