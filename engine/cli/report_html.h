/*
 * report_html.h: what `lethe report` shows, read from a run file through the run-file reader
 * (lethe/runfile.h) before anything is printed (cmd_report.c), and its HTML form
 * (report_html.c).
 */
#ifndef LETHE_REPORT_HTML_H
#define LETHE_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

#include <lethe/lethe.h>

typedef struct lethe_report {
	const char *name; /* the run's name, or the file's path */
	size_t rows, cols;
	const char *const *row_names, *const *col_names, *const *metrics;
	double *primary;             /* rows x cols, each task's primary metric */
	double *nll;                 /* rows x cols target NLL per token, or NULL */
	lethe_forgetting pm, lm;     /* measures on the primary metric and on the target NLL */
	double *rel_prev, *rel_init; /* rows x LETHE_RUNFILE_DRIFT_GROUPS relative drift */
	int32_t **events;            /* per column: forgetting events per example, or NULL */
	size_t *n_events;
	double *loss, *bounds; /* every row's training loss end to end; stage boundaries */
	size_t n_loss, n_bounds;
	size_t *row_step0; /* per row: optimizer steps of the rows before it (x of its first step
	                      minus one on the loss chart); NULL when no row trained */
	char **methods;    /* per row: its methods against forgetting (docs/methods.md), or NULL */
	char **row_labels; /* LoRA: "name [lora r8]" per row when a row has an adapter (row_names
	                      then points here), else NULL */
	size_t stages, trained_rows; /* the curriculum's stages and the rows trained so far */
	lethe_intervals iv; /* the primary metric's intervals; has_iv 0 when the file has none */
	int has_iv;
	/* ---- read for the HTML report and SVG figures only (lethe_report_read_html()) ---- */
	const int *lower; /* per column: its primary metric is lower-is-better */
	int *trained;     /* per row: whether a stage trained it (0: the baseline) */
	int has_baseline; /* row 0 is the untrained baseline */
	struct lethe_report_examples *examples; /* per column, or NULL */
	/* Within-stage curves (evaluate: {every: N}; lethe_runfile_eval_curve()): n_points points
	 * in row then step order, point i of row point_row[i] after point_step[i] optimizer steps
	 * of it, with point_value[i * cols + c] each column's primary metric (NaN: undefined) on
	 * point_examples[row * cols + c] examples; all NULL when the run has none. */
	size_t n_points;
	size_t *point_row;
	int *point_step;
	double *point_value;
	size_t *point_examples;
	int *loss_weighting; /* per row, its lethe_loss_weighting */
	int *precision;      /* per row, its training lethe_precision */
	/* The target NLL's intervals (lethe_runfile_nll_intervals()); has_nll_iv 0 when none. */
	lethe_intervals nll_iv;
	int has_nll_iv;
} lethe_report;

/* A few examples of one task (column): what the model predicted for each after every row. The
 * run file keeps predictions and per-example scores, not prompts or targets. */
typedef struct lethe_report_examples {
	size_t n;        /* examples shown */
	size_t *index;   /* each one's index in the task's evaluated examples */
	int32_t *events; /* its forgetting events (0 when none are stored) */
	char **text;     /* n x rows predictions (valid UTF-8); NULL where the file has none */
	double *score;   /* n x rows per-example primary score (raw); NaN where not evaluated */
} lethe_report_examples;

/* The interval of a figure, or NULL when there is none: a primary matrix cell, a measure (0
 * ACC, 1 BWT, 2 FWT, 3 Chaudhry) and per-task figure k (lethe_interval_task_figure()). */
const double *lethe_report_cell_ci(const lethe_report *rep, size_t row, size_t col);
const double *lethe_report_measure_ci(const lethe_report *rep, int measure);
const double *lethe_report_task_ci(const lethe_report *rep, size_t figure, size_t col);
/* Whether the run is partial: fewer trained rows than the curriculum has stages. */
int lethe_report_partial(const lethe_report *rep);
/* Whether task col was "not learnt": the interval of its gain over the baseline reaches 0. */
int lethe_report_not_learnt(const lethe_report *rep, size_t col);

void lethe_report_html(FILE *o, const lethe_report *rep);

/* The figures `lethe report --figure NAME --format svg` writes, by name; NULL past the last. */
const char *lethe_report_figure_name(size_t i);
/* Writes figure name as a standalone SVG file's text. 0, or -1 when there is no such figure,
 * -2 when this run file has nothing to draw it from (message in why). */
int lethe_report_figure(FILE *o, const lethe_report *rep, const char *name, const char **why);

#endif
