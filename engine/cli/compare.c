/*
 * compare.c: what the text and HTML forms of `lethe compare` share (compare.h): the measures
 * of one run and the run files of one group of seeds. The forms themselves live in cmd_report.c
 * (text, Markdown, CSV, JSON) and compare_html.c (HTML).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "compare.h"

const char *const lethe_compare_measure_names[LETHE_COMPARE_N_MEASURES] = {
    "ACC",
    "BWT",
    "FWT",
    "forgetting (Chaudhry)",
    "forgetting (per task, mean)",
    "NLL BWT",
    "NLL forgetting (mean)"};
const int lethe_compare_measure_higher[LETHE_COMPARE_N_MEASURES] = {1, 1, 1, 0, 0, 1, 0};

double lethe_compare_mean_defined(const double *v, size_t n)
{
	double s = 0;
	size_t k = 0;
	for (size_t i = 0; v && i < n; i++)
		if (!isnan(v[i])) {
			s += v[i];
			k++;
		}
	return k ? s / (double)k : NAN;
}

void lethe_compare_measures(double v[LETHE_COMPARE_N_MEASURES], const lethe_forgetting *pm,
                            const lethe_forgetting *lm, size_t n_columns)
{
	v[0] = pm->acc;
	v[1] = pm->bwt;
	v[2] = pm->fwt;
	v[3] = pm->chaudhry;
	v[4] = lethe_compare_mean_defined(pm->forgetting, n_columns);
	v[5] = lm->bwt;
	v[6] = lethe_compare_mean_defined(lm->forgetting, n_columns);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lethe_compare_list_runs(const char *path, char ***out, size_t *n)
{
	struct stat st;
	*out = NULL;
	*n = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			size_t len = strlen(e->d_name);
			if (len < 4 || strcmp(e->d_name + len - 3, ".h5") != 0)
				continue;
			char **grown = realloc(*out, (*n + 1) * sizeof(char *));
			char *full = malloc(strlen(path) + len + 2);
			if (!grown || !full) {
				free(full);
				*out = grown ? grown : *out;
				break;
			}
			*out = grown;
			sprintf(full, "%s/%s", path, e->d_name);
			(*out)[(*n)++] = full;
		}
		if (d)
			closedir(d);
		if (*n == 0) {
			lethe_cli_error("compare: %s: a directory without run files (*.h5)", path);
			free(*out);
			*out = NULL;
			return LETHE_EXIT_USAGE;
		}
		qsort(*out, *n, sizeof(char *), cmp_str);
		return 0;
	}
	*out = malloc(sizeof(char *));
	if (!*out || !((*out)[0] = strdup(path))) {
		free(*out);
		*out = NULL;
		lethe_cli_error("out of memory");
		return LETHE_EXIT_FAILED;
	}
	*n = 1;
	return 0;
}

void lethe_compare_runs_free(char **runs, size_t n)
{
	for (size_t i = 0; runs && i < n; i++)
		free(runs[i]);
	free(runs);
}
