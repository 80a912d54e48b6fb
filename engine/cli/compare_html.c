/*
 * compare_html.c: the HTML form of `lethe compare`: runs, or groups of seeds (a directory of
 * run files, lethe sweep's), side by side. Per group and figure: the mean over its runs with
 * the 95% t-interval of the mean and n (runs compared one by one: each run's value with its
 * paired-bootstrap interval from the run file), Welch's p-value between the first two groups,
 * and "best" marked only where the best group's interval overlaps no other group's. Figures:
 * the measures the text form shows, and per task (matched by name) the final score and the
 * forgetting on 0-1, one column per task. Reads run files through the run-file reader only; the
 * text, Markdown, CSV and JSON forms stay in cmd_report.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "compare_html.h"
#include "svg.h"

#define esc lethe_svg_esc

enum { N_MEAS = LETHE_COMPARE_N_MEASURES };

typedef struct cgroup {
	const char *name;
	size_t n_runs;
	double *v;         /* n_runs x F: each figure of each run, NaN where undefined */
	double *bci;       /* n_runs x F x 2: a run's bootstrap interval, NaN where none */
	double *mean, *ci; /* per figure: mean, [low, high] (NaN: none) */
	size_t *n;         /* per figure: runs where it is defined */
} cgroup;

typedef struct compare {
	size_t n_groups, n_tasks, F;
	cgroup *g;
	char **tasks; /* the first run's task names */
	int *lower;   /* per task: lower is better */
} compare;

/* One run's figures into v[F] and their bootstrap intervals into bci[2F]. The first run read
 * names the tasks. 0 or an exit status. */
static int read_run(compare *cmp, const char *path, double *v, double *bci)
{
	lethe_runfile *rf = NULL;
	lethe_forgetting pm = {0}, lm = {0};
	lethe_intervals iv = {0};
	int rc, has_iv = 0, status = LETHE_EXIT_USAGE;
	if ((rc = lethe_runfile_open(&rf, path)) ||
	    (rc = lethe_runfile_forgetting(rf, "primary", &pm)) ||
	    (rc = lethe_runfile_forgetting(rf, "target_nll", &lm)))
		goto fail;
	rc = lethe_runfile_intervals(rf, &iv);
	if (rc && rc != LETHE_ENOTFOUND)
		goto fail;
	has_iv = rc == 0;
	size_t C = lethe_runfile_n_columns(rf);
	const char *const *names = lethe_runfile_column_names(rf);
	if (!cmp->tasks) {
		cmp->n_tasks = C;
		cmp->F = N_MEAS + 2 * C;
		cmp->tasks = calloc(C + 1, sizeof(char *));
		cmp->lower = calloc(C + 1, sizeof(int));
		if (!cmp->tasks || !cmp->lower) {
			rc = LETHE_ENOMEM;
			goto fail;
		}
		for (size_t c = 0; c < C; c++) {
			if (!(cmp->tasks[c] = strdup(names[c]))) {
				rc = LETHE_ENOMEM;
				goto fail;
			}
			cmp->lower[c] = lethe_runfile_column_lower(rf)[c];
		}
		status = 1; /* the caller sizes the arrays and calls again */
		goto done;
	}
	size_t T = cmp->n_tasks;
	for (size_t f = 0; f < cmp->F; f++)
		v[f] = bci[2 * f] = bci[2 * f + 1] = NAN;
	double m[N_MEAS];
	lethe_compare_measures(m, &pm, &lm, C);
	for (int k = 0; k < N_MEAS; k++) {
		v[k] = m[k];
		if (has_iv && k < 4) {
			bci[2 * k] = iv.measures[k][0];
			bci[2 * k + 1] = iv.measures[k][1];
		}
	}
	/* Per task, matched by name: final (figure 1) and forgetting (figure 2). */
	for (size_t t = 0; t < T; t++)
		for (size_t c = 0; c < C; c++) {
			if (strcmp(names[c], cmp->tasks[t]) != 0)
				continue;
			size_t fi[2] = {N_MEAS + t, N_MEAS + T + t}, figure[2] = {1, 2};
			const double *arr[2] = {pm.final, pm.forgetting};
			for (int j = 0; j < 2; j++) {
				v[fi[j]] = arr[j] ? arr[j][c] : NAN;
				if (has_iv) {
					const double *x = iv.per_task + 2 * (figure[j] * C + c);
					bci[2 * fi[j]] = x[0];
					bci[2 * fi[j] + 1] = x[1];
				}
			}
			break;
		}
	status = 0;
	goto done;
fail:
	if (rc == LETHE_ENOMEM)
		lethe_cli_error("out of memory");
	else
		lethe_cli_error("%s", lethe_runfile_errmsg(rf));
	status = rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
done:
	lethe_intervals_free(&iv);
	lethe_forgetting_free(&pm);
	lethe_forgetting_free(&lm);
	lethe_runfile_free(rf);
	return status;
}

/* Each group's per-figure mean, interval and n: over the seeds (2 runs or more), or, for the
 * runs compared one by one (bootstrap set), each run's paired-bootstrap interval. */
static void summarise(compare *cmp, cgroup *g, int bootstrap)
{
	for (size_t f = 0; f < cmp->F; f++) {
		double sum = 0, sq = 0;
		size_t m = 0;
		for (size_t i = 0; i < g->n_runs; i++)
			if (!isnan(g->v[i * cmp->F + f])) {
				sum += g->v[i * cmp->F + f];
				m++;
			}
		g->n[f] = m;
		g->mean[f] = m ? sum / (double)m : NAN;
		g->ci[2 * f] = g->ci[2 * f + 1] = NAN;
		if (m >= 2) {
			for (size_t i = 0; i < g->n_runs; i++) {
				double x = g->v[i * cmp->F + f];
				if (!isnan(x))
					sq += (x - g->mean[f]) * (x - g->mean[f]);
			}
			double half = lethe_t_quantile(0.975, (double)(m - 1)) *
			              sqrt(sq / (double)(m - 1)) / sqrt((double)m);
			g->ci[2 * f] = g->mean[f] - half;
			g->ci[2 * f + 1] = g->mean[f] + half;
		} else if (bootstrap && g->n_runs == 1 && m == 1) {
			g->ci[2 * f] = g->bci[2 * f];
			g->ci[2 * f + 1] = g->bci[2 * f + 1];
		}
	}
}

static int higher(const compare *cmp, size_t f)
{
	if (f < N_MEAS)
		return lethe_compare_measure_higher[f];
	if (f < N_MEAS + cmp->n_tasks)
		return !cmp->lower[f - N_MEAS]; /* final */
	return 0;                               /* forgetting */
}

/* The best group of figure f when its interval overlaps no other group's; -1 otherwise. */
static int best_group(const compare *cmp, size_t f)
{
	const cgroup *g = cmp->g;
	size_t n = cmp->n_groups;
	int best = -1, hi = higher(cmp, f);
	for (size_t i = 0; i < n; i++)
		if (!isnan(g[i].mean[f]) && (best < 0 || (hi ? g[i].mean[f] > g[best].mean[f]
		                                             : g[i].mean[f] < g[best].mean[f])))
			best = (int)i;
	if (best < 0 || n < 2 || isnan(g[best].ci[2 * f]))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((int)i == best || isnan(g[i].mean[f]))
			continue;
		if (isnan(g[i].ci[2 * f]) || !(g[i].ci[2 * f + 1] < g[best].ci[2 * f] ||
		                               g[i].ci[2 * f] > g[best].ci[2 * f + 1]))
			return -1;
	}
	return best;
}

/* Welch's p between the first two groups, NaN when either has fewer than two defined runs. */
static double p_value(const compare *cmp, size_t f)
{
	if (cmp->n_groups < 2)
		return NAN;
	const cgroup *a = &cmp->g[0], *b = &cmp->g[1];
	double *x = malloc((a->n_runs + 1) * sizeof(double)),
	       *y = malloc((b->n_runs + 1) * sizeof(double)), t, df, p = NAN;
	size_t nx = 0, ny = 0;
	for (size_t i = 0; x && i < a->n_runs; i++)
		if (!isnan(a->v[i * cmp->F + f]))
			x[nx++] = a->v[i * cmp->F + f];
	for (size_t i = 0; y && i < b->n_runs; i++)
		if (!isnan(b->v[i * cmp->F + f]))
			y[ny++] = b->v[i * cmp->F + f];
	if (!x || !y || nx < 2 || ny < 2 || lethe_welch_t_test(&t, &df, &p, x, nx, y, ny))
		p = NAN;
	free(x);
	free(y);
	return p;
}

static void fig_cell(FILE *o, const cgroup *g, size_t f, int best, int sign)
{
	fprintf(o, "<td%s>", best ? " class=\"best\"" : "");
	if (isnan(g->mean[f])) {
		fputs("&#8211;</td>", o);
		return;
	}
	fprintf(o, sign ? "%s%+.4f" : "%s%.4f", best ? "&#9733; " : "", g->mean[f]);
	if (!isnan(g->ci[2 * f]))
		fprintf(o,
		        sign ? "<br><span class=\"ci\">[%+.4f, %+.4f]</span>"
		             : "<br><span class=\"ci\">[%.4f, %.4f]</span>",
		        g->ci[2 * f], g->ci[2 * f + 1]);
	if (g->n_runs > 1)
		fprintf(o, "<br><span class=\"ci\">n = %zu</span>", g->n[f]);
	fputs("</td>", o);
}

static void p_cell(FILE *o, double p)
{
	if (isnan(p))
		fputs("<td>&#8211;</td>", o);
	else
		fprintf(o, "<td>%.4g</td>", p);
}

static const char *const css =
    "*{box-sizing:border-box}body{font:15px/1.5 'DejaVu Sans',Helvetica,Arial,sans-serif;"
    "color:#1d1d1f;margin:0;padding:20px 3vw 40px}h1{font-size:26px;margin:0 0 2px}"
    "h2{font-size:19px;margin:30px 0 8px;padding-bottom:4px;border-bottom:2px solid #e4e4e4}"
    "p{margin:6px 0;max-width:110ch}.meta,.note{color:#555;font-size:13px}"
    "table{border-collapse:collapse;font-size:13.5px;margin:8px 0;"
    "font-variant-numeric:tabular-nums}td,th{border:1px solid #d4d4d4;padding:4px 10px;"
    "text-align:right;vertical-align:top;white-space:nowrap}th{background:#f2f2f2}"
    "td:first-child,th:first-child{text-align:left}.ci{color:#666;font-size:12px}"
    ".best{background:#e3f1fb;font-weight:bold}.scroll{overflow-x:auto;max-width:100%}"
    "@media print{body{padding:0;font-size:10pt}table,tr{break-inside:avoid}"
    ".scroll{overflow:visible}}@page{size:A4 landscape;margin:12mm}";

static void write_page(FILE *o, const compare *cmp, int groups)
{
	size_t G = cmp->n_groups, T = cmp->n_tasks;
	int pcol = groups && G >= 2;
	int few = pcol && (cmp->g[0].n_runs < 2 || cmp->g[1].n_runs < 2);
	fprintf(o,
	        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
	        "name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>lethe "
	        "compare</title>\n<style>%s</style></head><body>\n<h1>%s compared</h1>\n<p "
	        "class=\"meta\">",
	        css, groups ? "Groups of seeds" : "Runs");
	for (size_t i = 0; i < G; i++) {
		fputs(i ? "; " : "", o);
		esc(o, cmp->g[i].name);
		fprintf(o, " (%zu run%s)", cmp->g[i].n_runs, cmp->g[i].n_runs == 1 ? "" : "s");
	}
	fputs(".</p>\n", o);
	/* Measures: one row per measure, one column per group. */
	fputs("<h2>Measures</h2>\n<div class=\"scroll\"><table><tr><th>measure</th>", o);
	for (size_t i = 0; i < G; i++) {
		fputs("<th>", o);
		esc(o, cmp->g[i].name);
		fputs("</th>", o);
	}
	fputs(pcol ? "<th>p (Welch, first two)</th></tr>\n" : "</tr>\n", o);
	for (size_t f = 0; f < N_MEAS; f++) {
		int best = best_group(cmp, f);
		fprintf(o, "<tr><td>%s</td>", lethe_compare_measure_names[f]);
		for (size_t i = 0; i < G; i++)
			fig_cell(o, &cmp->g[i], f, best == (int)i, f == 1 || f == 2 || f == 5);
		if (pcol)
			p_cell(o, p_value(cmp, f));
		fputs("</tr>\n", o);
	}
	fputs("</table></div>\n", o);
	/* Per task: one column per task, one row per group, then the p-values. */
	static const char *const what[2] = {"final score (on 0-1)",
	                                    "forgetting (on 0-1; lower is less forgotten)"};
	for (int j = 0; j < 2; j++) {
		size_t base = N_MEAS + (size_t)j * T;
		fprintf(o, "<h2>Per task: %s</h2>\n<div class=\"scroll\"><table><tr><th>%s</th>",
		        what[j], groups ? "group" : "run");
		for (size_t t = 0; t < T; t++) {
			fputs("<th>", o);
			esc(o, cmp->tasks[t]);
			fputs("</th>", o);
		}
		fputs("</tr>\n", o);
		for (size_t i = 0; i < G; i++) {
			fputs("<tr><td>", o);
			esc(o, cmp->g[i].name);
			fputs("</td>", o);
			for (size_t t = 0; t < T; t++)
				fig_cell(o, &cmp->g[i], base + t,
				         best_group(cmp, base + t) == (int)i, j == 1);
			fputs("</tr>\n", o);
		}
		if (pcol) {
			fputs("<tr><td>p (Welch, first two)</td>", o);
			for (size_t t = 0; t < T; t++)
				p_cell(o, p_value(cmp, base + t));
			fputs("</tr>\n", o);
		}
		fputs("</table></div>\n", o);
	}
	fputs("<p class=\"note\">", o);
	if (groups)
		fputs("Each cell: the mean over the group's runs, [the 95% t-interval of the "
		      "mean], n runs where it is defined (a group of one run: its value, without "
		      "an interval). p: Welch's t-test between the first two groups. ",
		      o);
	else
		fputs("Each cell: the run's value [its 95% paired-bootstrap interval over the "
		      "evaluation examples, where the run file has one]. ",
		      o);
	fputs("&#9733; and blue: the best only where its interval overlaps no other's (higher "
	      "ACC, BWT, FWT and final scores; lower forgetting). Measures on 0-1; the NLL ones in "
	      "nats per token. Formulas: docs/forgetting.md.</p>\n",
	      o);
	if (few)
		fputs("<p class=\"note\">Too few seeds for a p-value: each of the first two groups "
		      "needs at least 2 runs.</p>\n",
		      o);
	fputs("</body></html>\n", o);
}

int lethe_compare_html(const char *output, const char *const *args, size_t n, int groups)
{
	compare cmp = {0};
	int status = LETHE_EXIT_OK;
	cmp.g = calloc(n + 1, sizeof(cgroup));
	if (!cmp.g) {
		lethe_cli_error("out of memory");
		return LETHE_EXIT_FAILED;
	}
	cmp.n_groups = n;
	for (size_t i = 0; status == LETHE_EXIT_OK && i < n; i++) {
		char **files = NULL;
		size_t nf = 0;
		cgroup *g = &cmp.g[i];
		g->name = args[i];
		if (groups && (status = lethe_compare_list_runs(args[i], &files, &nf)))
			break;
		if (!groups) {
			files = malloc(sizeof(char *));
			if (files && (files[0] = strdup(args[i])))
				nf = 1;
		}
		if (!cmp.tasks && nf) { /* the first run names the tasks */
			int rc = read_run(&cmp, files[0], NULL, NULL);
			status = rc == 1 ? LETHE_EXIT_OK : rc;
		}
		size_t F = cmp.F;
		g->n_runs = nf;
		if (status == LETHE_EXIT_OK) {
			g->v = malloc((nf * F + 1) * sizeof(double));
			g->bci = malloc((2 * nf * F + 1) * sizeof(double));
			g->mean = malloc((F + 1) * sizeof(double));
			g->ci = malloc((2 * F + 1) * sizeof(double));
			g->n = calloc(F + 1, sizeof(size_t));
			if (!g->v || !g->bci || !g->mean || !g->ci || !g->n || !nf) {
				lethe_cli_error("out of memory");
				status = LETHE_EXIT_FAILED;
			}
		}
		for (size_t k = 0; status == LETHE_EXIT_OK && k < nf; k++)
			status = read_run(&cmp, files[k], g->v + k * F, g->bci + 2 * k * F);
		if (status == LETHE_EXIT_OK)
			summarise(&cmp, g, !groups);
		lethe_compare_runs_free(files, nf);
	}
	if (status == LETHE_EXIT_OK) {
		lethe_cli_out out;
		if (lethe_cli_out_open(&out, output, args, (int)n) != 0)
			status = LETHE_EXIT_USAGE;
		else {
			write_page(out.f, &cmp, groups);
			if (lethe_cli_out_close(&out, 1) != 0)
				status = LETHE_EXIT_FAILED;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(cmp.g[i].v);
		free(cmp.g[i].bci);
		free(cmp.g[i].mean);
		free(cmp.g[i].ci);
		free(cmp.g[i].n);
	}
	free(cmp.g);
	for (size_t t = 0; cmp.tasks && t < cmp.n_tasks; t++)
		free(cmp.tasks[t]);
	free(cmp.tasks);
	free(cmp.lower);
	return status;
}
