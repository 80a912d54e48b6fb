/*
 * report_html.c: the HTML form of `lethe report`: one self-contained file (inline CSS, SVG
 * charts, no script, no external resource) with the measures, a heatmap of the primary score
 * matrix (colour per task column, since tasks use different metrics) and of the target-NLL
 * matrix, each task's score across the rows, the training loss with stage boundaries, and the
 * parameter drift per group. It prints what cmd_report.c read through the run-file reader.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html.h"

static void esc(FILE *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", o);
		else if (*s == '>')
			fputs("&gt;", o);
		else if (*s == '&')
			fputs("&amp;", o);
		else if (*s == '"')
			fputs("&quot;", o);
		else
			fputc(*s, o);
	}
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* A heatmap of rows x cols values; each column is coloured on its own range (tasks differ in
 * scale); lower_better flips the colour so that green is always good. */
static void heatmap(FILE *o, const char *title, const double *v, size_t R, size_t C,
                    const char *const *rows, const char *const *cols, const char *const *metrics,
                    int lower_better)
{
	int cw = 110, rh = 28, left = 120, top = 56;
	int W = left + (int)C * cw + 10, H = top + (int)R * rh + 10;
	fprintf(o, "<figure><figcaption>");
	esc(o, title);
	fprintf(o,
	        "</figcaption><svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
	        "%d\" role=\"img\">\n",
	        W, H, W, H);
	for (size_t c = 0; c < C; c++) {
		fprintf(o, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" class=\"head\">",
		        left + (int)c * cw + cw / 2);
		esc(o, cols[c]);
		fprintf(o, "</text><text x=\"%d\" y=\"40\" text-anchor=\"middle\" class=\"sub\">",
		        left + (int)c * cw + cw / 2);
		esc(o, metrics ? metrics[c] : "");
		fputs("</text>\n", o);
	}
	for (size_t r = 0; r < R; r++) {
		fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"head\">", left - 8,
		        top + (int)r * rh + 19);
		esc(o, rows[r]);
		fputs("</text>\n", o);
	}
	for (size_t c = 0; c < C; c++) {
		double lo = INFINITY, hi = -INFINITY;
		for (size_t r = 0; r < R; r++)
			if (!isnan(v[r * C + c])) {
				lo = fmin(lo, v[r * C + c]);
				hi = fmax(hi, v[r * C + c]);
			}
		for (size_t r = 0; r < R; r++) {
			double x = v[r * C + c];
			int X = left + (int)c * cw, Y = top + (int)r * rh;
			if (isnan(x)) {
				fprintf(o,
				        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				        "fill=\"#eee\"/><text x=\"%d\" y=\"%d\" "
				        "text-anchor=\"middle\" class=\"cell\">-</text>\n",
				        X, Y, cw - 2, rh - 2, X + cw / 2, Y + 18);
				continue;
			}
			double t = hi > lo ? (x - lo) / (hi - lo) : 0.5;
			if (lower_better)
				t = 1 - t;
			int red = (int)(230 - 150 * t), green = (int)(120 + 100 * t), blue = 120;
			fprintf(o,
			        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			        "fill=\"rgb(%d,%d,%d)\"/><text x=\"%d\" y=\"%d\" "
			        "text-anchor=\"middle\" class=\"cell\">%.3f</text>\n",
			        X, Y, cw - 2, rh - 2, red, green, blue, X + cw / 2, Y + 18, x);
		}
	}
	fputs("</svg></figure>\n", o);
}

/* Lines of series[s][0..n) against x = 0..n-1, labelled by xlabels, one colour per series. */
/* ci, when not NULL: n x 2 [low, high] of series 0, drawn as whiskers (NaN: none). */
static void lines(FILE *o, const char *title, const double *const *series, const char *const *names,
                  size_t S, size_t n, const char *const *xlabels, const double *vlines,
                  size_t n_vlines, const char *ylabel, const double *ci)
{
	int W = 640, H = 260, L = 56, Rm = 150, T = 20, B = 46;
	double lo = INFINITY, hi = -INFINITY;
	for (size_t s = 0; s < S; s++)
		for (size_t i = 0; i < n; i++)
			if (!isnan(series[s][i]) && isfinite(series[s][i])) {
				lo = fmin(lo, series[s][i]);
				hi = fmax(hi, series[s][i]);
			}
	for (size_t i = 0; ci && i < 2 * n; i++)
		if (isfinite(ci[i])) {
			lo = fmin(lo, ci[i]);
			hi = fmax(hi, ci[i]);
		}
	if (!(hi > lo)) {
		lo = isfinite(lo) ? lo - 1 : 0;
		hi = lo + 2;
	}
	double pw = W - L - Rm, ph = H - T - B;
	fprintf(o, "<figure><figcaption>");
	esc(o, title);
	fprintf(o,
	        "</figcaption><svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
	        "%d\" role=\"img\">\n",
	        W, H, W, H);
	fprintf(o,
	        "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
	        "stroke=\"#ccc\"/>\n",
	        L, T, pw, ph);
	for (int k = 0; k <= 4; k++) {
		double y = T + ph - ph * k / 4.0, val = lo + (hi - lo) * k / 4.0;
		fprintf(
		    o,
		    "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/><text "
		    "x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"sub\">%.3g</text>\n",
		    L, L + pw, y, y, L - 4, y + 4, val);
	}
	fprintf(o,
	        "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\" "
	        "class=\"sub\">",
	        T + (int)ph / 2, T + (int)ph / 2);
	esc(o, ylabel);
	fputs("</text>\n", o);
	double dx = n > 1 ? pw / (double)(n - 1) : 0;
	for (size_t v = 0; v < n_vlines; v++) {
		double x = L + vlines[v] * dx;
		fprintf(o,
		        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\" stroke=\"#888\" "
		        "stroke-dasharray=\"4 3\"/>\n",
		        x, x, T, T + ph);
	}
	if (xlabels)
		for (size_t i = 0; i < n; i++) {
			fprintf(o,
			        "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" class=\"sub\">",
			        L + i * dx, T + ph + 16);
			esc(o, xlabels[i]);
			fputs("</text>\n", o);
		}
	for (size_t s = 0; s < S; s++) {
		const char *col = palette[s % 8];
		fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
		        col);
		for (size_t i = 0; i < n; i++)
			if (!isnan(series[s][i]) && isfinite(series[s][i]))
				fprintf(o, "%.1f,%.1f ", L + i * dx,
				        T + ph - ph * (series[s][i] - lo) / (hi - lo));
		fputs("\"/>\n", o);
		/* Whiskers: the interval of each point, with caps. */
		for (size_t i = 0; s == 0 && ci && i < n; i++) {
			if (!isfinite(ci[2 * i]) || !isfinite(ci[2 * i + 1]))
				continue;
			double x = L + i * dx, y0 = T + ph - ph * (ci[2 * i] - lo) / (hi - lo),
			       y1 = T + ph - ph * (ci[2 * i + 1] - lo) / (hi - lo);
			fprintf(
			    o,
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
			    "stroke=\"%s\"/>\n",
			    x, x, y0, y1, col, x - 4, x + 4, y0, y0, col, x - 4, x + 4, y1, y1,
			    col);
		}
		if (xlabels)
			for (size_t i = 0; i < n; i++)
				if (!isnan(series[s][i]))
					fprintf(o,
					        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
					        "fill=\"%s\"/>\n",
					        L + i * dx,
					        T + ph - ph * (series[s][i] - lo) / (hi - lo), col);
		fprintf(o,
		        "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text "
		        "x=\"%.0f\" y=\"%d\" class=\"sub\">",
		        L + pw + 12, T + 6 + (int)s * 18, col, L + pw + 30, T + 16 + (int)s * 18);
		esc(o, names[s]);
		fputs("</text>\n", o);
	}
	fputs("</svg></figure>\n", o);
}

void lethe_report_html(FILE *o, const lethe_report *rep)
{
	const char *name = rep->name;
	size_t R = rep->rows, C = rep->cols;
	const double *primary = rep->primary;
	const char *const *rows = rep->row_names, *const *cols = rep->col_names,
	                  *const *metrics = rep->metrics;
	const lethe_forgetting *pm = &rep->pm, *lm = &rep->lm;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lethe "
	      "report: ",
	      o);
	esc(o, name);
	fputs(
	    "</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}"
	    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;"
	    "font-size:13px}"
	    "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}"
	    "td:first-child,th:first-child{text-align:left}figure{margin:12px "
	    "0}figcaption{font-size:13px;font-weight:bold;margin-bottom:4px}"
	    ".chart text{font-size:12px}.chart .sub{font-size:11px;fill:#555}.chart "
	    ".head{font-weight:bold}"
	    ".chart "
	    ".cell{font-size:12px;fill:#111}.note{font-size:12px;color:#555}</style></"
	    "head><body>\n",
	    o);
	fputs("<h1>Forgetting report: ", o);
	esc(o, name);
	fputs("</h1>\n<h2>Measures</h2>\n<table><tr><th>measure</th><th>primary "
	      "metrics</th><th>target NLL</th></tr>\n",
	      o);
	const char *labels[4] = {"ACC (final average)", "BWT (backward transfer)",
	                         "FWT (forward transfer)", "forgetting (Chaudhry)"};
	double a[4] = {pm->acc, pm->bwt, pm->fwt, pm->chaudhry},
	       b[4] = {lm->acc, lm->bwt, lm->fwt, lm->chaudhry};
	for (int i = 0; i < 4; i++) {
		fprintf(o, "<tr><td>%s</td><td>", labels[i]);
		isnan(a[i]) ? fputs("&ndash;", o) : fprintf(o, "%.4f", a[i]);
		const double *mci = lethe_report_measure_ci(rep, i);
		if (mci && !isnan(a[i]))
			fprintf(o, " [%.4f, %.4f]", mci[0], mci[1]);
		fputs("</td><td>", o);
		isnan(b[i]) ? fputs("&ndash;", o) : fprintf(o, "%.4f", b[i]);
		fputs("</td></tr>\n", o);
	}
	fputs(
	    "</table>\n<table style=\"margin-top:10px\"><tr><th>task</th><th>metric</th><th>after "
	    "its stage</th><th>final</th><th>forgetting</th><th>relative</th><th>normalised</th>"
	    "<th>fwd transfer</th></tr>\n",
	    o);
	for (size_t c = 0; c < C; c++) {
		fputs("<tr><td>", o);
		esc(o, cols[c]);
		fputs("</td><td>", o);
		esc(o, metrics ? metrics[c] : "");
		/* On the measures' scale (0-1 for every primary metric); the matrix is raw. */
		double vals[6] = {pm->learning ? pm->learning[c] : NAN,
		                  pm->final ? pm->final[c]
		                  : R       ? primary[(R - 1) * C + c]
		                            : NAN,
		                  pm->forgetting ? pm->forgetting[c] : NAN,
		                  pm->relative ? pm->relative[c] : NAN,
		                  pm->normalised ? pm->normalised[c] : NAN,
		                  pm->forward ? pm->forward[c] : NAN};
		for (int i = 0; i < 6; i++) {
			fputs("</td><td>", o);
			const double *tci = lethe_report_task_ci(rep, (size_t)i, c);
			if ((i == 2 || i == 3) && !isnan(vals[i]) &&
			    lethe_report_not_learnt(rep, c))
				fputs("not learnt", o);
			else if (isnan(vals[i]))
				fputs("&ndash;", o);
			else if (tci)
				fprintf(o, "%.3f [%.3f, %.3f]", vals[i], tci[0], tci[1]);
			else
				fprintf(o, "%.4f", vals[i]);
		}
		fputs("</td></tr>\n", o);
	}
	fputs("</table><p class=\"note\">Formulas: docs/forgetting.md. &ndash; marks an undefined "
	      "value (never 0). ",
	      o);
	fputs(pm->scale ? "Measures and per-task figures use every primary metric on 0-1 (0-100 "
	                  "metrics such as BLEU divided by 100); the matrices show raw values."
	                : "Measures on the raw primary metrics (an older run file).",
	      o);
	fputs("</p>\n", o);

	/* Methods against forgetting (docs/methods.md): each stage that used any, beside its name.
	 */
	int any_methods = 0;
	for (size_t r = 0; rep->methods && r < R; r++)
		any_methods |= rep->methods[r] != NULL;
	if (any_methods) {
		fputs("<h2>Methods against forgetting</h2>\n<table><tr><th>stage</th><th "
		      "style=\"text-align:left\">methods</th></tr>\n",
		      o);
		for (size_t r = 0; r < R; r++) {
			if (!rep->methods[r])
				continue;
			fputs("<tr><td>", o);
			esc(o, rows[r]);
			fputs("</td><td style=\"text-align:left\">", o);
			esc(o, rep->methods[r]);
			fputs("</td></tr>\n", o);
		}
		fputs("</table><p class=\"note\">Formulas and sources: docs/methods.md.</p>\n", o);
	}

	fputs("<h2>Score matrices</h2>\n", o);
	heatmap(o,
	        "Primary metric per task (rows: before training and after each stage; colour per "
	        "column, green is better)",
	        primary, R, C, rows, cols, metrics, 0);
	if (rep->nll)
		heatmap(o, "Target NLL per token (lower is better)", rep->nll, R, C, rows, cols,
		        NULL, 1);

	fputs("<h2>Each task across the stages</h2>\n", o);
	for (size_t c = 0; c < C; c++) {
		double *s = malloc((R + 1) * sizeof(double));
		for (size_t r = 0; s && r < R; r++)
			s[r] = primary[r * C + c];
		char title[256];
		snprintf(title, sizeof(title), "%s: %s", cols[c], metrics ? metrics[c] : "");
		const double *series[1] = {s};
		const char *nm[1] = {cols[c]};
		double *ci = rep->has_iv ? malloc((2 * R + 1) * sizeof(double)) : NULL;
		for (size_t r = 0; ci && r < R; r++) {
			const double *x = lethe_report_cell_ci(rep, r, c);
			ci[2 * r] = x ? x[0] : NAN;
			ci[2 * r + 1] = x ? x[1] : NAN;
		}
		if (s)
			lines(o, title, series, nm, 1, R, rows, NULL, 0, metrics ? metrics[c] : "",
			      ci);
		free(ci);
		free(s);
	}

	/* The training loss, all stages end to end, with a dashed line at each stage boundary. */
	const double *loss = rep->loss, *bounds = rep->bounds;
	size_t n_loss = rep->n_loss, n_bounds = rep->n_bounds;
	if (n_loss) {
		fputs("<h2>Training</h2>\n", o);
		const double *series[1] = {loss};
		const char *nm[1] = {"loss"};
		lines(o, "Training loss per optimizer step (dashed: stage boundaries)", series, nm,
		      1, n_loss, NULL, bounds, n_bounds, "loss", NULL);
	}

	const double *drift = rep->rel_init;
	if (drift) {
		static const char *const groups[5] = {"embeddings", "attention", "mlp", "norms",
		                                      "all"};
		double *s[5];
		for (int g = 0; g < 5; g++) {
			s[g] = malloc((R + 1) * sizeof(double));
			for (size_t r = 0; s[g] && r < R; r++)
				s[g][r] = drift[r * LETHE_RUNFILE_DRIFT_GROUPS + g];
		}
		if (s[0] && s[1] && s[2] && s[3] && s[4]) {
			fputs("<h2>Parameter drift</h2>\n", o);
			lines(o, "Relative L2 change since the initial model, per parameter group",
			      (const double *const *)s, groups, 5, R, rows, NULL, 0,
			      "relative change", NULL);
		}
		for (int g = 0; g < 5; g++)
			free(s[g]);
	}
	fputs("</body></html>\n", o);
}
