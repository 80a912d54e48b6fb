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
	char **methods;    /* per row: its methods against forgetting (docs/methods.md), or NULL */
	char **row_labels; /* LoRA: "name [lora r8]" per row when a row has an adapter (row_names
	                      then points here), else NULL */
} lethe_report;

void lethe_report_html(FILE *o, const lethe_report *rep);

#endif
