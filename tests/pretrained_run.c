/*
 * pretrained_run.c: a test driver for lethe_model_open(): loads MODEL (a Hugging Face directory
 * or a llama2.c checkpoint; or, ending in .h5, a run file's last trained row with its unmerged
 * adapter, through the run-file reader) and answers one command per line of standard input:
 *   logits ID...          -> the logits of every position, one line per position (%.9g)
 *   generate N ID...      -> N greedy tokens after the prompt (KV-cache decoding)
 *   grad ID...            -> the loss and the gradient's squared norm of next-token prediction
 * A model that does not load prints its message with exit 2. Used by tests/pretrained.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

static int ids(char *s, int32_t *out, int max)
{
	int n = 0;
	for (char *tok = strtok(s, " \n"); tok && n < max; tok = strtok(NULL, " \n"))
		out[n++] = (int32_t)atoi(tok);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pretrained_run MODEL < COMMANDS\n");
		return 2;
	}
	lethe_set_threads(1);
	lethe_model *m = NULL;
	size_t len = strlen(argv[1]);
	if (len > 3 && strcmp(argv[1] + len - 3, ".h5") == 0) {
		lethe_runfile *rf;
		size_t row = 0;
		int rc = lethe_runfile_open(&rf, argv[1]);
		if (rc || lethe_runfile_find_stage(rf, NULL, &row) ||
		    lethe_model_new(&m, lethe_runfile_model_config(rf), 0) ||
		    lethe_runfile_row_model(rf, row, m)) {
			fprintf(stderr, "%s\n", lethe_runfile_errmsg(rf));
			return 2;
		}
		lethe_runfile_free(rf);
	} else if (lethe_model_open(&m, argv[1], 0)) {
		fprintf(stderr, "%s\n", m ? lethe_model_errmsg(m) : "out of memory");
		lethe_model_free(m);
		return 2;
	}
	const lethe_model_config *c = lethe_model_config_of(m);
	char *line = NULL;
	size_t cap = 0;
	int32_t tok[4096], tgt[4096];
	while (getline(&line, &cap, stdin) > 0) {
		char *rest = strchr(line, ' ');
		if (!rest)
			continue;
		*rest++ = 0;
		if (strcmp(line, "logits") == 0 || strcmp(line, "grad") == 0) {
			int T = ids(rest, tok, 4096), train = strcmp(line, "grad") == 0;
			for (int t = 0; t < T; t++)
				tgt[t] = t + 1 < T ? tok[t + 1] : (train ? -1 : 0);
			lethe_batch b = {1, T, tok, tgt};
			float loss;
			if (train)
				lethe_model_zero_grad(m);
			if (lethe_model_forward(m, &b, train, &loss, NULL, NULL) ||
			    (train && lethe_model_backward(m))) {
				fprintf(stderr, "%s\n", lethe_model_errmsg(m));
				return 1;
			}
			if (train) {
				double ss = 0.0;
				const float *g = lethe_model_grads(m);
				for (size_t i = 0; i < lethe_model_num_params(m); i++)
					ss += (double)g[i] * g[i];
				printf("%.9g %.9g\n", loss, ss);
				continue;
			}
			const float *lg = lethe_model_logits(m);
			for (int t = 0; t < T; t++)
				for (int v = 0; v < c->vocab; v++)
					printf(v + 1 < c->vocab ? "%.9g " : "%.9g\n",
					       lg[(size_t)t * c->vocab + v]);
		} else if (strcmp(line, "generate") == 0) {
			int n = atoi(rest);
			char *p = strchr(rest, ' ');
			int T = p ? ids(p + 1, tok, 4096) : 0;
			const int32_t *prompts[1] = {tok};
			int32_t *gen[1];
			int lens[1];
			if (lethe_model_generate(m, prompts, &T, 1, n, -1, gen, lens)) {
				fprintf(stderr, "%s\n", lethe_model_errmsg(m));
				return 1;
			}
			for (int i = 0; i < lens[0]; i++)
				printf(i ? " %d" : "%d", (int)gen[0][i]);
			putchar('\n');
			free(gen[0]);
		}
		fflush(stdout);
	}
	free(line);
	lethe_model_free(m);
	return 0;
}
