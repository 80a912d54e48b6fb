/*
 * svg.h: chart primitives for the reports (svg.c): XML escaping, the viridis colour map, a line
 * chart (points with whiskers or bands, dashed reference lines, vertical markers such as stage
 * boundaries, categorical or numeric x), a bar chart and a heatmap with a colour bar. Each chart
 * is one <svg> element with presentation attributes only (no CSS needed), so the same output is
 * a figure inside the HTML report and, with standalone set, a file of its own for a paper. Knows
 * nothing of run files: cmd_report.c and report_html.c hand it arrays.
 */
#ifndef LETHE_SVG_H
#define LETHE_SVG_H

#include <stddef.h>
#include <stdio.h>

/* s as XML/HTML text or attribute value: < > & " ' as entities; control characters that XML 1.0
 * forbids and bytes that are not valid UTF-8 as U+FFFD. NULL prints nothing. */
void lethe_svg_esc(FILE *o, const char *s);
/* The same, at most max code points, with "…" when cut. */
void lethe_svg_esc_cut(FILE *o, const char *s, size_t max);

/* Viridis (matplotlib's, from 17 of its published control points, linearly interpolated) at t
 * in [0, 1] (clamped) as "#rrggbb" into out; whether text on it should be white. */
int lethe_svg_viridis(double t, char out[8]);
/* The i-th series colour: Okabe and Ito's colour-blind-safe set (black, then seven hues). */
const char *lethe_svg_colour(size_t i);

/* One line of a line chart. */
typedef struct lethe_chart_series {
	const char *name; /* in the legend */
	size_t n;
	const double *x;  /* n positions; NULL: 0 .. n-1 (the chart's categories) */
	const double *y;  /* n values; NaN (or inf) leaves a gap */
	const double *ci; /* n x 2 [low, high] drawn as whiskers or a band; NULL: none */
	double reference; /* a dashed horizontal line in the series' colour (chance, baseline); NaN:
	                     none */
} lethe_chart_series;

/* A line chart's frame. x is either categorical (x_ticks: a label at each x = 0 .. n_x_ticks-1,
 * e.g. the stage names) or numeric (x_ticks NULL: ticks chosen from x_lo .. x_hi, e.g. optimizer
 * steps). marks are vertical dashed lines at x (stage boundaries), each with its label (or NULL)
 * written at the top, right of the line: within-stage curves give x in steps, one series per
 * task, and one mark per stage start labelled with the stage's name. */
typedef struct lethe_line_chart {
	const char *title, *x_label, *y_label; /* title NULL: none */
	double y_lo, y_hi;                     /* the y range; NaN: from the data */
	double x_lo, x_hi;                     /* numeric x range; NaN: from the data */
	const char *const *x_ticks;
	size_t n_x_ticks;
	const double *marks;
	const char *const *mark_labels;
	size_t n_marks;
	int bands;         /* intervals as shaded bands (1) or whiskers with caps (0) */
	int markers;       /* a dot at each point */
	const char *note;  /* a line under the chart (what the dashed lines are), or NULL */
	int width, height; /* 0: 720 x 320 */
} lethe_line_chart;

/* Writes the chart: an <svg> with a title, axes, grid, series and a legend; standalone adds
 * the XML declaration for a file of its own. */
void lethe_svg_line_chart(FILE *o, const lethe_line_chart *c, const lethe_chart_series *s,
                          size_t n_series, int standalone);

/* Bars from 0 per category, each with an optional interval and text (e.g. "not learnt" in place
 * of a bar). */
typedef struct lethe_bar_chart {
	const char *title, *y_label, *note;
	size_t n;
	const char *const *names; /* category labels on x */
	const double *v;          /* n values; NaN: no bar */
	const double *ci;         /* n x 2 or NULL */
	const char *const
	    *text;         /* n labels drawn instead of the value, or NULL (each may be NULL) */
	int width, height; /* 0: 720 x 300 */
} lethe_bar_chart;
void lethe_svg_bar_chart(FILE *o, const lethe_bar_chart *c, int standalone);

/* A rows x cols matrix coloured with viridis on ONE scale [lo, hi] for every cell, with the
 * value (and its interval) in each cell, row names on the left, column names (and a sub-line
 * such as the metric) on top, and a colour bar with ticks. reverse: the map runs from hi to lo
 * (lower is better, so that bright is always good). */
typedef struct lethe_heatmap {
	const char *title, *legend, *note;
	size_t rows, cols;
	const double *v;  /* rows x cols; NaN: not evaluated ("–") */
	const double *ci; /* rows x cols x 2, or NULL */
	const char *const *row_names, *const *col_names, *const *col_sub;
	double lo, hi;
	int reverse, digits;
	const unsigned char *plain; /* per column: 1 draws it uncoloured (values not on the
	                               scale, e.g. perplexity); NULL: none */
} lethe_heatmap;
void lethe_svg_heatmap(FILE *o, const lethe_heatmap *h, int standalone);

#endif
