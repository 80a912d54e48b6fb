/*
 * report_html.h: the HTML report (report_html.c), used by cmd_report.c.
 */
#ifndef LETHE_REPORT_HTML_H
#define LETHE_REPORT_HTML_H

#include <stdio.h>

#include <hdf5.h>

typedef struct lethe_report_measures {
	double acc, bwt, fwt, chaudhry;
	const double *learning, *forgetting;
} lethe_report_measures;

void lethe_report_html(FILE *o, hid_t f, const char *name, size_t rows, size_t cols,
                       const double *primary, char *const *row_names, char *const *col_names,
                       char *const *metrics, const lethe_report_measures *primary_measures,
                       const lethe_report_measures *nll_measures);

#endif
