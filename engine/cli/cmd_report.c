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

#include <hdf5.h>

#include "cli.h"
#include "report_html.h"

typedef struct matrix {
	size_t rows, cols;
	double *v;
	char **row_names, **col_names, **metrics;
} matrix;

typedef struct measures {
	double acc, bwt, fwt, chaudhry;
	double *learning, *forgetting, *max_drop, *transfer;
	int present;
} measures;

static hid_t str_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

static char **attr_strings(hid_t obj, const char *name, size_t *n)
{
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return NULL;
	hid_t sp = H5Aget_space(a), t = str_type();
	*n = (size_t)H5Sget_simple_extent_npoints(sp);
	char **v = calloc(*n + 1, sizeof(*v));
	if (v && *n && H5Aread(a, t, v) < 0) {
		free(v);
		v = NULL;
	}
	H5Tclose(t);
	H5Sclose(sp);
	H5Aclose(a);
	return v;
}

static double attr_f64(hid_t obj, const char *name)
{
	double v = NAN;
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a >= 0) {
		H5Aread(a, H5T_NATIVE_DOUBLE, &v);
		H5Aclose(a);
	}
	return v;
}

static double *read_f64(hid_t loc, const char *name, size_t n)
{
	hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
	if (ds < 0)
		return NULL;
	double *v = malloc((n + 1) * sizeof(double));
	if (v && n && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
		free(v);
		v = NULL;
	}
	H5Dclose(ds);
	return v;
}

static int read_measures(hid_t f, const char *name, size_t cols, measures *m)
{
	memset(m, 0, sizeof(*m));
	char path[64];
	snprintf(path, sizeof(path), "forgetting/%s", name);
	if (H5Lexists(f, "forgetting", H5P_DEFAULT) <= 0 || H5Lexists(f, path, H5P_DEFAULT) <= 0)
		return 0;
	hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
	if (g < 0)
		return 0;
	m->acc = attr_f64(g, "acc");
	m->bwt = attr_f64(g, "bwt");
	m->fwt = attr_f64(g, "fwt");
	m->chaudhry = attr_f64(g, "chaudhry");
	m->learning = read_f64(g, "learning", cols);
	m->forgetting = read_f64(g, "forgetting", cols);
	m->max_drop = read_f64(g, "max_drop", cols);
	m->transfer = read_f64(g, "transfer", cols);
	m->present = m->learning && m->forgetting && m->max_drop && m->transfer;
	H5Gclose(g);
	return m->present;
}

static void free_measures(measures *m)
{
	free(m->learning);
	free(m->forgetting);
	free(m->max_drop);
	free(m->transfer);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		H5free_memory(v[i]);
	free(v);
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
		fprintf(o, "%.17g", v);
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
static void extras(FILE *o, enum format fmt, hid_t f, const matrix *mx)
{
	int md = fmt == MARKDOWN;
	if (H5Lexists(f, "forgetting/drift", H5P_DEFAULT) > 0) {
		size_t R = mx->rows, G = 5;
		double *rel_prev = NULL, *rel_init = NULL;
		hid_t g = H5Gopen2(f, "forgetting/drift", H5P_DEFAULT);
		rel_prev = read_f64(g, "relative_previous", R * G);
		rel_init = read_f64(g, "relative_initial", R * G);
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
						        mx->row_names[r], groups[i]);
						num(o, rel_prev[r * G + i], fmt);
						fprintf(o, "\ndrift,%s,,relative_initial/%s,",
						        mx->row_names[r], groups[i]);
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
					fprintf(o, md ? "| %s |" : "%-14.14s", mx->row_names[r]);
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
		free(rel_prev);
		free(rel_init);
		H5Gclose(g);
	}
	if (H5Lexists(f, "forgetting/events", H5P_DEFAULT) <= 0)
		return;
	hid_t eg = H5Gopen2(f, "forgetting/events", H5P_DEFAULT);
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
		if (H5Lexists(eg, task, H5P_DEFAULT) <= 0)
			continue;
		hid_t ds = H5Dopen2(eg, task, H5P_DEFAULT);
		hid_t sp = H5Dget_space(ds);
		size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
		int32_t *cnt = malloc((n + 1) * sizeof(int32_t));
		if (cnt && (n == 0 || H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
		                              cnt) >= 0)) {
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
				    task, total, task, examples);
			} else {
				fprintf(o,
				        md ? "| %s | %ld | %ld | %s |\n"
				           : "  %-14.14s %7ld %9ld  %s\n",
				        task, total, examples, top[0] ? top : "-");
			}
			first = 0;
		}
		free(cnt);
		H5Sclose(sp);
		H5Dclose(ds);
	}
	if (fmt == JSON)
		fputc('}', o);
	H5Gclose(eg);
}

static void report(FILE *o, enum format fmt, const char *name, const matrix *mx, const measures *pm,
                   const measures *lm, hid_t f)
{
	if (fmt == HTML) {
		lethe_report_measures a = {pm->acc,      pm->bwt,      pm->fwt,
		                           pm->chaudhry, pm->learning, pm->forgetting};
		lethe_report_measures b = {lm->acc,      lm->bwt,      lm->fwt,
		                           lm->chaudhry, lm->learning, lm->forgetting};
		if (!pm->present)
			a = (lethe_report_measures){NAN, NAN, NAN, NAN, NULL, NULL};
		if (!lm->present)
			b = (lethe_report_measures){NAN, NAN, NAN, NAN, NULL, NULL};
		lethe_report_html(o, f, name, mx->rows, mx->cols, mx->v, mx->row_names,
		                  mx->col_names, mx->metrics, &a, &b);
		return;
	}
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
				num(o, mx->v[r * C + c], fmt);
			}
			fputc(']', o);
		}
		fputc(']', o);
		const measures *ms[2] = {pm, lm};
		const char *keys[2] = {"primary", "target_nll"};
		for (int k = 0; k < 2; k++) {
			if (!ms[k]->present)
				continue;
			fprintf(o, ", \"%s\": {\"acc\": ", keys[k]);
			num(o, ms[k]->acc, fmt);
			fprintf(o, ", \"bwt\": ");
			num(o, ms[k]->bwt, fmt);
			fprintf(o, ", \"fwt\": ");
			num(o, ms[k]->fwt, fmt);
			fprintf(o, ", \"chaudhry_forgetting\": ");
			num(o, ms[k]->chaudhry, fmt);
			const char *arrays[4] = {"learning", "forgetting", "max_drop", "transfer"};
			const double *vals[4] = {ms[k]->learning, ms[k]->forgetting,
			                         ms[k]->max_drop, ms[k]->transfer};
			for (int a = 0; a < 4; a++) {
				fprintf(o, ", \"%s\": {", arrays[a]);
				for (size_t c = 0; c < C; c++) {
					fputs(c ? ", " : "", o);
					json_str(o, mx->col_names[c]);
					fputs(": ", o);
					num(o, vals[a][c], fmt);
				}
				fputc('}', o);
			}
			fputc('}', o);
		}
		extras(o, fmt, f, mx);
		fprintf(o, "}\n");
		return;
	}
	if (fmt == CSV) {
		fprintf(o, "section,row,task,metric,value\n");
		for (size_t r = 0; r < R; r++)
			for (size_t c = 0; c < C; c++) {
				fprintf(o, "matrix,%s,%s,%s,", mx->row_names[r], mx->col_names[c],
				        mx->metrics ? mx->metrics[c] : "");
				num(o, mx->v[r * C + c], fmt);
				fputc('\n', o);
			}
		const measures *ms[2] = {pm, lm};
		const char *keys[2] = {"primary", "target_nll"};
		for (int k = 0; k < 2; k++) {
			if (!ms[k]->present)
				continue;
			const char *names[4] = {"acc", "bwt", "fwt", "chaudhry_forgetting"};
			double v[4] = {ms[k]->acc, ms[k]->bwt, ms[k]->fwt, ms[k]->chaudhry};
			for (int i = 0; i < 4; i++) {
				fprintf(o, "%s,,,%s,", keys[k], names[i]);
				num(o, v[i], fmt);
				fputc('\n', o);
			}
			const char *arrays[4] = {"learning", "forgetting", "max_drop", "transfer"};
			const double *vals[4] = {ms[k]->learning, ms[k]->forgetting,
			                         ms[k]->max_drop, ms[k]->transfer};
			for (int a = 0; a < 4; a++)
				for (size_t c = 0; c < C; c++) {
					fprintf(o, "%s,,%s,%s,", keys[k], mx->col_names[c],
					        arrays[a]);
					num(o, vals[a][c], fmt);
					fputc('\n', o);
				}
		}
		extras(o, fmt, f, mx);
		return;
	}
	int md = fmt == MARKDOWN;
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
		fprintf(o, "%-14s", "");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " %14.14s", mx->col_names[c]);
		fprintf(o, "\n%-14s", "");
		for (size_t c = 0; c < C; c++)
			fprintf(o, " %14.14s", mx->metrics ? mx->metrics[c] : "");
		fputc('\n', o);
	}
	for (size_t r = 0; r < R; r++) {
		fprintf(o, md ? "| %s |" : "%-14.14s", mx->row_names[r]);
		for (size_t c = 0; c < C; c++) {
			char buf[32];
			double v = mx->v[r * C + c];
			if (isnan(v))
				snprintf(buf, sizeof(buf), "-");
			else
				snprintf(buf, sizeof(buf), "%.4f", v);
			fprintf(o, md ? " %s |" : " %14s", buf);
		}
		fputc('\n', o);
	}
	const measures *ms[2] = {pm, lm};
	const char *titles[2] = {"Measures on the primary metrics",
	                         "Loss-based: mean target NLL per token (lower is better)"};
	for (int k = 0; k < 2; k++) {
		if (!ms[k]->present)
			continue;
		fprintf(o, md ? "\n## %s\n\n" : "\n%s\n", titles[k]);
		char a[32], b[32], cc[32], d[32];
		snprintf(a, sizeof(a), isnan(ms[k]->acc) ? "-" : "%.4f", ms[k]->acc);
		snprintf(b, sizeof(b), isnan(ms[k]->bwt) ? "-" : "%+.4f", ms[k]->bwt);
		snprintf(cc, sizeof(cc), isnan(ms[k]->fwt) ? "-" : "%+.4f", ms[k]->fwt);
		snprintf(d, sizeof(d), isnan(ms[k]->chaudhry) ? "-" : "%.4f", ms[k]->chaudhry);
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
		if (md)
			fprintf(o, "| task | after its stage | forgetting | max drop | transfer "
			           "|\n| --- | ---: | ---: | ---: | ---: |\n");
		else
			fprintf(o, "  %-14s %16s %11s %9s %9s\n", "task", "after its stage",
			        "forgetting", "max drop", "transfer");
		for (size_t c = 0; c < C; c++) {
			char v[4][32];
			const double *arr[4] = {ms[k]->learning, ms[k]->forgetting, ms[k]->max_drop,
			                        ms[k]->transfer};
			for (int i = 0; i < 4; i++)
				snprintf(v[i], sizeof(v[i]),
				         isnan(arr[i][c]) ? "-" : (i == 0 ? "%.4f" : "%+.4f"),
				         arr[i][c]);
			fprintf(o,
			        md ? "| %s | %s | %s | %s | %s |\n"
			           : "  %-14.14s %16s %11s %9s %9s\n",
			        mx->col_names[c], v[0], v[1], v[2], v[3]);
		}
	}
	extras(o, fmt, f, mx);
	fprintf(o,
	        "\nFormulas: docs/forgetting.md. '-' marks a value that is undefined (never 0).\n");
}

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe report [--format text|markdown|csv|json|html] [-o FILE] RUN.h5\n\n"
	    "Prints a run's score matrix (each task's primary metric, before training and after "
	    "each\n"
	    "stage) and its forgetting measures: ACC, backward and forward transfer, Chaudhry's\n"
	    "forgetting, per-task forgetting, and the same on the target NLL "
	    "(docs/forgetting.md).\n\n"
	    "  -f, --format FORMAT  text (default), markdown, csv, json, or html (one "
	    "self-contained file\n"
	    "                       with SVG charts)\n"
	    "  -o, --output FILE    write to FILE instead of standard output\n"
	    "  -h, --help           show this help\n");
}

int lethe_cmd_report(int argc, char **argv)
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
			if (parse_format("report", optarg, &fmt))
				return LETHE_EXIT_USAGE;
			break;
		case 'o': output = optarg; break;
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
	if (argc - optind != 1) {
		lethe_cli_error("report: expected one run file");
		return LETHE_EXIT_USAGE;
	}
	const char *path = argv[optind];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) {
		lethe_cli_error("%s: not a readable HDF5 file", path);
		return LETHE_EXIT_USAGE;
	}
	matrix mx = {0};
	int status = LETHE_EXIT_USAGE;
	hid_t ds = H5Lexists(f, "matrices", H5P_DEFAULT) > 0 &&
	                   H5Lexists(f, "matrices/primary", H5P_DEFAULT) > 0
	               ? H5Dopen2(f, "matrices/primary", H5P_DEFAULT)
	               : -1;
	if (ds < 0) {
		lethe_cli_error("%s: not a lethe run file (no /matrices/primary)", path);
		H5Fclose(f);
		return LETHE_EXIT_USAGE;
	}
	size_t nr = 0, nc = 0, nm = 0;
	mx.row_names = attr_strings(ds, "rows", &nr);
	mx.col_names = attr_strings(ds, "columns", &nc);
	mx.metrics = attr_strings(ds, "metrics", &nm);
	mx.rows = nr;
	mx.cols = nc;
	mx.v = malloc((nr * nc + 1) * sizeof(double));
	if (mx.row_names && mx.col_names && mx.v &&
	    (nr * nc == 0 ||
	     H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, mx.v) >= 0)) {
		measures pm, lm;
		read_measures(f, "primary", nc, &pm);
		read_measures(f, "target_nll", nc, &lm);
		char name[256] = "";
		hid_t a = H5Aopen(f, "name", H5P_DEFAULT);
		if (a >= 0) {
			char *s = NULL;
			hid_t t = str_type();
			if (H5Aread(a, t, &s) >= 0 && s) {
				snprintf(name, sizeof(name), "%s", s);
				H5free_memory(s);
			}
			H5Tclose(t);
			H5Aclose(a);
		}
		FILE *o = output ? fopen(output, "w") : stdout;
		if (!o) {
			lethe_cli_error("%s: cannot write", output);
		} else {
			report(o, fmt, name[0] ? name : path, &mx, &pm, &lm, f);
			status = (output ? fclose(o) : fflush(o)) == 0 ? LETHE_EXIT_OK
			                                               : LETHE_EXIT_FAILED;
		}
		free_measures(&pm);
		free_measures(&lm);
	} else {
		lethe_cli_error("%s: /matrices/primary is incomplete", path);
	}
	H5Dclose(ds);
	H5Fclose(f);
	free_strings(mx.row_names, nr);
	free_strings(mx.col_names, nc);
	free_strings(mx.metrics, nm);
	free(mx.v);
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
	       "evaluate the same tasks; a difference is reported on stderr.\n\n"
	       "  -f, --format FORMAT  text (default), markdown, csv, json or html\n"
	       "  -o, --output FILE    write to FILE instead of standard output\n"
	       "  -h, --help           show this help\n");
}

/* The mean of the defined per-task values, NaN if none. */
static double mean_defined(const double *v, size_t n)
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
	static const char *const cols[] = {"ACC",
	                                   "BWT",
	                                   "FWT",
	                                   "forgetting (Chaudhry)",
	                                   "forgetting (per task, mean)",
	                                   "NLL BWT",
	                                   "NLL forgetting (mean)"};
	enum { NCOL = 7 };
	double *v = calloc((size_t)n * NCOL, sizeof(double));
	char **names = calloc((size_t)n, sizeof(char *));
	char *first_tasks = NULL;
	int status = v && names ? LETHE_EXIT_OK : LETHE_EXIT_FAILED;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	for (int i = 0; status == LETHE_EXIT_OK && i < n; i++) {
		const char *path = argv[optind + i];
		names[i] = strdup(path);
		hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		if (f < 0) {
			lethe_cli_error("%s: not a readable HDF5 file", path);
			status = LETHE_EXIT_USAGE;
			break;
		}
		hid_t ds = H5Lexists(f, "matrices", H5P_DEFAULT) > 0 &&
		                   H5Lexists(f, "matrices/primary", H5P_DEFAULT) > 0
		               ? H5Dopen2(f, "matrices/primary", H5P_DEFAULT)
		               : -1;
		size_t nc = 0;
		char **tasks = ds >= 0 ? attr_strings(ds, "columns", &nc) : NULL;
		if (ds >= 0)
			H5Dclose(ds);
		measures pm, lm;
		if (!tasks || !read_measures(f, "primary", nc, &pm)) {
			lethe_cli_error("%s: not a lethe run file with forgetting measures", path);
			status = LETHE_EXIT_USAGE;
			free_strings(tasks, nc);
			H5Fclose(f);
			break;
		}
		read_measures(f, "target_nll", nc, &lm);
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
		double *row = v + (size_t)i * NCOL;
		row[0] = pm.acc;
		row[1] = pm.bwt;
		row[2] = pm.fwt;
		row[3] = pm.chaudhry;
		row[4] = mean_defined(pm.forgetting, nc);
		row[5] = lm.present ? lm.bwt : NAN;
		row[6] = lm.present ? mean_defined(lm.forgetting, nc) : NAN;
		free_measures(&pm);
		free_measures(&lm);
		free_strings(tasks, nc);
		H5Fclose(f);
	}
	FILE *o = status == LETHE_EXIT_OK ? (output ? fopen(output, "w") : stdout) : NULL;
	if (status == LETHE_EXIT_OK && !o) {
		lethe_cli_error("%s: cannot write", output);
		status = LETHE_EXIT_FAILED;
	}
	if (o) {
		if (fmt == HTML) {
			fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
			      "charset=\"utf-8\"><title>lethe compare</title>"
			      "<style>body{font-family:sans-serif;margin:24px}table{border-"
			      "collapse:collapse;font-size:13px}"
			      "td,th{border:1px solid #ccc;padding:4px "
			      "10px;text-align:right}th{background:#f3f3f3}"
			      "td:first-child{text-align:left}.best{background:#d7f5d7}</style></"
			      "head><body>\n"
			      "<h1>Runs compared</h1>\n<table><tr><th>run</th>",
			      o);
			for (int k = 0; k < NCOL; k++)
				fprintf(o, "<th>%s</th>", cols[k]);
			fputs("</tr>\n", o);
			/* Mark the best run per column: highest ACC/BWT/FWT, lowest forgetting. */
			int best[NCOL];
			for (int k = 0; k < NCOL; k++) {
				best[k] = -1;
				int higher = k <= 2 || k == 5;
				for (int i = 0; i < n; i++) {
					double x = v[(size_t)i * NCOL + k];
					if (!isnan(x) &&
					    (best[k] < 0 ||
					     (higher ? x > v[(size_t)best[k] * NCOL + k]
					             : x < v[(size_t)best[k] * NCOL + k])))
						best[k] = i;
				}
			}
			for (int i = 0; i < n; i++) {
				fputs("<tr><td>", o);
				for (const char *p = names[i]; *p; p++)
					*p == '<'   ? fputs("&lt;", o)
					: *p == '&' ? fputs("&amp;", o)
					            : fputc(*p, o);
				fputs("</td>", o);
				for (int k = 0; k < NCOL; k++) {
					double x = v[(size_t)i * NCOL + k];
					fprintf(o, "<td%s>",
					        best[k] == i && n > 1 ? " class=\"best\"" : "");
					isnan(x) ? fputs("&ndash;", o) : fprintf(o, "%.4f", x);
					fputs("</td>", o);
				}
				fputs("</tr>\n", o);
			}
			fputs("</table>\n<p>Green: the best run per column (higher ACC, BWT and "
			      "FWT; lower forgetting). "
			      "Formulas: docs/forgetting.md.</p>\n</body></html>\n",
			      o);
		} else if (fmt == JSON) {
			fputs("[", o);
			for (int i = 0; i < n; i++) {
				fputs(i ? ", {\"run\": " : "{\"run\": ", o);
				json_str(o, names[i]);
				for (int k = 0; k < NCOL; k++) {
					fputs(", ", o);
					json_str(o, cols[k]);
					fputs(": ", o);
					num(o, v[(size_t)i * NCOL + k], fmt);
				}
				fputs("}", o);
			}
			fputs("]\n", o);
		} else if (fmt == CSV) {
			fputs("run", o);
			for (int k = 0; k < NCOL; k++)
				fprintf(o, ",%s", cols[k]);
			fputc('\n', o);
			for (int i = 0; i < n; i++) {
				fputs(names[i], o);
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
					fprintf(o, " %s |", cols[k]);
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
		if ((output ? fclose(o) : fflush(o)) != 0)
			status = LETHE_EXIT_FAILED;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(v);
	free(first_tasks);
	return status;
}
