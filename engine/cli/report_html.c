/*
 * report_html.c: the HTML form of `lethe report` and its figures. The page is one self-contained
 * file (inline CSS and SVG, no script, nothing fetched) laid out over the whole window and fit
 * to print: the measures and per-task figures with their intervals, the score matrix as a
 * heatmap on one 0-1 scale (viridis, with a colour bar), each task across the stages on one
 * shared 0-1 axis with its baseline dashed and its intervals as whiskers or bands, per-task
 * forgetting, forgetting events with a few example predictions, the training loss with the
 * stage boundaries marked, and the parameter drift. Each chart is also a figure of its own
 * (lethe_report_figure(), `--figure NAME --format svg`). The charts are svg.c's; what is shown
 * is what cmd_report.c read through the run-file reader.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html.h"
#include "svg.h"

#define esc lethe_svg_esc

static int defined(double v)
{
	return !isnan(v) && !isinf(v);
}

/* What column c's scores are divided by to be on 0-1 (1 for a run file without scales). */
static double col_scale(const lethe_report *rep, size_t c)
{
	double s = rep->pm.scale ? rep->pm.scale[c] : 1;
	return defined(s) && s > 0 ? s : 1;
}

/* The primary matrix and its cell intervals on 0-1 (malloc'd; ci NULL without intervals). */
static int scaled_matrix(const lethe_report *rep, double **v, double **ci)
{
	size_t R = rep->rows, C = rep->cols;
	*v = malloc((R * C + 1) * sizeof(double));
	*ci = rep->has_iv ? malloc((2 * R * C + 1) * sizeof(double)) : NULL;
	if (!*v || (rep->has_iv && !*ci)) {
		free(*v);
		free(*ci);
		*v = *ci = NULL;
		return -1;
	}
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++) {
			double s = col_scale(rep, c);
			(*v)[r * C + c] = rep->primary[r * C + c] / s;
			if (*ci) {
				const double *x = lethe_report_cell_ci(rep, r, c);
				(*ci)[2 * (r * C + c)] = x ? x[0] / s : NAN;
				(*ci)[2 * (r * C + c) + 1] = x ? x[1] / s : NAN;
			}
		}
	return 0;
}

/* "bleu / 100" or "accuracy": a column's metric as the 0-1 figures use it. */
static void metric_label(char *buf, size_t size, const lethe_report *rep, size_t c)
{
	const char *m = rep->metrics ? rep->metrics[c] : "";
	double s = col_scale(rep, c);
	if (s != 1)
		snprintf(buf, size, "%s / %g", m, s);
	else
		snprintf(buf, size, "%s%s", m,
		         rep->lower && rep->lower[c] ? " (lower is better)" : "");
}

/* Whether column c is on 0-1 once scaled (a higher-is-better metric whose every value and
 * interval lies in [0, 1]): such columns share one colour scale and one axis; others (perplexity)
 * are shown in their own units. */
static int on_unit(const lethe_report *rep, size_t c)
{
	if (rep->lower && rep->lower[c])
		return 0;
	const double eps = 1e-9;
	for (size_t r = 0; r < rep->rows; r++) {
		double s = col_scale(rep, c), x = rep->primary[r * rep->cols + c] / s;
		const double *ci = lethe_report_cell_ci(rep, r, c);
		if (defined(x) && (x < -eps || x > 1 + eps))
			return 0;
		if (ci && (ci[0] / s < -eps || ci[1] / s > 1 + eps))
			return 0;
	}
	return 1;
}

/* ---- the figures ----------------------------------------------------------------------------- */

static int fig_matrix(FILE *o, const lethe_report *rep, int standalone)
{
	double *v, *ci;
	char **subs = calloc(rep->cols + 1, sizeof(char *));
	if (!subs || scaled_matrix(rep, &v, &ci)) {
		free(subs);
		return -1;
	}
	unsigned char *plain = calloc(rep->cols + 1, 1);
	int any_plain = 0;
	for (size_t c = 0; c < rep->cols; c++) {
		if ((subs[c] = malloc(96)))
			metric_label(subs[c], 96, rep, c);
		if (plain)
			any_plain |= plain[c] = !on_unit(rep, c);
	}
	lethe_heatmap h = {
	    .title = "Primary metric per task after each stage (one 0-1 scale)",
	    .legend = "score on 0-1",
	    .note = any_plain ? "Grey columns are not on 0-1 (e.g. perplexity): their values are "
	                        "raw and not coloured; \xe2\x80\x93: not evaluated."
	            : rep->has_iv ? "Cells: value [95% paired-bootstrap interval]; rows: before "
	                            "training and after each stage; \xe2\x80\x93: not evaluated."
	                          : "Rows: before training and after each stage; \xe2\x80\x93: not "
	                            "evaluated.",
	    .plain = plain,
	    .rows = rep->rows,
	    .cols = rep->cols,
	    .v = v,
	    .ci = ci,
	    .row_names = rep->row_names,
	    .col_names = rep->col_names,
	    .col_sub = (const char *const *)subs,
	    .lo = 0,
	    .hi = 1,
	    .digits = 3};
	int ok = plain != NULL;
	for (size_t c = 0; c < rep->cols; c++)
		ok &= subs[c] != NULL;
	if (ok)
		lethe_svg_heatmap(o, &h, standalone);
	for (size_t c = 0; c < rep->cols; c++)
		free(subs[c]);
	free(subs);
	free(plain);
	free(v);
	free(ci);
	return ok ? 0 : -1;
}

static int fig_nll(FILE *o, const lethe_report *rep, int standalone)
{
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < rep->rows * rep->cols; i++)
		if (defined(rep->nll[i])) {
			lo = fmin(lo, rep->nll[i]);
			hi = fmax(hi, rep->nll[i]);
		}
	if (!defined(lo)) {
		lo = 0;
		hi = 1;
	}
	lethe_heatmap h = {.title = "Target NLL per token after each stage (lower is better)",
	                   .legend = "nats per token",
	                   .note = "One colour scale over the whole matrix; bright is better.",
	                   .rows = rep->rows,
	                   .cols = rep->cols,
	                   .v = rep->nll,
	                   .row_names = rep->row_names,
	                   .col_names = rep->col_names,
	                   .lo = lo,
	                   .hi = hi > lo ? hi : lo + 1,
	                   .reverse = 1,
	                   .digits = 3};
	lethe_svg_heatmap(o, &h, standalone);
	return 0;
}

/* Every task across the rows on one 0-1 axis (col == (size_t)-1), or one task alone. */
static int fig_tasks(FILE *o, const lethe_report *rep, size_t only, int standalone)
{
	size_t R = rep->rows, C = rep->cols;
	double *v, *ci;
	if (scaled_matrix(rep, &v, &ci))
		return -1;
	/* Column-major copies: a series wants its values contiguous. */
	double *cv = malloc((R * C + 1) * sizeof(double)), *cc = NULL;
	lethe_chart_series *s = calloc(C + 1, sizeof(*s));
	if (ci)
		cc = malloc((2 * R * C + 1) * sizeof(double));
	if (!cv || !s || (ci && !cc)) {
		free(cv);
		free(cc);
		free(s);
		free(v);
		free(ci);
		return -1;
	}
	/* All tasks share the 0-1 axis: those on 0-1, or every one (on their range) when none is.
	 */
	int unit = only != (size_t)-1 ? on_unit(rep, only) : 0;
	for (size_t c = 0; only == (size_t)-1 && c < C; c++)
		unit |= on_unit(rep, c);
	size_t n = 0;
	for (size_t c = 0; c < C; c++) {
		if (only != (size_t)-1 && c != only)
			continue;
		if (only == (size_t)-1 && unit && !on_unit(rep, c))
			continue;
		for (size_t r = 0; r < R; r++) {
			cv[c * R + r] = v[r * C + c];
			if (cc) {
				cc[2 * (c * R + r)] = ci[2 * (r * C + c)];
				cc[2 * (c * R + r) + 1] = ci[2 * (r * C + c) + 1];
			}
		}
		s[n++] = (lethe_chart_series){
		    .name = rep->col_names[c],
		    .n = R,
		    .y = cv + c * R,
		    .ci = cc ? cc + 2 * c * R : NULL,
		    .reference = rep->has_baseline && R ? v[c] : NAN,
		};
	}
	char title[256], ylabel[128];
	if (only == (size_t)-1) {
		snprintf(title, sizeof(title), "Each task after each stage");
		snprintf(ylabel, sizeof(ylabel), unit ? "score on 0-1" : "score");
	} else {
		metric_label(ylabel, sizeof(ylabel), rep, only);
		snprintf(title, sizeof(title), "%s", rep->col_names[only]);
	}
	const char *note =
	    rep->has_baseline
	        ? (ci ? "Dashed: the task's score before training (baseline); whiskers: 95% "
	                "intervals."
	              : "Dashed: the task's score before training (baseline).")
	        : (ci ? "Whiskers: 95% intervals." : NULL);
	lethe_line_chart ch = {.title = title,
	                       .y_label = ylabel,
	                       .y_lo = unit ? 0 : NAN,
	                       .y_hi = unit ? 1 : NAN,
	                       .x_ticks = rep->row_names,
	                       .n_x_ticks = R,
	                       .markers = 1,
	                       .bands = only != (size_t)-1,
	                       .note = only == (size_t)-1 ? note : NULL,
	                       .width = only == (size_t)-1 ? 760 : 440,
	                       .height = only == (size_t)-1 ? 360 : 260};
	if (only != (size_t)-1)
		s[0].name = NULL; /* the title names it */
	lethe_svg_line_chart(o, &ch, s, n, standalone);
	free(cv);
	free(cc);
	free(s);
	free(v);
	free(ci);
	return 0;
}

static int fig_forgetting(FILE *o, const lethe_report *rep, int standalone)
{
	size_t C = rep->cols;
	double *ci = malloc((2 * C + 1) * sizeof(double)), *v = malloc((C + 1) * sizeof(double));
	const char **text = calloc(C + 1, sizeof(char *));
	if (!ci || !v || !text) {
		free(ci);
		free(v);
		free(text);
		return -1;
	}
	for (size_t c = 0; c < C; c++) {
		v[c] = rep->pm.forgetting ? rep->pm.forgetting[c] : NAN;
		const double *x = lethe_report_task_ci(rep, 2, c);
		ci[2 * c] = x ? x[0] : NAN;
		ci[2 * c + 1] = x ? x[1] : NAN;
		if (!on_unit(rep, c))
			text[c] = "not on 0-1";
		else if (defined(v[c]) && lethe_report_not_learnt(rep, c))
			text[c] = "not learnt";
		else if (!defined(v[c]))
			text[c] = "undefined";
	}
	lethe_bar_chart b = {.title = "Forgetting per task (score after its stage minus final)",
	                     .y_label = "forgetting on 0-1",
	                     .note = rep->has_iv
	                                 ? "Whiskers: 95% intervals. not learnt: no gain over its "
	                                   "baseline; undefined: trained in the last stage."
	                                 : "undefined: trained in the last stage.",
	                     .n = C,
	                     .names = rep->col_names,
	                     .v = v,
	                     .ci = rep->has_iv ? ci : NULL,
	                     .text = text,
	                     .width = 760};
	lethe_svg_bar_chart(o, &b, standalone);
	free(ci);
	free(v);
	free(text);
	return 0;
}

static int fig_events(FILE *o, const lethe_report *rep, int standalone)
{
	size_t C = rep->cols;
	double *v = malloc((C + 1) * sizeof(double));
	const char **text = calloc(C + 1, sizeof(char *));
	if (!v || !text) {
		free(v);
		free(text);
		return -1;
	}
	for (size_t c = 0; c < C; c++) {
		v[c] = NAN;
		if (!rep->events || !rep->events[c]) {
			text[c] = "none stored";
			continue;
		}
		long total = 0;
		for (size_t i = 0; i < rep->n_events[c]; i++)
			total += rep->events[c][i];
		v[c] = (double)total;
	}
	lethe_bar_chart b = {.title = "Forgetting events per task",
	                     .y_label = "events",
	                     .note = "An event: an example right after one stage and wrong after "
	                             "the next, from the stage that trained its task on.",
	                     .n = C,
	                     .names = rep->col_names,
	                     .v = v,
	                     .text = text,
	                     .width = 760};
	lethe_svg_bar_chart(o, &b, standalone);
	free(v);
	free(text);
	return 0;
}

/* The training loss of all stages end to end, x in optimizer steps, one mark per stage start
 * labelled with its name: the layout within-stage curves use too. */
static int fig_loss(FILE *o, const lethe_report *rep, int standalone)
{
	size_t n = rep->n_loss, nb = rep->n_bounds + 1;
	double *x = malloc((n + 1) * sizeof(double)), *marks = malloc((nb + 1) * sizeof(double));
	const char **labels = calloc(nb + 1, sizeof(char *));
	if (!x || !marks || !labels) {
		free(x);
		free(marks);
		free(labels);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = (double)(i + 1);
	marks[0] = 0.5;
	for (size_t i = 0; i < rep->n_bounds; i++)
		marks[i + 1] = rep->bounds[i] + 1;
	/* The trained rows in order name the segments. */
	size_t k = 0;
	for (size_t r = 0; r < rep->rows && k < nb; r++)
		if (rep->trained ? rep->trained[r] : r > 0)
			labels[k++] = rep->row_names[r];
	lethe_chart_series s = {.name = "loss", .n = n, .x = x, .y = rep->loss, .reference = NAN};
	lethe_line_chart ch = {.title = "Training loss per optimizer step",
	                       .x_label = "optimizer step (all stages end to end)",
	                       .y_label = "loss",
	                       .x_lo = 0,
	                       .x_hi = (double)n + 0.5,
	                       .y_lo = NAN,
	                       .y_hi = NAN,
	                       .marks = marks,
	                       .mark_labels = labels,
	                       .n_marks = nb,
	                       .note = "Dashed: where each stage begins.",
	                       .width = 760,
	                       .height = 320};
	lethe_svg_line_chart(o, &ch, &s, 1, standalone);
	free(x);
	free(marks);
	free(labels);
	return 0;
}

/* Within-stage curves (evaluate: {every: N}): each task on 0-1 against the optimizer step of
 * the whole run, from its baseline through every curve point to each stage's end (the row's
 * score), with a mark where each stage begins: the "stability gap" of an old task shows as a dip
 * just after a mark. Tasks not on 0-1 are left out, as on the tasks chart. */
static int fig_curves(FILE *o, const lethe_report *rep, int standalone)
{
	size_t R = rep->rows, C = rep->cols, nb = rep->n_bounds + 1;
	size_t per = rep->n_points + R + 1; /* points of one task at most */
	double *x = malloc((C * per + 1) * sizeof(double));
	double *y = malloc((C * per + 1) * sizeof(double));
	double *marks = malloc((nb + 1) * sizeof(double));
	const char **labels = calloc(nb + 1, sizeof(char *));
	lethe_chart_series *s = calloc(C + 1, sizeof(*s));
	int rc = -1;
	if (!x || !y || !marks || !labels || !s || !rep->row_step0)
		goto out;
	marks[0] = 0.5;
	for (size_t i = 0; i < rep->n_bounds; i++)
		marks[i + 1] = rep->bounds[i] + 1;
	size_t k = 0;
	for (size_t r = 0; r < R && k < nb; r++)
		if (rep->trained ? rep->trained[r] : r > 0)
			labels[k++] = rep->row_names[r];
	size_t ns = 0;
	for (size_t c = 0; c < C; c++) {
		if (!on_unit(rep, c))
			continue;
		double sc = col_scale(rep, c), *xs = x + ns * per, *ys = y + ns * per;
		size_t n = 0, i = 0;
		for (size_t r = 0; r < R; r++) {
			int trained = rep->trained ? rep->trained[r] : r > 0;
			if (!trained && r != 0)
				continue;
			for (; i < rep->n_points && rep->point_row[i] < r; i++)
				;
			for (; i < rep->n_points && rep->point_row[i] == r; i++) {
				xs[n] = (double)(rep->row_step0[r] + (size_t)rep->point_step[i]);
				ys[n++] = rep->point_value[i * C + c] / sc;
			}
			/* The row itself: the baseline at step 0, a stage's end after its last
			 * step. */
			size_t end = r + 1 < R ? rep->row_step0[r + 1] : rep->n_loss;
			xs[n] = trained ? (double)end : 0;
			ys[n++] = rep->primary[r * C + c] / sc;
		}
		s[ns++] = (lethe_chart_series){
		    .name = rep->col_names[c],
		    .n = n,
		    .x = xs,
		    .y = ys,
		    .reference = rep->has_baseline && R ? rep->primary[c] / sc : NAN};
	}
	lethe_line_chart ch = {
	    .title = "Each task within the stages",
	    .x_label = "optimizer step (all stages end to end)",
	    .y_label = "score on 0-1",
	    .y_lo = 0,
	    .y_hi = 1,
	    .x_lo = 0,
	    .x_hi = (double)rep->n_loss + 0.5,
	    .marks = marks,
	    .mark_labels = labels,
	    .n_marks = nb,
	    .markers = 1,
	    .note =
	        "Points: every evaluate.every steps and each stage's end; dashed: stage starts, "
	        "baselines.",
	    .width = 760,
	    .height = 340};
	lethe_svg_line_chart(o, &ch, s, ns, standalone);
	rc = 0;
out:
	free(x);
	free(y);
	free(marks);
	free(labels);
	free(s);
	return rc;
}

static int fig_drift(FILE *o, const lethe_report *rep, int standalone)
{
	static const char *const groups[5] = {"embeddings", "attention", "mlp", "norms", "all"};
	size_t R = rep->rows;
	double *v = malloc((5 * R + 1) * sizeof(double));
	if (!v)
		return -1;
	lethe_chart_series s[5];
	for (int g = 0; g < 5; g++) {
		for (size_t r = 0; r < R; r++)
			v[g * R + r] = rep->rel_init[r * LETHE_RUNFILE_DRIFT_GROUPS + (size_t)g];
		s[g] = (lethe_chart_series){
		    .name = groups[g], .n = R, .y = v + g * R, .reference = NAN};
	}
	lethe_line_chart ch = {.title = "Parameter drift since the initial model",
	                       .y_label = "relative L2 change",
	                       .y_lo = 0,
	                       .y_hi = NAN,
	                       .x_ticks = rep->row_names,
	                       .n_x_ticks = R,
	                       .markers = 1,
	                       .width = 760};
	lethe_svg_line_chart(o, &ch, s, 5, standalone);
	free(v);
	return 0;
}

/* ---- figures by name ---------------------------------------------------------------------------
 */

static const char *const figure_names[] = {"matrix", "nll",  "tasks", "forgetting",
                                           "events", "loss", "drift", "curves"};
#define N_FIGURES (sizeof(figure_names) / sizeof(figure_names[0]))

const char *lethe_report_figure_name(size_t i)
{
	return i < N_FIGURES ? figure_names[i] : NULL;
}

int lethe_report_figure(FILE *o, const lethe_report *rep, const char *name, const char **why)
{
	*why = NULL;
	if (strcmp(name, "matrix") == 0)
		return fig_matrix(o, rep, 1) ? -3 : 0;
	if (strcmp(name, "tasks") == 0)
		return fig_tasks(o, rep, (size_t)-1, 1) ? -3 : 0;
	if (strcmp(name, "forgetting") == 0)
		return fig_forgetting(o, rep, 1) ? -3 : 0;
	if (strcmp(name, "events") == 0)
		return fig_events(o, rep, 1) ? -3 : 0;
	if (strcmp(name, "nll") == 0) {
		if (!rep->nll) {
			*why = "this run file has no target NLL matrix";
			return -2;
		}
		return fig_nll(o, rep, 1) ? -3 : 0;
	}
	if (strcmp(name, "loss") == 0) {
		if (!rep->n_loss) {
			*why = "this run file has no training loss (no stage trained)";
			return -2;
		}
		return fig_loss(o, rep, 1) ? -3 : 0;
	}
	if (strcmp(name, "curves") == 0) {
		if (!rep->n_points) {
			*why = "this run file has no within-stage curves (evaluate: {every: N})";
			return -2;
		}
		return fig_curves(o, rep, 1) ? -3 : 0;
	}
	if (strcmp(name, "drift") == 0) {
		if (!rep->rel_init) {
			*why = "this run file has no parameter drift";
			return -2;
		}
		return fig_drift(o, rep, 1) ? -3 : 0;
	}
	return -1;
}

/* ---- the page -------------------------------------------------------------------------------- */

static const char *const css =
    "*{box-sizing:border-box}"
    "body{font:15px/1.5 'DejaVu Sans',Helvetica,Arial,sans-serif;color:#1d1d1f;margin:0;"
    "padding:20px 3vw 40px;background:#fff}"
    "h1{font-size:26px;margin:0 0 2px}h2{font-size:19px;margin:34px 0 8px;padding-bottom:4px;"
    "border-bottom:2px solid #e4e4e4}h3{font-size:15px;margin:18px 0 4px}"
    "p{margin:6px 0;max-width:110ch}.meta,.note{color:#555;font-size:13px}"
    ".banner{background:#fff4d6;border:1px solid #d9b44a;padding:8px 12px;margin:10px 0;"
    "max-width:110ch}"
    "table{border-collapse:collapse;font-size:13.5px;margin:8px 0;"
    "font-variant-numeric:tabular-nums}"
    "td,th{border:1px solid #d4d4d4;padding:4px 10px;text-align:right;vertical-align:top}"
    "th{background:#f2f2f2;font-weight:600}td:first-child,th:first-child{text-align:left}"
    "td{white-space:nowrap}.ci{color:#666;font-size:12px}td.nl{color:#8a5a00;font-style:italic}."
    "scroll{overflow-x:auto;max-width:100%}"
    "figure{margin:10px 0;break-inside:avoid}svg.chart{width:100%;height:auto;display:block}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));"
    "gap:8px 28px;align-items:start}.grid.examples{grid-template-columns:repeat(auto-fill,"
    "minmax(520px,1fr))}"
    ".pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:8px 28px;"
    "align-items:start}"
    "td.pred{text-align:left;font-family:'DejaVu Sans Mono',monospace;font-size:12px;"
    "min-width:12ch;max-width:30ch;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".right{color:#0b6e4f;font-weight:bold}.wrong{color:#b4361b;font-weight:bold}"
    "@media print{body{padding:0;font-size:10pt}h2{break-after:avoid}"
    "table,figure,tr{break-inside:avoid}.grid{grid-template-columns:1fr 1fr}"
    ".pair{grid-template-columns:1fr}.scroll{overflow:visible}}"
    "@page{size:A4;margin:14mm}";

static void fig_html(FILE *o, int (*f)(FILE *, const lethe_report *, int), const lethe_report *rep,
                     const char *id)
{
	fprintf(o, "<figure id=\"fig-%s\">\n", id);
	f(o, rep, 0);
	fputs("</figure>\n", o);
}

/* A figure with its interval as "0.470 [0.380, 0.570]", or "–". */
static void cell(FILE *o, double v, const double *ci, int sign, int digits)
{
	if (!defined(v)) {
		fputs("&#8211;", o);
		return;
	}
	fprintf(o, sign ? "%+.*f" : "%.*f", digits, v);
	if (ci)
		fprintf(o,
		        sign ? "<br><span class=\"ci\">[%+.*f, %+.*f]</span>"
		             : "<br><span class=\"ci\">[%.*f, %.*f]</span>",
		        digits, ci[0], digits, ci[1]);
}

static void measures_html(FILE *o, const lethe_report *rep)
{
	const lethe_forgetting *pm = &rep->pm, *lm = &rep->lm;
	fputs("<h2 id=\"measures\">Measures</h2>\n", o);
	if (lethe_report_partial(rep))
		fprintf(o,
		        "<p class=\"banner\"><b>Partial run</b>: %zu of %zu stages trained; the "
		        "measures are over the rows so far, not final.</p>\n",
		        rep->trained_rows, rep->stages);
	fputs("<div class=\"scroll\"><table><tr><th>measure</th><th>on the primary "
	      "metrics</th><th>on the target NLL (nats per token)</th></tr>\n",
	      o);
	static const char *const labels[4] = {"ACC (average final score)",
	                                      "BWT (backward transfer)", "FWT (forward transfer)",
	                                      "forgetting (Chaudhry)"};
	double a[4] = {pm->acc, pm->bwt, pm->fwt, pm->chaudhry},
	       b[4] = {lm->acc, lm->bwt, lm->fwt, lm->chaudhry};
	for (int i = 0; i < 4; i++) {
		fprintf(o, "<tr><td>%s</td><td>", labels[i]);
		cell(o, a[i], lethe_report_measure_ci(rep, i), i == 1 || i == 2, 4);
		fputs("</td><td>", o);
		cell(o, b[i], NULL, i == 1 || i == 2, 4);
		fputs("</td></tr>\n", o);
	}
	fputs("</table></div>\n<p class=\"note\">", o);
	if (pm->scale) {
		fputs("Every measure and per-task figure uses each primary metric on 0-1", o);
		int any = 0;
		for (size_t c = 0; c < rep->cols; c++)
			if (col_scale(rep, c) != 1) {
				fputs(any ? ", " : " (", o);
				esc(o, rep->col_names[c]);
				fputs(": ", o);
				esc(o, rep->metrics ? rep->metrics[c] : "");
				fprintf(o, " / %g", col_scale(rep, c));
				any = 1;
			}
		fputs(any ? "). " : ". ", o);
	} else
		fputs(
		    "Measures on the raw primary metrics (a run file written before lethe put them "
		    "on one scale). ",
		    o);
	if (rep->has_iv)
		fprintf(o,
		        "[low, high]: %.0f%% paired bootstrap over the evaluation examples, %zu "
		        "resamples, seed %llu. ",
		        100 * rep->iv.level, rep->iv.resamples, (unsigned long long)rep->iv.seed);
	fputs("Formulas: docs/forgetting.md; &#8211; marks an undefined value (never 0).</p>\n", o);

	/* Per task. */
	static const char *const heads[7] = {
	    "after its stage",  "final",   "forgetting", "relative forgetting", "normalised",
	    "forward transfer", "max drop"};
	const double *all[LETHE_INTERVAL_TASK_FIGURES];
	lethe_forgetting_task_figures(pm, all);
	fputs("<h3>Per task (on 0-1)</h3>\n<div class=\"scroll\"><table><tr><th>task</th><th>"
	      "metric</th>",
	      o);
	for (int i = 0; i < 7; i++)
		fprintf(o, "<th>%s</th>", heads[i]);
	fputs("</tr>\n", o);
	for (size_t c = 0; c < rep->cols; c++) {
		fputs("<tr><td>", o);
		esc(o, rep->col_names[c]);
		fputs("</td><td>", o);
		esc(o, rep->metrics ? rep->metrics[c] : "");
		fputs("</td>", o);
		for (int i = 0; i < 7; i++) {
			double x = all[i] ? all[i][c] : NAN;
			if ((i == 2 || i == 3) && defined(x) && lethe_report_not_learnt(rep, c)) {
				fputs("<td class=\"nl\">not learnt</td>", o);
				continue;
			}
			fputs("<td>", o);
			cell(o, x, lethe_report_task_ci(rep, (size_t)i, c), i >= 2,
			     rep->has_iv ? 3 : 4);
			fputs("</td>", o);
		}
		fputs("</tr>\n", o);
	}
	fputs("</table></div>\n<p class=\"note\">After its stage: the score right after the stage "
	      "that trained the task; relative: forgetting / that score; normalised: (final "
	      "&#8722; baseline) / (1 &#8722; baseline); forward transfer: the score before its "
	      "stage minus the baseline's; max drop: the largest fall below any earlier row. "
	      "<i>not learnt</i>: the interval of its gain over the baseline reaches 0, so its "
	      "forgetting means nothing.</p>\n",
	      o);
}

static void methods_html(FILE *o, const lethe_report *rep)
{
	int any = 0;
	for (size_t r = 0; rep->methods && r < rep->rows; r++)
		any |= rep->methods[r] != NULL;
	if (!any)
		return;
	fputs("<h2>Methods against forgetting</h2>\n<table><tr><th>stage</th><th "
	      "style=\"text-align:left\">methods</th></tr>\n",
	      o);
	for (size_t r = 0; r < rep->rows; r++) {
		if (!rep->methods[r])
			continue;
		fputs("<tr><td>", o);
		esc(o, rep->row_names[r]);
		fputs("</td><td style=\"text-align:left\">", o);
		esc(o, rep->methods[r]);
		fputs("</td></tr>\n", o);
	}
	fputs("</table><p class=\"note\">Formulas and sources: docs/methods.md.</p>\n", o);
}

/* Whether a per-example score counts as right: at least 0.5 on 0-1, as forgetting events do. */
static int right(const lethe_report *rep, size_t c, double score)
{
	return score / col_scale(rep, c) >= 0.5;
}

static void events_html(FILE *o, const lethe_report *rep)
{
	fputs("<h2 id=\"events\">Forgetting events and example predictions</h2>\n<div "
	      "class=\"pair\">\n",
	      o);
	fig_html(o, fig_events, rep, "events");
	fputs("<div class=\"scroll\"><table><tr><th>task</th><th>events</th><th>examples "
	      "forgotten</th><th>evaluated</th><th style=\"text-align:left\">most forgotten "
	      "(example: events)</th></tr>\n",
	      o);
	for (size_t c = 0; c < rep->cols; c++) {
		fputs("<tr><td>", o);
		esc(o, rep->col_names[c]);
		if (!rep->events || !rep->events[c]) {
			fputs(
			    "</td><td colspan=\"4\" style=\"text-align:left\" class=\"note\">none "
			    "stored (a lower-is-better metric)</td></tr>\n",
			    o);
			continue;
		}
		long total = 0, forgotten = 0;
		size_t n = rep->n_events[c];
		for (size_t i = 0; i < n; i++) {
			total += rep->events[c][i];
			forgotten += rep->events[c][i] > 0;
		}
		fprintf(o,
		        "</td><td>%ld</td><td>%ld</td><td>%zu</td><td style=\"text-align:left\">",
		        total, forgotten, n);
		const lethe_report_examples *ex = rep->examples ? &rep->examples[c] : NULL;
		int any = 0;
		for (size_t i = 0; ex && i < ex->n; i++)
			if (ex->events[i] > 0) {
				fprintf(o, "%s#%zu: %d", any ? ", " : "", ex->index[i],
				        ex->events[i]);
				any = 1;
			}
		fputs(any ? "</td></tr>\n" : "&#8211;</td></tr>\n", o);
	}
	fputs("</table></div></div>\n", o);
	if (!rep->examples)
		return;
	fputs("<p class=\"note\">Below, per task, the most-forgotten examples (or the first ones "
	      "when none was forgotten): what the model answered after each row, its per-example "
	      "score, and <span class=\"right\">&#10003;</span> right or <span "
	      "class=\"wrong\">&#10007;</span> wrong (at least 0.5 on 0-1, the rule of the "
	      "events). The run file stores each evaluation's predictions and scores but not the "
	      "prompts or the targets, so those are not shown; #N is the example's index among "
	      "the task's evaluated examples.</p>\n<div class=\"grid examples\">\n",
	      o);
	for (size_t c = 0; c < rep->cols; c++) {
		const lethe_report_examples *ex = &rep->examples[c];
		if (!ex->n)
			continue;
		fputs("<div><h3>", o);
		esc(o, rep->col_names[c]);
		fputs("</h3><div class=\"scroll\"><table><tr><th>after</th>", o);
		for (size_t i = 0; i < ex->n; i++)
			fprintf(o, "<th style=\"text-align:left\">#%zu</th>", ex->index[i]);
		fputs("</tr>\n", o);
		for (size_t r = 0; r < rep->rows; r++) {
			fputs("<tr><td>", o);
			esc(o, rep->row_names[r]);
			fputs("</td>", o);
			for (size_t i = 0; i < ex->n; i++) {
				double sc = ex->score[i * rep->rows + r];
				const char *t = ex->text ? ex->text[i * rep->rows + r] : NULL;
				fputs("<td class=\"pred\">", o);
				if (!defined(sc) && !t) {
					fputs("&#8211;</td>", o);
					continue;
				}
				if (defined(sc)) {
					int ok =
					    !(rep->lower && rep->lower[c]) && right(rep, c, sc);
					if (!(rep->lower && rep->lower[c]))
						fputs(ok ? "<span class=\"right\">&#10003;</span> "
						         : "<span class=\"wrong\">&#10007;</span> ",
						      o);
					fprintf(o, "<span class=\"note\">%.3g</span> ", sc);
				}
				if (t) {
					fputs("<br>", o);
					lethe_svg_esc_cut(o, t, 60);
				}
				fputs("</td>", o);
			}
			fputs("</tr>\n", o);
		}
		fputs("</table></div></div>\n", o);
	}
	fputs("</div>\n", o);
}

void lethe_report_html(FILE *o, const lethe_report *rep)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	      "<title>lethe report: ",
	      o);
	esc(o, rep->name);
	fprintf(o, "</title>\n<style>%s</style></head><body>\n", css);
	fputs("<h1>Forgetting report: ", o);
	esc(o, rep->name);
	fprintf(o, "</h1>\n<p class=\"meta\">%zu task%s, %zu row%s (%s%zu of %zu stage%s trained)",
	        rep->cols, rep->cols == 1 ? "" : "s", rep->rows, rep->rows == 1 ? "" : "s",
	        rep->has_baseline ? "the baseline before training, then " : "", rep->trained_rows,
	        rep->stages, rep->stages == 1 ? "" : "s");
	fputs(". Each chart is also a standalone SVG: <code>lethe report --figure NAME --format "
	      "svg</code>.</p>\n",
	      o);

	measures_html(o, rep);
	methods_html(o, rep);

	fputs("<h2 id=\"matrix\">Score matrix</h2>\n<div class=\"pair\">\n", o);
	fig_html(o, fig_matrix, rep, "matrix");
	if (rep->nll)
		fig_html(o, fig_nll, rep, "nll");
	fputs("</div>\n", o);

	fputs("<h2 id=\"tasks\">Each task across the stages</h2>\n<div class=\"pair\">\n", o);
	fputs("<figure id=\"fig-tasks\">\n", o);
	fig_tasks(o, rep, (size_t)-1, 0);
	fputs("</figure>\n", o);
	fig_html(o, fig_forgetting, rep, "forgetting");
	fputs(
	    "</div>\n<p class=\"note\">Every panel on the same 0-1 axis; dashed: the task's score "
	    "before training; shaded: 95% intervals.</p>\n<div class=\"grid\">\n",
	    o);
	for (size_t c = 0; c < rep->cols; c++) {
		fputs("<figure>\n", o);
		fig_tasks(o, rep, c, 0);
		fputs("</figure>\n", o);
	}
	fputs("</div>\n", o);
	if (rep->n_points)
		fig_html(o, fig_curves, rep, "curves");

	events_html(o, rep);

	if (rep->n_loss || rep->rel_init) {
		fputs("<h2 id=\"training\">Training</h2>\n<div class=\"pair\">\n", o);
		if (rep->n_loss)
			fig_html(o, fig_loss, rep, "loss");
		if (rep->rel_init)
			fig_html(o, fig_drift, rep, "drift");
		fputs("</div>\n", o);
	}
	fputs("<p class=\"note\">Written by lethe report. Formulas: docs/forgetting.md.</p>\n"
	      "</body></html>\n",
	      o);
}
