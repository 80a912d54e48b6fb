/*
 * compare.h: what the text and HTML forms of `lethe compare` (cmd_report.c, compare_html.c)
 * share: the seven measures of a run with their names and directions, and the listing of a
 * group of seeds. Not part of liblethe.
 */
#ifndef LETHE_COMPARE_H
#define LETHE_COMPARE_H

#include <stddef.h>

#include <lethe/lethe.h>

/* The measures compare shows, per run, in this order. */
enum { LETHE_COMPARE_N_MEASURES = 7 };
extern const char *const lethe_compare_measure_names[LETHE_COMPARE_N_MEASURES];
/* 1 where higher is better (ACC, BWT, FWT, the NLL BWT), 0 for the forgettings. */
extern const int lethe_compare_measure_higher[LETHE_COMPARE_N_MEASURES];

/* The mean of v[0..n)'s defined (non-NaN) values, NaN if none (or v NULL). */
double lethe_compare_mean_defined(const double *v, size_t n);

/* A run's measures into v from its forgetting on the primary metrics (pm) and on the target
 * NLL (lm), over n_columns tasks. */
void lethe_compare_measures(double v[LETHE_COMPARE_N_MEASURES], const lethe_forgetting *pm,
                            const lethe_forgetting *lm, size_t n_columns);

/* A directory's *.h5 files in name order (a sweep's seed-N.h5), or path itself when it is not
 * a directory; malloc'd paths the caller frees with lethe_compare_runs_free. Errors are printed:
 * LETHE_EXIT_USAGE for a directory without run files, LETHE_EXIT_FAILED when memory runs out. */
int lethe_compare_list_runs(const char *path, char ***out, size_t *n);
void lethe_compare_runs_free(char **runs, size_t n);

#endif
