/*
 * runfile_dump.c: prints what the public run-file reader (lethe/runfile.h) returns for a run
 * file, as one JSON object, so that tests/hostile_runfiles.py can hold it to what h5py reads.
 * Exit 2 with the reader's message when the file is refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <lethe/lethe.h>

static void num(double v)
{
	if (isnan(v))
		fputs("null", stdout);
	else
		printf("%.17g", v);
}

static void strs(const char *const *v, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\"", i ? ", " : "", v[i]);
	putchar(']');
}

static void nums(const double *v, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", stdout);
		num(v[i]);
	}
	putchar(']');
}

static int refuse(lethe_runfile *rf)
{
	fprintf(stderr, "%s\n", lethe_runfile_errmsg(rf));
	lethe_runfile_free(rf);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: runfile_dump RUN.h5\n");
		return 2;
	}
	lethe_runfile *rf;
	if (lethe_runfile_open(&rf, argv[1]))
		return refuse(rf);
	size_t R = lethe_runfile_n_rows(rf), C = lethe_runfile_n_columns(rf);
	printf("{\"version\": %d, \"name\": \"%s\", \"rows\": ", lethe_runfile_format_version(rf),
	       lethe_runfile_name(rf));
	strs(lethe_runfile_row_names(rf), R);
	fputs(", \"columns\": ", stdout);
	strs(lethe_runfile_column_names(rf), C);
	fputs(", \"plugins\": ", stdout);
	strs(lethe_runfile_column_plugins(rf), C);
	fputs(", \"metrics\": ", stdout);
	strs(lethe_runfile_column_metrics(rf), C);
	fputs(", \"lower\": [", stdout);
	for (size_t c = 0; c < C; c++)
		printf("%s%d", c ? ", " : "", lethe_runfile_column_lower(rf)[c]);
	fputs("], \"trained\": [", stdout);
	for (size_t r = 0; r < R; r++)
		printf("%s%d", r ? ", " : "", lethe_runfile_row_trained(rf, r));
	fputs("], \"matrices\": {", stdout);
	for (size_t i = 0; i < lethe_runfile_n_matrices(rf); i++) {
		double *m;
		if (lethe_runfile_matrix(rf, lethe_runfile_matrix_name(rf, i), &m))
			return refuse(rf);
		printf("%s\"%s\": ", i ? ", " : "", lethe_runfile_matrix_name(rf, i));
		nums(m, R * C);
		free(m);
	}
	fputs("}, \"forgetting\": {", stdout);
	const char *which[2] = {"primary", "target_nll"};
	for (int k = 0; k < 2; k++) {
		lethe_forgetting f;
		if (lethe_runfile_forgetting(rf, which[k], &f))
			return refuse(rf);
		printf("%s\"%s\": {\"acc\": ", k ? ", " : "", which[k]);
		num(f.acc);
		fputs(", \"learning\": ", stdout);
		nums(f.learning, f.n_tasks);
		fputs(", \"trained_row\": [", stdout);
		for (size_t c = 0; c < f.n_tasks; c++)
			printf("%s%d", c ? ", " : "", f.trained_row[c]);
		fputs("]}", stdout);
		lethe_forgetting_free(&f);
	}
	double *drift;
	if (lethe_runfile_drift(rf, "relative_previous", &drift))
		return refuse(rf);
	fputs("}, \"drift\": ", stdout);
	nums(drift, R * LETHE_RUNFILE_DRIFT_GROUPS);
	free(drift);
	fputs(", \"evals\": [", stdout);
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++) {
			lethe_runfile_eval ev;
			if (lethe_runfile_read_eval(rf, r, c, &ev))
				return refuse(rf);
			double nll = 0, score = 0;
			long tokens = 0;
			for (size_t i = 0; i < ev.n; i++) {
				nll += ev.nll[i];
				tokens += ev.n_tokens[i];
				score += isnan(ev.score[i]) ? 0 : ev.score[i];
			}
			printf("%s{\"n\": %zu, \"nll\": %.17g, \"tokens\": %ld, \"score\": %.17g, "
			       "\"predictions\": %d, \"metrics\": ",
			       r || c ? ", " : "", ev.n, nll, tokens, score,
			       ev.predictions != NULL);
			strs((const char *const *)ev.metric_names, ev.n_metrics);
			fputs(", \"values\": ", stdout);
			nums(ev.metric_values, ev.n_metrics);
			fputs(", \"flags\": [", stdout);
			for (size_t i = 0; i < ev.n_metrics; i++)
				printf("%s%u", i ? ", " : "", ev.metric_flags[i]);
			fputs("]}", stdout);
			lethe_runfile_eval_clear(&ev);
		}
	fputs("], \"loss\": [", stdout);
	for (size_t r = 0; r < R; r++) {
		float *v;
		size_t n;
		int rc = lethe_runfile_curve(rf, r, "loss", &v, &n);
		if (rc && rc != LETHE_ENOTFOUND)
			return refuse(rf);
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += v[i];
		printf("%s[%zu, %.17g]", r ? ", " : "", n, sum);
		free(v);
	}
	const lethe_model_config *cfg = lethe_runfile_model_config(rf);
	lethe_tokenizer *tok;
	lethe_model *m;
	if (lethe_runfile_tokenizer(rf, &tok))
		return refuse(rf);
	printf("], \"vocab\": %zu, \"dim\": %d, \"layers\": %d", lethe_tokenizer_vocab_size(tok),
	       cfg->dim, cfg->layers);
	lethe_tokenizer_free(tok);
	if (lethe_model_new(&m, cfg, 1)) {
		fprintf(stderr, "cannot make the model\n");
		return 1;
	}
	fputs(", \"params\": [", stdout);
	for (size_t r = 0, first = 1; r < R; r++) {
		if (!lethe_runfile_row_trained(rf, r))
			continue;
		if (lethe_runfile_params(rf, r, m))
			return refuse(rf);
		double sum = 0;
		for (size_t i = 0; i < lethe_model_num_params(m); i++)
			sum += lethe_model_params(m)[i];
		printf("%s%.17g", first ? "" : ", ", sum);
		first = 0;
	}
	if (lethe_runfile_resume_state(rf, m))
		return refuse(rf);
	printf("], \"steps_taken\": %llu}\n", (unsigned long long)lethe_model_steps_taken(m));
	lethe_model_free(m);
	lethe_runfile_free(rf);
	return 0;
}
