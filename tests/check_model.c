/*
 * check_model.c: the transformer and its training step: gradients against central finite
 * differences for every tensor, a model that overfits one batch, KV-cache generation equal to the
 * argmax of full forward passes, bit-identical parameters from the same seed, frozen groups,
 * non-finite values refused, schedules and presets, and the example-weighted loss and its
 * gradient.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lethe/lethe.h>

#include "../engine/model/fastmath.h"

static lethe_model_config tiny_config(int T)
{
	lethe_model_config c = {
	    .vocab = 270, .context = T, .dim = 16, .layers = 2, .heads = 2, .ff = 24, .tied = 1};
	ck_assert_int_eq(lethe_model_config_check(&c, NULL, 0), 0);
	return c;
}

/* A batch of B sequences of length T with a prompt of p tokens (no loss) and padding at the end
 * of the second sequence, as the trainer builds them. */
static void make_batch(int B, int T, int V, int32_t *tok, int32_t *tgt, unsigned seed)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			seed = seed * 1103515245u + 12345u;
			tok[b * T + t] = (int32_t)((seed >> 8) % (unsigned)V);
		}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			int padded = b == 1 && t >= T - 2;
			tgt[b * T + t] = (t < 2 || padded || t + 1 >= T) ? -1 : tok[b * T + t + 1];
		}
}

static double batch_loss(lethe_model *m, const lethe_batch *batch)
{
	float loss;
	ck_assert_int_eq(lethe_model_forward(m, batch, 0, &loss, NULL, NULL), 0);
	return loss;
}

START_TEST(gradients_match_finite_differences)
{
	/* Tolerance: |analytic - numeric| <= 2e-2 * max(|analytic|, |numeric|) + 2e-4, with central
	 * differences of step 1e-2 on a float32 model whose weights are scaled up (x10) so that the
	 * function is far from linear; every tensor, 6 entries each. */
	lethe_model_config c = tiny_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 7), 0);
	float *p = lethe_model_params(m);
	for (size_t i = 0; i < lethe_model_num_params(m); i++)
		p[i] *= 10.0f;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++)
		if (lethe_model_tensor(m, t)->cols == 1) /* keep norm weights near 1, perturbed */
			for (size_t k = 0; k < lethe_model_tensor(m, t)->size; k++)
				p[lethe_model_tensor(m, t)->offset + k] =
				    1.0f + 0.1f * (float)((k * 7) % 5) / 5.0f;
	int B = 2, T = 8;
	int32_t tok[16], tgt[16];
	make_batch(B, T, c.vocab, tok, tgt, 3);
	lethe_batch batch = {B, T, tok, tgt};
	float loss;
	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	float *g = lethe_model_grads(m);
	int checked = 0;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		for (int k = 0; k < 6; k++) {
			size_t i = ti->offset;
			if (ti->group == LETHE_GROUP_EMBEDDINGS) /* rows of tokens in the batch */
				i += (size_t)tok[2 + k] * ti->cols + (size_t)(k * 5) % ti->cols;
			else
				i += ((size_t)k * 2654435761u) % ti->size;
			float saved = p[i], h = 1e-2f;
			p[i] = saved + h;
			double up = batch_loss(m, &batch);
			p[i] = saved - h;
			double down = batch_loss(m, &batch);
			p[i] = saved;
			double numeric = (up - down) / (2.0 * h), analytic = g[i];
			double tol = 2e-2 * fmax(fabs(analytic), fabs(numeric)) + 2e-4;
			ck_assert_msg(fabs(analytic - numeric) <= tol,
			              "%s[%zu]: analytic %.6g, numeric %.6g", ti->name,
			              i - ti->offset, analytic, numeric);
			checked++;
		}
	}
	ck_assert_int_eq(checked, 6 * (int)lethe_model_num_tensors(m));
	lethe_model_free(m);
}
END_TEST

/* loss_weighting: example (docs/curriculum.md): the loss is the mean over sequences of each
 * sequence's mean target NLL, computed by hand from the per-sequence NLL of a token-weighted
 * forward, and its gradient matches central finite differences (same tolerance as above) on a
 * batch whose sequences have 5, 1 and 6 targets; with equal target counts the two weightings
 * give the same loss. */
START_TEST(example_loss_weighting)
{
	lethe_model_config c = tiny_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 7), 0);
	float *p = lethe_model_params(m);
	for (size_t i = 0; i < lethe_model_num_params(m); i++)
		p[i] *= 10.0f;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++)
		if (lethe_model_tensor(m, t)->cols == 1)
			for (size_t k = 0; k < lethe_model_tensor(m, t)->size; k++)
				p[lethe_model_tensor(m, t)->offset + k] =
				    1.0f + 0.1f * (float)((k * 7) % 5) / 5.0f;
	enum { B = 3, T = 8 };
	int32_t tok[B * T], tgt[B * T];
	make_batch(B, T, c.vocab, tok, tgt, 5);
	static const int first[B] = {2, 6, 1}, last[B] = {6, 6, 6}; /* 5, 1, 6 targets */
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			tgt[b * T + t] = t >= first[b] && t <= last[b] ? tok[b * T + t + 1] : -1;
	lethe_batch batch = {B, T, tok, tgt};
	double nll[B];
	int counts[B];
	float token_loss, loss;
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &token_loss, nll, counts), 0);
	double want = 0;
	for (int b = 0; b < B; b++) {
		ck_assert_int_eq(counts[b], last[b] - first[b] + 1);
		want += nll[b] / counts[b] / B;
	}
	lethe_model_set_loss_weighting(m, LETHE_LOSS_WEIGHTING_EXAMPLE);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &loss, NULL, NULL), 0);
	ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "example loss %.8g, by hand %.8g",
	              (double)loss, want);
	ck_assert_msg(fabs(loss - token_loss) > 1e-3, "the weightings should differ here");

	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	float *g = lethe_model_grads(m);
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		for (int k = 0; k < 6; k++) {
			size_t i = ti->offset;
			if (ti->group == LETHE_GROUP_EMBEDDINGS)
				i += (size_t)tok[2 + k] * ti->cols + (size_t)(k * 5) % ti->cols;
			else
				i += ((size_t)k * 2654435761u) % ti->size;
			float saved = p[i], h = 1e-2f;
			p[i] = saved + h;
			double up = batch_loss(m, &batch);
			p[i] = saved - h;
			double down = batch_loss(m, &batch);
			p[i] = saved;
			double numeric = (up - down) / (2.0 * h), analytic = g[i];
			double tol = 2e-2 * fmax(fabs(analytic), fabs(numeric)) + 2e-4;
			ck_assert_msg(fabs(analytic - numeric) <= tol,
			              "%s[%zu]: analytic %.6g, numeric %.6g", ti->name,
			              i - ti->offset, analytic, numeric);
		}
	}

	/* Equal target counts: the mean of means is the token mean. */
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			tgt[b * T + t] = t >= 2 && t <= 5 ? tok[b * T + t + 1] : -1;
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &loss, NULL, NULL), 0);
	lethe_model_set_loss_weighting(m, LETHE_LOSS_WEIGHTING_TOKEN);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &token_loss, NULL, NULL), 0);
	ck_assert_msg(fabs(loss - token_loss) <= 1e-6 * fabs(token_loss), "%.8g vs %.8g",
	              (double)loss, (double)token_loss);
	lethe_model_free(m);
}
END_TEST

START_TEST(untied_head_and_frozen_groups)
{
	lethe_model_config c = tiny_config(8);
	c.tied = 0;
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 1), 0);
	ck_assert_uint_eq(lethe_model_num_params(m), lethe_model_config_params(&c));
	const lethe_tensor_info *head = lethe_model_tensor(m, lethe_model_num_tensors(m) - 1);
	ck_assert_str_eq(head->name, "head");
	/* Freeze the attention of layer 1 and every norm. */
	lethe_model_set_trainable(m, LETHE_GROUP_ATTENTION, 1, 0);
	lethe_model_set_trainable(m, LETHE_GROUP_NORMS, -1, 0);
	size_t n = lethe_model_num_params(m);
	float *before = malloc(n * sizeof(float));
	memcpy(before, lethe_model_params(m), n * sizeof(float));
	int32_t tok[16], tgt[16];
	make_batch(2, 8, c.vocab, tok, tgt, 9);
	lethe_batch batch = {2, 8, tok, tgt};
	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, NULL, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 0};
	float norm;
	ck_assert_int_eq(lethe_model_step(m, &opt, 1e-2f, 1.0f, 1.0f, &norm), 0);
	ck_assert(norm > 0);
	const float *p = lethe_model_params(m), *g = lethe_model_grads(m);
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		int frozen = ti->group == LETHE_GROUP_NORMS ||
		             (ti->group == LETHE_GROUP_ATTENTION && ti->layer == 1);
		ck_assert_int_eq(lethe_model_tensor_trainable(m, t), !frozen);
		int changed =
		    memcmp(p + ti->offset, before + ti->offset, ti->size * sizeof(float)) != 0;
		ck_assert_msg(changed == !frozen, "%s changed=%d frozen=%d", ti->name, changed,
		              frozen);
		if (frozen && ti->cols > 1)
			for (size_t k = 0; k < ti->size; k++)
				ck_assert_float_eq(g[ti->offset + k], 0.0f);
	}
	free(before);
	lethe_model_free(m);
}
END_TEST

START_TEST(overfits_one_batch)
{
	lethe_model_config c = {
	    .vocab = 270, .context = 16, .dim = 32, .layers = 2, .heads = 4, .tied = 1};
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 42), 0);
	int B = 4, T = 16;
	int32_t tok[64], tgt[64];
	make_batch(B, T, c.vocab, tok, tgt, 5);
	lethe_batch batch = {B, T, tok, tgt};
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.0f, 0};
	float loss = 100, first = 0;
	for (int step = 0; step < 300 && loss >= 0.05f; step++) {
		lethe_model_zero_grad(m);
		ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
		if (step == 0)
			first = loss;
		ck_assert_int_eq(lethe_model_backward(m), 0);
		ck_assert_int_eq(lethe_model_step(m, &opt, 1e-2f, 1.0f, 1.0f, NULL), 0);
	}
	ck_assert_msg(loss < 0.05f, "loss %g after 300 steps (first %g)", loss, first);
	ck_assert(first > 5.0f); /* about ln(270) at the start */
	lethe_model_free(m);
}
END_TEST

START_TEST(kv_cache_generation_matches_full_forward)
{
	lethe_set_threads(_i + 1); /* once with one thread, once with two */
	lethe_model_config c = {
	    .vocab = 270, .context = 24, .dim = 32, .layers = 2, .heads = 4, .tied = 0};
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 11), 0);
	float *p = lethe_model_params(m);
	for (size_t i = 0; i < lethe_model_num_params(m); i++) /* sharper logits: fewer near-ties */
		p[i] *= 8.0f;
	int32_t p0[] = {1, 2, 3, 4, 5}, p1[] = {9}, p2[] = {100, 101, 102, 103, 104, 105, 106, 107};
	const int32_t *prompts[] = {p0, p1, p2};
	int lens[] = {5, 1, 8};
	int32_t *out[3];
	int out_lens[3];
	ck_assert_int_eq(lethe_model_generate(m, prompts, lens, 3, 10, -1, out, out_lens), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(out_lens[i], 10);
		/* Full forward over prompt + generated tokens; the argmax at each position must be
		 * the next generated token. */
		int n = lens[i] + out_lens[i];
		int32_t seq[64], tgt[64];
		memcpy(seq, prompts[i], lens[i] * sizeof(int32_t));
		memcpy(seq + lens[i], out[i], out_lens[i] * sizeof(int32_t));
		for (int t = 0; t < n; t++)
			tgt[t] = 0;
		lethe_batch batch = {1, n, seq, tgt};
		ck_assert_int_eq(lethe_model_forward(m, &batch, 0, NULL, NULL, NULL), 0);
		const float *logits = lethe_model_logits(m);
		for (int t = lens[i] - 1; t < n - 1; t++) {
			const float *row = logits + (size_t)t * c.vocab;
			int best = 0;
			for (int j = 1; j < c.vocab; j++)
				if (row[j] > row[best])
					best = j;
			ck_assert_msg(best == seq[t + 1],
			              "prompt %d position %d: cache %d, full forward %d", i, t,
			              seq[t + 1], best);
		}
		free(out[i]);
	}
	/* A stop token ends a sequence without being emitted; the context bounds the rest. */
	int32_t *o2[1];
	int l2[1];
	ck_assert_int_eq(lethe_model_generate(m, prompts, lens, 1, 100, -1, o2, l2), 0);
	ck_assert_int_eq(l2[0], c.context - lens[0]);
	int stop = o2[0][3];
	free(o2[0]);
	ck_assert_int_eq(lethe_model_generate(m, prompts, lens, 1, 100, stop, o2, l2), 0);
	for (int k = 0; k < l2[0]; k++)
		ck_assert_int_ne(o2[0][k], stop);
	ck_assert_int_le(l2[0], 3);
	free(o2[0]);
	lethe_model_free(m);
	lethe_set_threads(1);
}
END_TEST

static void train_steps(lethe_model *m, int steps)
{
	int32_t tok[32], tgt[32];
	make_batch(2, 16, 270, tok, tgt, 77);
	lethe_batch batch = {2, 16, tok, tgt};
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 1};
	for (int s = 0; s < steps; s++) {
		lethe_model_zero_grad(m);
		ck_assert_int_eq(lethe_model_forward(m, &batch, 1, NULL, NULL, NULL), 0);
		ck_assert_int_eq(lethe_model_backward(m), 0);
		ck_assert_int_eq(
		    lethe_model_step(m, &opt,
		                     lethe_schedule_lr(LETHE_SCHEDULE_COSINE, 1e-3f, (uint64_t)s, 2,
		                                       (uint64_t)steps),
		                     1.0f, 1.0f, NULL),
		    0);
	}
}

START_TEST(same_seed_same_parameters)
{
	lethe_model_config c = {
	    .vocab = 270, .context = 16, .dim = 32, .layers = 2, .heads = 4, .tied = 1};
	lethe_model *a, *b, *d;
	ck_assert_int_eq(lethe_model_new(&a, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&b, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&d, &c, 6), 0);
	size_t bytes = lethe_model_num_params(a) * sizeof(float);
	ck_assert(memcmp(lethe_model_params(a), lethe_model_params(b), bytes) == 0);
	ck_assert(memcmp(lethe_model_params(a), lethe_model_params(d), bytes) != 0);
	train_steps(a, 5);
	train_steps(b, 5);
	ck_assert(memcmp(lethe_model_params(a), lethe_model_params(b), bytes) == 0);
	ck_assert_uint_eq(lethe_model_steps_taken(a), 5);
	/* Two threads: work split across the pool still gives bit-identical runs. */
	lethe_model *e, *f;
	lethe_set_threads(2);
	ck_assert_int_eq(lethe_model_new(&e, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&f, &c, 5), 0);
	train_steps(e, 5);
	train_steps(f, 5);
	ck_assert(memcmp(lethe_model_params(e), lethe_model_params(f), bytes) == 0);
	lethe_set_threads(1);
	lethe_model_free(e);
	lethe_model_free(f);
	lethe_model_free(a);
	lethe_model_free(b);
	lethe_model_free(d);
}
END_TEST

/* Threads of this process, from /proc (-1 where there is no /proc). */
static int process_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

START_TEST(thread_pool_joined_and_restarted)
{
	/* The pool starts workers on demand, joins them when the count is lowered or at
	 * lethe_stop_threads(), and starts them again with the same results. Thread counts are
	 * relative to the one after a loop with three threads: OpenBLAS may hold threads of its
	 * own. */
	lethe_model_config c = {
	    .vocab = 270, .context = 16, .dim = 32, .layers = 2, .heads = 4, .tied = 1};
	lethe_model *w, *a, *b;
	ck_assert_int_eq(lethe_model_new(&w, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&a, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&b, &c, 5), 0);
	size_t bytes = lethe_model_num_params(a) * sizeof(float);
	ck_assert_int_eq(lethe_set_threads(3), 3);
	train_steps(w, 1);
	lethe_model_free(w);
	int n3 = process_threads();
	ck_assert_int_eq(lethe_set_threads(2), 2); /* joins the third */
	if (n3 > 0)
		ck_assert_int_eq(process_threads(), n3 - 1);
	lethe_stop_threads();
	lethe_stop_threads(); /* twice is harmless */
	if (n3 > 0)
		ck_assert_int_eq(process_threads(), n3 - 2);
	ck_assert_int_eq(lethe_set_threads(0), 2); /* the setting is kept */
	train_steps(a, 2);                         /* the worker starts again */
	if (n3 > 0)
		ck_assert_int_eq(process_threads(), n3 - 1);
	lethe_stop_threads();
	train_steps(a, 2);
	lethe_set_threads(1);
	if (n3 > 0)
		ck_assert_int_eq(process_threads(), n3 - 2);
	lethe_set_threads(2);
	train_steps(b, 2); /* the same with one pool throughout */
	/* A child of fork() has none of the parent's workers: it starts its own. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		lethe_model *cm;
		int ok = lethe_model_new(&cm, &c, 5) == 0;
		if (ok)
			train_steps(cm, 1);
		lethe_stop_threads();
		_exit(ok ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	train_steps(b, 2);
	lethe_set_threads(1);
	ck_assert(memcmp(lethe_model_params(a), lethe_model_params(b), bytes) == 0);
	lethe_model_free(a);
	lethe_model_free(b);
}
END_TEST

START_TEST(per_sequence_nll_and_errors)
{
	lethe_model_config c = tiny_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 2), 0);
	int32_t tok[16], tgt[16];
	make_batch(2, 8, c.vocab, tok, tgt, 1);
	lethe_batch batch = {2, 8, tok, tgt};
	double nll[2];
	int counts[2];
	float loss;
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &loss, nll, counts), 0);
	ck_assert_int_eq(counts[0], 5); /* positions 2..6 */
	ck_assert_int_eq(counts[1], 4); /* positions 2..5: the last two are padding */
	ck_assert_double_eq_tol((nll[0] + nll[1]) / 9.0, loss, 1e-5);
	/* Each sequence alone gives the same NLL: padding and batch neighbours do not leak in. */
	lethe_batch one = {1, 8, tok + 8, tgt + 8};
	double nll1;
	int c1;
	ck_assert_int_eq(lethe_model_forward(m, &one, 0, NULL, &nll1, &c1), 0);
	ck_assert_double_eq_tol(nll1, nll[1], 1e-4);

	ck_assert_int_eq(lethe_model_backward(m), LETHE_EINVAL); /* not a training forward */
	lethe_batch long_batch = {1, 9, tok, tgt};
	ck_assert_int_eq(lethe_model_forward(m, &long_batch, 1, NULL, NULL, NULL), LETHE_EINVAL);
	ck_assert_str_eq(lethe_model_errmsg(m), "batch of 1 x 9 tokens: the context is 8");
	tok[3] = 999;
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, NULL, NULL, NULL), LETHE_EINVAL);
	tok[3] = 1;

	/* A non-finite gradient stops the step and leaves the parameters as they were. */
	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, NULL, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	lethe_model_grads(m)[10] = NAN;
	size_t bytes = lethe_model_num_params(m) * sizeof(float);
	float *before = malloc(bytes);
	memcpy(before, lethe_model_params(m), bytes);
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 0};
	float norm;
	ck_assert_int_eq(lethe_model_step(m, &opt, 1e-3f, 1.0f, 1.0f, &norm), LETHE_ENUMERIC);
	ck_assert(memcmp(before, lethe_model_params(m), bytes) == 0);
	ck_assert_uint_eq(lethe_model_steps_taken(m), 0);
	/* A non-finite parameter makes the loss non-finite: the forward refuses it. */
	lethe_model_params(m)[5] = INFINITY;
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), LETHE_ENUMERIC);
	free(before);
	lethe_model_free(m);
}
END_TEST

START_TEST(fast_expf)
{
	/* Within 4e-7 relative of expf over the range softmax and SwiGLU use; the edges as stated.
	 */
	double worst = 0;
	for (float x = -87.0f; x < 88.3f; x += 0.0137f) {
		double want = exp((double)x), rel = fabs(lethe_expf(x) - want) / want;
		worst = rel > worst ? rel : worst;
	}
	ck_assert_msg(worst < 4e-7, "worst relative error %g", worst);
	ck_assert_float_eq(lethe_expf(-100.0f), 0.0f);
	ck_assert(isinf(lethe_expf(100.0f)));
	ck_assert(isnan(lethe_expf(NAN)));
	ck_assert_float_eq(lethe_expf(0.0f), 1.0f);
}
END_TEST

START_TEST(presets_and_schedules)
{
	lethe_model_config c;
	ck_assert_int_eq(lethe_model_preset(&c, "tiny", 4096), 0);
	ck_assert_int_eq(c.dim, 128);
	ck_assert_int_eq(c.ff, 352);
	ck_assert_uint_eq(lethe_model_config_params(&c),
	                  4096 * 128 + 4 * (2 * 128 + 4 * 128 * 128 + 3 * 128 * 352) + 128);
	ck_assert_int_eq(lethe_model_preset(&c, "small", 4096), 0);
	ck_assert_int_eq(c.ff, 704);
	ck_assert_int_eq(lethe_model_preset(&c, "base", 8192), 0);
	ck_assert_int_eq(c.ff, 1376);
	ck_assert_int_eq(lethe_model_preset(&c, "huge", 8192), LETHE_ENOTFOUND);
	lethe_model_config bad = {.vocab = 300, .context = 8, .dim = 30, .layers = 1, .heads = 4};
	char err[128];
	ck_assert_int_eq(lethe_model_config_check(&bad, err, sizeof(err)), LETHE_EINVAL);
	ck_assert_str_eq(err, "heads must divide dim into an even head size (dim 30, heads 4)");

	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_COSINE, 1.0f, 0, 10, 110), 0.1f,
	                       1e-6f);
	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_COSINE, 1.0f, 9, 10, 110), 1.0f,
	                       1e-6f);
	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_COSINE, 1.0f, 60, 10, 110), 0.5f,
	                       1e-6f);
	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_COSINE, 1.0f, 110, 10, 110), 0.0f,
	                       1e-6f);
	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_LINEAR, 2.0f, 35, 10, 110), 1.5f,
	                       1e-6f);
	ck_assert_float_eq_tol(lethe_schedule_lr(LETHE_SCHEDULE_CONSTANT, 2.0f, 1000, 10, 110),
	                       2.0f, 1e-6f);
}
END_TEST

int main(void)
{
	lethe_set_threads(1);
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, gradients_match_finite_differences);
	tcase_add_test(tc, example_loss_weighting);
	tcase_add_test(tc, untied_head_and_frozen_groups);
	tcase_add_test(tc, overfits_one_batch);
	tcase_add_loop_test(tc, kv_cache_generation_matches_full_forward, 0, 2);
	tcase_add_test(tc, same_seed_same_parameters);
	tcase_add_test(tc, thread_pool_joined_and_restarted);
	tcase_add_test(tc, per_sequence_nll_and_errors);
	tcase_add_test(tc, presets_and_schedules);
	tcase_add_test(tc, fast_expf);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
