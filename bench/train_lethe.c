/*
 * train_lethe.c: lethe's side of bench/train-throughput: trains the model of one configuration
 * on random tokens exactly as ../shared/bench/torch_reference.py --arch llama does (same shapes,
 * every position targeted, AdamW betas 0.9/0.95, weight decay 0.1 on matrices), and prints one
 * JSON line with the median training tokens/s, the per-phase medians and the peak RSS.
 * With --generate it measures greedy generation with the KV cache instead: B prompts of 16
 * tokens, 64 new tokens each, tokens/s of new tokens (median of --steps runs).
 * With --lora R the base is frozen and LoRA adapters of rank R (alpha 2R) on every target of
 * every layer train, as the reference's --lora R (which puts one adapter on its fused qkv map,
 * where lethe puts one on each of q, k and v).
 * With --eval it measures a stage's evaluation the way the runner does it (engine/run/runner.c,
 * batch_nll(): lethe_model_forward() without training, per-sequence summed NLL, batches of 16):
 * teacher-forced NLL of EVAL_N sequences of EVAL_P prompt + EVAL_G targeted tokens, and candidate
 * scoring, the NLL of EVAL_K candidate continuations of EVAL_C tokens after each EVAL_P-token
 * prompt (the prompt repeated per candidate, as the runner does), best = smallest NLL; input
 * tokens/s of each (median of --steps runs). bench/generate_torch.py --eval is its peer.
 * c4 is the SmolLM2-135M shape (grouped-query attention: 9 query, 3 key/value heads; SwiGLU
 * 1536; vocabulary 49152, context 512, batch 4).
 * Usage: train_lethe --config c1|c2|c3|c4 [--threads N] [--warmup 3] [--steps 10] [--untie]
 * [--generate] [--eval] [--lora R] [--bf16]
 * With --bf16 the matrix products are bf16 with fp32 accumulation (train: {precision: bf16}),
 * as the reference's --bf16 autocast; refused (exit 2) where lethe cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <lethe/lethe.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* The --eval shapes (the same in bench/generate_torch.py). */
enum { EVAL_N = 8, EVAL_P = 32, EVAL_G = 32, EVAL_K = 4, EVAL_C = 8, EVAL_BATCH = 16 };

/* One timed evaluation: teacher-forced NLL of EVAL_N sequences, then candidate scoring of
 * EVAL_N x EVAL_K candidates, both in forwards of at most EVAL_BATCH sequences. Writes the
 * seconds of each and the chosen candidates' checksum. */
static int eval_once(lethe_model *m, const int32_t *tok, double *t_nll, double *t_choice,
                     long *pick_sum)
{
	enum { TN = EVAL_P + EVAL_G, TC = EVAL_P + EVAL_C, NC = EVAL_N * EVAL_K };
	static int32_t in[EVAL_BATCH * TN], tg[EVAL_BATCH * TN];
	double nll[EVAL_BATCH], cn[NC];
	int counts[EVAL_BATCH];
	double t0 = now();
	for (int i0 = 0; i0 < EVAL_N; i0 += EVAL_BATCH) {
		int k = EVAL_N - i0 < EVAL_BATCH ? EVAL_N - i0 : EVAL_BATCH;
		for (int b = 0; b < k; b++)
			for (int t = 0; t < TN; t++) {
				const int32_t *src = tok + (size_t)(i0 + b) * 2 * TN;
				in[b * TN + t] = src[t];
				tg[b * TN + t] = t >= EVAL_P - 1 && t < TN - 1 ? src[t + 1] : -1;
			}
		lethe_batch batch = {k, TN, in, tg};
		if (lethe_model_forward(m, &batch, 0, NULL, nll, counts))
			return 1;
	}
	double t1 = now();
	for (int i0 = 0; i0 < NC; i0 += EVAL_BATCH) {
		int k = NC - i0 < EVAL_BATCH ? NC - i0 : EVAL_BATCH;
		for (int b = 0; b < k; b++) {
			int ex = (i0 + b) / EVAL_K, cand = (i0 + b) % EVAL_K;
			const int32_t *prompt = tok + (size_t)ex * 2 * TN;
			const int32_t *cont = prompt + TN + cand * EVAL_C;
			for (int t = 0; t < TC; t++) {
				in[b * TC + t] = t < EVAL_P ? prompt[t] : cont[t - EVAL_P];
				tg[b * TC + t] =
				    t >= EVAL_P - 1 && t < TC - 1 ? cont[t + 1 - EVAL_P] : -1;
			}
		}
		lethe_batch batch = {k, TC, in, tg};
		if (lethe_model_forward(m, &batch, 0, NULL, cn + i0, counts))
			return 1;
	}
	double t2 = now();
	for (int ex = 0; ex < EVAL_N; ex++) {
		int best = 0;
		for (int c = 1; c < EVAL_K; c++)
			if (cn[ex * EVAL_K + c] < cn[ex * EVAL_K + best])
				best = c;
		*pick_sum += best;
	}
	*t_nll = t1 - t0;
	*t_choice = t2 - t1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = "c1";
	int threads = 1, warmup = 3, steps = 10, untie = 0, generate = 0, lora = 0, bf16 = 0;
	int eval = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			warmup = atoi(argv[++i]);
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			steps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--untie") == 0)
			untie = 1;
		else if (strcmp(argv[i], "--generate") == 0)
			generate = 1;
		else if (strcmp(argv[i], "--eval") == 0)
			eval = 1;
		else if (strcmp(argv[i], "--lora") == 0 && i + 1 < argc)
			lora = atoi(argv[++i]);
		else if (strcmp(argv[i], "--bf16") == 0) /* train: {precision: bf16} */
			bf16 = 1;
		else {
			fprintf(stderr, "usage: train_lethe --config c1|c2|c3|c4 [--threads N] "
			                "[--warmup N] [--steps N] [--untie] [--generate] [--eval] "
			                "[--lora R] [--bf16]\n");
			return 2;
		}
	}
	int V, T, C, L, NH, B, NKV = 0, FF = 0;
	if (strcmp(config, "c1") == 0)
		V = 256, T = 128, C = 128, L = 4, NH = 4, B = 16;
	else if (strcmp(config, "c2") == 0)
		V = 4096, T = 256, C = 256, L = 6, NH = 8, B = 8;
	else if (strcmp(config, "c3") == 0)
		V = 8192, T = 256, C = 512, L = 8, NH = 8, B = 8;
	else if (strcmp(config, "c4") == 0) /* SmolLM2-135M */
		V = 49152, T = 512, C = 576, L = 30, NH = 9, B = 4, NKV = 3, FF = 1536;
	else {
		fprintf(stderr, "train_lethe: unknown config '%s'\n", config);
		return 2;
	}
	/* The reference's c1 has a 256-token vocabulary; lethe's smallest is 260 (bytes and
	 * specials), so c1 runs at 260: 1.6% more head work than the peer, in the peer's favour. */
	if (V < LETHE_TOKEN_FIRST_MERGE)
		V = LETHE_TOKEN_FIRST_MERGE;
	lethe_set_threads(threads);
	long baseline = rss_kb();
	lethe_model_config cfg = {.vocab = V,
	                          .context = T,
	                          .dim = C,
	                          .layers = L,
	                          .heads = NH,
	                          .ff = FF,
	                          .tied = !untie,
	                          .kv_heads = NKV};
	lethe_model *m;
	if (lethe_model_new(&m, &cfg, 1234))
		return 1;
	if (bf16 && lethe_model_set_precision(m, LETHE_PRECISION_BF16)) {
		fprintf(stderr, "train_lethe: --bf16: %s\n", lethe_model_errmsg(m));
		return 2;
	}
	cfg = *lethe_model_config_of(m);
	lethe_lora_options lo = {lora, 2.0f * (float)lora, 0.0f, LETHE_LORA_ALL};
	if (lora > 0 && lethe_model_lora_attach(m, &lo, 99)) {
		fprintf(stderr, "train_lethe: %s\n", lethe_model_errmsg(m));
		return 1;
	}
	size_t BT = (size_t)B * T;
	int32_t *tok = malloc(4 * BT * sizeof(int32_t)), *tgt = malloc(4 * BT * sizeof(int32_t));
	unsigned s = 1235;
	for (size_t i = 0; i < 4 * BT; i++) {
		s = s * 1103515245u + 12345u;
		tok[i] = (int32_t)((s >> 8) % (unsigned)V);
	}
	for (size_t i = 0; i < 4 * BT; i++)
		tgt[i] = tok[(i + 1) % (4 * BT)];
	if (eval) {
		double *tn = malloc((size_t)steps * sizeof(double)),
		       *tc = malloc((size_t)steps * sizeof(double));
		long picks = 0;
		for (int i = 0; i < warmup + steps; i++) {
			double a, b;
			if (eval_once(m, tok, &a, &b, &picks)) {
				fprintf(stderr, "train_lethe: %s\n", lethe_model_errmsg(m));
				return 1;
			}
			if (i >= warmup) {
				tn[i - warmup] = a;
				tc[i - warmup] = b;
			}
		}
		double mn = median(tn, steps), mc = median(tc, steps);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		int in_nll = EVAL_N * (EVAL_P + EVAL_G),
		    in_choice = EVAL_N * EVAL_K * (EVAL_P + EVAL_C);
		printf("{\"engine\": \"lethe\", \"mode\": \"eval\", \"config\": \"%s\", "
		       "\"threads\": %d, \"examples\": %d, \"candidates\": %d, "
		       "\"nll_input_tokens\": %d, \"nll_s_median\": %.6f, "
		       "\"nll_tokens_per_s_median\": %.1f, \"choice_input_tokens\": %d, "
		       "\"choice_s_median\": %.6f, \"choice_tokens_per_s_median\": %.1f, "
		       "\"picks\": %ld, \"peak_rss_mb\": %.1f}\n",
		       config, threads, EVAL_N, EVAL_K, in_nll, mn, in_nll / mn, in_choice, mc,
		       in_choice / mc, picks, ru.ru_maxrss / 1024.0);
		free(tn);
		free(tc);
		lethe_model_free(m);
		return 0;
	}
	if (generate) {
		int32_t *prompts[64], *out[64];
		int lens[64], out_lens[64];
		double *gt = malloc((size_t)steps * sizeof(double));
		size_t produced = 0;
		for (int b = 0; b < B; b++) {
			prompts[b] = tok + (size_t)b * T;
			lens[b] = 16;
		}
		for (int i = 0; i < warmup + steps; i++) {
			double t0 = now();
			if (lethe_model_generate(m, (const int32_t *const *)prompts, lens, B, 64,
			                         -1, out, out_lens))
				return 1;
			double t1 = now();
			produced = 0;
			for (int b = 0; b < B; b++) {
				produced += (size_t)out_lens[b];
				free(out[b]);
			}
			if (i >= warmup)
				gt[i - warmup] = t1 - t0;
		}
		double med = median(gt, steps);
		printf("{\"engine\": \"lethe\", \"mode\": \"generate\", \"config\": \"%s\", "
		       "\"threads\": %d, \"batch\": %d, "
		       "\"prompt_tokens\": 16, \"new_tokens\": %zu, \"s_median\": %.6f, "
		       "\"tokens_per_s_median\": %.1f}\n",
		       config, threads, B, produced, med, (double)produced / med);
		free(gt);
		lethe_model_free(m);
		return 0;
	}
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 1};
	double *st = malloc((size_t)steps * sizeof(double)),
	       *ft = malloc((size_t)steps * sizeof(double));
	double *bt = malloc((size_t)steps * sizeof(double)),
	       *ot = malloc((size_t)steps * sizeof(double));
	float loss = 0, first = 0;
	long after_step = 0;
	for (int i = 0; i < warmup + steps; i++) {
		lethe_batch batch = {B, T, tok + (size_t)(i % 4) * BT, tgt + (size_t)(i % 4) * BT};
		double t0 = now();
		lethe_model_zero_grad(m);
		if (lethe_model_forward(m, &batch, 1, &loss, NULL, NULL))
			return 1;
		double t1 = now();
		lethe_model_backward(m);
		double t2 = now();
		if (lethe_model_step(m, &opt, 3e-4f, 0.0f, 1.0f, NULL))
			return 1;
		double t3 = now();
		if (i == 0) {
			first = loss;
			after_step = rss_kb();
		}
		if (i >= warmup) {
			st[i - warmup] = t3 - t0;
			ft[i - warmup] = t1 - t0;
			bt[i - warmup] = t2 - t1;
			ot[i - warmup] = t3 - t2;
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double med = median(st, steps);
	/* The reference's formula: L (2 C^2 + 2 C kv_dim + 3 C ff) + V C, = 4 C^2 + ... without
	 * GQA. */
	size_t kvd = (size_t)(cfg.kv_heads ? cfg.kv_heads : NH) *
	             (size_t)(cfg.head_dim ? cfg.head_dim : C / NH);
	size_t n_mm =
	    (size_t)L * (2 * (size_t)C * C + 2 * (size_t)C * kvd + 3 * (size_t)C * cfg.ff) +
	    (size_t)V * C;
	double flops_per_token = 6.0 * (double)n_mm + 12.0 * L * T * C;
	printf("{\"engine\": \"lethe\", \"config\": \"%s\", \"threads\": %d, \"vocab\": %d, "
	       "\"lora\": %d, \"params_trainable\": %zu, "
	       "\"params_total\": %zu, "
	       "\"tokens_per_step\": %zu, \"step_s_median\": %.6f, \"tokens_per_s_median\": %.1f, "
	       "\"fwd_s_median\": %.6f, \"bwd_s_median\": %.6f, \"opt_s_median\": %.6f, "
	       "\"flops_per_token\": %.0f, "
	       "\"model_gflops\": %.2f, \"baseline_rss_mb\": %.1f, \"after_step_rss_mb\": %.1f, "
	       "\"peak_rss_mb\": %.1f, \"bytes_per_param_above_baseline\": %.2f, "
	       "\"loss_first\": %.4f, \"loss_last\": %.4f}\n",
	       config, threads, V, lora,
	       lora > 0 ? lethe_model_lora_num_params(m) : lethe_model_num_params(m),
	       lethe_model_num_params(m), BT, med, (double)BT / med, median(ft, steps),
	       median(bt, steps), median(ot, steps), flops_per_token,
	       flops_per_token * (double)BT / med / 1e9, baseline / 1024.0, after_step / 1024.0,
	       ru.ru_maxrss / 1024.0,
	       (ru.ru_maxrss - baseline) * 1024.0 / (double)lethe_model_num_params(m), first, loss);
	lethe_model_free(m);
	free(tok);
	free(tgt);
	free(st);
	free(ft);
	free(bt);
	free(ot);
	return 0;
}
