/*
 * check_lora.c: LoRA adapters on the model (engine/model/lora.c and layer.c's adapter kernels):
 * the adapters' gradients and the input gradient that flows through them against central finite
 * differences (with and without dropout, on a grouped-query model), a merged adapter giving the
 * unmerged logits, training that leaves the base bit for bit untouched, KV-cache generation
 * applying the adapter, refused options, and per-stage adapters: freezing (the parameters
 * become base + the adapter's delta, the base kept, a merge forgetting the frozen ones) and
 * O-LoRA's penalty (its value against a naive sum, its gradient against finite differences).
 * tests/lora.py holds the same arithmetic against PyTorch.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

/* Grouped-query attention (NH 4, NKV 2) so that k and v are narrower than q. */
static lethe_model_config gqa_config(int T)
{
	lethe_model_config c = {.vocab = 270,
	                        .context = T,
	                        .dim = 16,
	                        .layers = 2,
	                        .heads = 4,
	                        .kv_heads = 2,
	                        .ff = 24,
	                        .tied = 1};
	ck_assert_int_eq(lethe_model_config_check(&c, NULL, 0), 0);
	return c;
}

static void make_batch(int B, int T, int V, int32_t *tok, int32_t *tgt, unsigned seed)
{
	for (int i = 0; i < B * T; i++) {
		seed = seed * 1103515245u + 12345u;
		tok[i] = (int32_t)((seed >> 8) % (unsigned)V);
	}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			tgt[b * T + t] = (t < 2 || t + 1 >= T) ? -1 : tok[b * T + t + 1];
}

/* B = 0 at attach leaves nothing to check in A's gradient: fill B with values that matter. */
static void randomise_b(lethe_model *m, float scale, unsigned seed)
{
	float *p = lethe_model_lora_params(m);
	for (size_t t = 0; t < lethe_model_lora_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
		if (strstr(ti->name, "lora_B"))
			for (size_t k = 0; k < ti->size; k++) {
				seed = seed * 1103515245u + 12345u;
				p[ti->offset + k] =
				    scale * ((float)((seed >> 8) % 2001u) / 1000.0f - 1.0f);
			}
	}
}

/* The training loss with the dropout masks of training forward number calls + 1. */
static double train_loss(lethe_model *m, const lethe_batch *batch, uint64_t calls)
{
	float loss;
	lethe_model_lora_set_calls(m, calls);
	ck_assert_int_eq(lethe_model_forward(m, batch, 1, &loss, NULL, NULL), 0);
	return loss;
}

/* Central differences of step 1e-2 on float32, tolerance 2e-2 relative + 2e-4 absolute (as
 * check_model.c): every adapter tensor (6 entries each) and the embeddings, whose gradient is
 * the input gradient of the first layer, with the base weights scaled up so that the function
 * is far from linear. Loop index: 0 without dropout, 1 with dropout 0.25. */
START_TEST(gradients_match_finite_differences)
{
	lethe_model_config c = gqa_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 11), 0);
	float *p = lethe_model_params(m);
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		for (size_t k = 0; k < ti->size; k++)
			p[ti->offset + k] = ti->cols == 1
			                        ? 1.0f + 0.1f * (float)((k * 7) % 5) / 5.0f
			                        : p[ti->offset + k] * 10.0f;
	}
	lethe_lora_options o = {
	    .rank = 3, .alpha = 6.0f, .dropout = _i ? 0.25f : 0.0f, .targets = LETHE_LORA_ALL};
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 5), 0);
	ck_assert_uint_eq(lethe_model_lora_num_tensors(m), 2 * 7 * 2);
	randomise_b(m, 0.3f, 9);
	/* The embeddings trainable beside the adapter: their gradient is d(loss)/d(input). */
	lethe_model_set_trainable(m, LETHE_GROUP_EMBEDDINGS, -1, 1);
	int B = 2, T = 8;
	int32_t tok[16], tgt[16];
	make_batch(B, T, c.vocab, tok, tgt, 3);
	lethe_batch batch = {B, T, tok, tgt};
	lethe_model_zero_grad(m);
	train_loss(m, &batch, 40);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	float *lp = lethe_model_lora_params(m), *lg = lethe_model_lora_grads(m);
	int checked = 0;
	for (size_t t = 0; t < lethe_model_lora_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
		for (int k = 0; k < 6; k++) {
			size_t i = ti->offset + ((size_t)k * 2654435761u) % ti->size;
			float saved = lp[i], h = 1e-2f;
			lp[i] = saved + h;
			double up = train_loss(m, &batch, 40);
			lp[i] = saved - h;
			double down = train_loss(m, &batch, 40);
			lp[i] = saved;
			double numeric = (up - down) / (2.0 * h), analytic = lg[i];
			double tol = 2e-2 * fmax(fabs(analytic), fabs(numeric)) + 2e-4;
			ck_assert_msg(fabs(analytic - numeric) <= tol,
			              "%s[%zu]: analytic %.6g, numeric %.6g", ti->name,
			              i - ti->offset, analytic, numeric);
			checked += fabs(analytic) > 1e-3;
		}
	}
	ck_assert_int_ge(checked, 2 * 7 * 2 * 6 / 2); /* most gradients are not trivially 0 */
	float *g = lethe_model_grads(m);
	const lethe_tensor_info *wte = lethe_model_tensor(m, 0);
	for (int k = 0; k < 12; k++) {
		size_t i =
		    wte->offset + (size_t)tok[2 + k] * wte->cols + (size_t)(k * 5) % wte->cols;
		float saved = p[i], h = 1e-2f;
		p[i] = saved + h;
		double up = train_loss(m, &batch, 40);
		p[i] = saved - h;
		double down = train_loss(m, &batch, 40);
		p[i] = saved;
		double numeric = (up - down) / (2.0 * h), analytic = g[i];
		double tol = 2e-2 * fmax(fabs(analytic), fabs(numeric)) + 2e-4;
		ck_assert_msg(fabs(analytic - numeric) <= tol,
		              "wte[%zu]: analytic %.6g, numeric %.6g", i - wte->offset, analytic,
		              numeric);
	}
	lethe_model_free(m);
}
END_TEST

/* Merging W += (alpha/r) B A gives the unmerged logits to 1e-5 (max difference over the max
 * logit), and generation with the adapter equals generation from the merged model. */
START_TEST(merge_matches_unmerged)
{
	lethe_model_config c = gqa_config(16);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 3), 0);
	lethe_lora_options o = {.rank = 4, .alpha = 8.0f, .targets = LETHE_LORA_ALL};
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 1), 0);
	randomise_b(m, 0.5f, 4);
	int B = 2, T = 16;
	int32_t tok[32], tgt[32];
	make_batch(B, T, c.vocab, tok, tgt, 8);
	for (int i = 0; i < B * T; i++)
		tgt[i] = tok[(i + 1) % (B * T)]; /* every row: all logits compared */
	lethe_batch batch = {B, T, tok, tgt};
	float l1, l2, l0;
	size_t n = (size_t)B * T * c.vocab;
	float *before = malloc(n * sizeof(float));
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &l1, NULL, NULL), 0);
	memcpy(before, lethe_model_logits(m), n * sizeof(float));
	const int32_t p0[] = {5, 9, 33, 2}, p1[] = {100, 7};
	const int32_t *prompts[] = {p0, p1};
	int lens[] = {4, 2}, out_lens[2], merged_lens[2];
	int32_t *out[2], *merged[2];
	ck_assert_int_eq(lethe_model_generate(m, prompts, lens, 2, 8, -1, out, out_lens), 0);

	/* The adapter changes the model (B is not zero): the base alone gives another loss. */
	lethe_model *base;
	ck_assert_int_eq(lethe_model_new(&base, &c, 3), 0);
	ck_assert_int_eq(lethe_model_forward(base, &batch, 0, &l0, NULL, NULL), 0);
	ck_assert_msg(fabsf(l0 - l1) > 1e-3f, "the adapter does not change the loss");
	lethe_model_free(base);

	ck_assert_int_eq(lethe_model_lora_merge(m), 0);
	ck_assert_ptr_null(lethe_model_lora(m));
	ck_assert_int_eq(lethe_model_forward(m, &batch, 0, &l2, NULL, NULL), 0);
	const float *after = lethe_model_logits(m);
	double diff = 0, mx = 0;
	for (size_t i = 0; i < n; i++) {
		diff = fmax(diff, fabs((double)after[i] - before[i]));
		mx = fmax(mx, fabs((double)before[i]));
	}
	ck_assert_msg(diff <= 1e-5 * mx, "merged logits differ by %.3g (max logit %.3g)", diff, mx);
	ck_assert_int_eq(lethe_model_generate(m, prompts, lens, 2, 8, -1, merged, merged_lens), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(out_lens[i], merged_lens[i]);
		ck_assert_mem_eq(out[i], merged[i], (size_t)out_lens[i] * sizeof(int32_t));
		free(out[i]);
		free(merged[i]);
	}
	ck_assert_int_eq(lethe_model_lora_merge(m), LETHE_EINVAL); /* nothing left to merge */
	free(before);
	lethe_model_free(m);
}
END_TEST

/* Training with the adapter (merge off) lowers the loss and leaves every base parameter exactly
 * as it was; detaching restores the base's trainable flags. */
START_TEST(base_untouched_by_training)
{
	lethe_model_config c = gqa_config(16);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 21), 0);
	lethe_model_set_trainable(m, LETHE_GROUP_NORMS, -1, 0);
	size_t np = lethe_model_num_params(m);
	float *initial = malloc(np * sizeof(float));
	memcpy(initial, lethe_model_params(m), np * sizeof(float));
	lethe_lora_options o = {
	    .rank = 4, .alpha = 8.0f, .dropout = 0.1f, .targets = LETHE_LORA_Q | LETHE_LORA_V};
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 2), 0);
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++)
		ck_assert(!lethe_model_tensor_trainable(m, t));
	int B = 2, T = 16;
	int32_t tok[32], tgt[32];
	make_batch(B, T, c.vocab, tok, tgt, 5);
	lethe_batch batch = {B, T, tok, tgt};
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 1};
	float first = 0, loss = 0, norm;
	for (int s = 0; s < 30; s++) {
		lethe_model_zero_grad(m);
		ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
		ck_assert_int_eq(lethe_model_backward(m), 0);
		ck_assert_int_eq(lethe_model_step(m, &opt, 1e-2f, 1.0f, 1.0f, &norm), 0);
		if (s == 0)
			first = loss;
	}
	ck_assert_msg(loss < first - 0.1f, "the adapter did not learn: %g -> %g", first, loss);
	ck_assert_uint_eq(lethe_model_lora_calls(m), 30);
	ck_assert_mem_eq(lethe_model_params(m), initial, np * sizeof(float));
	lethe_model_lora_detach(m);
	ck_assert_ptr_null(lethe_model_lora_params(m));
	ck_assert(lethe_model_tensor_trainable(m, 0));  /* wte, as before attaching */
	ck_assert(!lethe_model_tensor_trainable(m, 1)); /* layers.0.attn_norm, frozen before */
	free(initial);
	lethe_model_free(m);
}
END_TEST

START_TEST(bad_options_refused)
{
	lethe_model_config c = gqa_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 1), 0);
	lethe_lora_options bad[] = {
	    {.rank = 0, .alpha = 1, .targets = LETHE_LORA_Q},
	    {.rank = 2, .alpha = 0, .targets = LETHE_LORA_Q},
	    {.rank = 2, .alpha = 1, .dropout = 1.0f, .targets = LETHE_LORA_Q},
	    {.rank = 2, .alpha = 1, .targets = 0},
	    {.rank = 2, .alpha = 1, .targets = 0x80},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(lethe_model_lora_attach(m, &bad[i], 1), LETHE_EINVAL);
		ck_assert_ptr_nonnull(strstr(lethe_model_errmsg(m), "rank"));
		ck_assert_ptr_null(lethe_model_lora(m));
	}
	lethe_lora_options ok = {.rank = 2, .alpha = 1, .targets = LETHE_LORA_DOWN};
	ck_assert_int_eq(lethe_model_lora_attach(m, &ok, 1), 0);
	ck_assert_int_eq(lethe_model_lora_attach(m, &ok, 1), LETHE_EINVAL);
	/* down: A (2, FF 24), B (C 16, 2) per layer. */
	ck_assert_uint_eq(lethe_model_lora_num_params(m), 2 * (2 * 24 + 16 * 2));
	ck_assert_str_eq(lethe_model_lora_tensor(m, 3)->name, "layers.1.down.lora_B");
	lethe_model_free(m);
}
END_TEST

/* Freezing an adapter adds exactly its merge delta to the parameters and keeps the base; a
 * second adapter then attaches fresh; a merge folds it in and forgets the frozen one. */
START_TEST(freeze_keeps_base_and_adapter)
{
	lethe_model_config c = gqa_config(8);
	lethe_model *m, *ref;
	ck_assert_int_eq(lethe_model_new(&m, &c, 5), 0);
	ck_assert_int_eq(lethe_model_new(&ref, &c, 5), 0);
	size_t np = lethe_model_num_params(m);
	float *base = malloc(np * sizeof(float));
	memcpy(base, lethe_model_params(m), np * sizeof(float));
	lethe_lora_options o = {.rank = 3, .alpha = 6, .targets = LETHE_LORA_ALL};
	ck_assert_int_eq(lethe_model_lora_freeze(m, 1), LETHE_EINVAL);
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 21), 0);
	ck_assert_int_eq(lethe_model_lora_attach(ref, &o, 21), 0);
	randomise_b(m, 0.3f, 4);
	randomise_b(ref, 0.3f, 4);
	size_t n = lethe_model_lora_num_params(m);
	float *a1 = malloc(n * sizeof(float));
	memcpy(a1, lethe_model_lora_params(m), n * sizeof(float));
	ck_assert_int_eq(lethe_model_lora_freeze(m, 7), 0);
	ck_assert_int_eq(lethe_model_lora_merge(ref), 0);
	ck_assert_ptr_null(lethe_model_lora(m));
	ck_assert_uint_eq(lethe_model_lora_num_frozen(m), 1);
	ck_assert_mem_eq(lethe_model_params(m), lethe_model_params(ref), np * sizeof(float));
	ck_assert_mem_eq(lethe_model_lora_base(m), base, np * sizeof(float));
	lethe_lora_options fo;
	int64_t tag = 0;
	size_t fn = 0;
	const float *f = lethe_model_lora_frozen(m, 0, &fo, &tag, &fn);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tag, 7);
	ck_assert_uint_eq(fn, n);
	ck_assert_int_eq(fo.rank, 3);
	ck_assert_mem_eq(f, a1, n * sizeof(float));
	ck_assert_ptr_null(lethe_model_lora_frozen(m, 1, NULL, NULL, NULL));
	/* A second adapter: fresh, and the frozen copy stays as it was. */
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 22), 0);
	ck_assert_int_ne(memcmp(lethe_model_lora_params(m), a1, n * sizeof(float)), 0);
	ck_assert_mem_eq(lethe_model_lora_frozen(m, 0, NULL, NULL, NULL), a1, n * sizeof(float));
	ck_assert_int_eq(lethe_model_lora_merge(m), 0);
	ck_assert_uint_eq(lethe_model_lora_num_frozen(m), 0);
	ck_assert_ptr_eq(lethe_model_lora_base(m), lethe_model_params(m));
	free(a1);
	free(base);
	lethe_model_free(ref);
	lethe_model_free(m);
}
END_TEST

/* O-LoRA: lambda sum over frozen adapters and targets of sum_jk |(A_i A^T)_jk|, against a naive
 * sum over the tensors; its gradient with respect to the attached adapter's A against central
 * differences (step 1e-3, tolerance 1e-2 relative + 1e-3 absolute; the penalty is piecewise
 * linear in A, and at these seeded values no entry of A_i A^T lies within a step of a kink);
 * B gets no gradient; no frozen adapter gives 0. */
START_TEST(orthogonal_penalty_gradient)
{
	lethe_model_config c = gqa_config(8);
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 9), 0);
	lethe_lora_options o = {.rank = 2, .alpha = 4, .targets = LETHE_LORA_Q | LETHE_LORA_DOWN};
	const float lambda = 0.7f;
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 31), 0);
	ck_assert(lethe_model_lora_orthogonal(m, lambda, 0) == 0.0);
	ck_assert_int_eq(lethe_model_lora_freeze(m, 1), 0);
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 32), 0);
	ck_assert_int_eq(lethe_model_lora_freeze(m, 2), 0);
	ck_assert_int_eq(lethe_model_lora_attach(m, &o, 33), 0);
	size_t n = lethe_model_lora_num_params(m);
	float *p = lethe_model_lora_params(m), *g = lethe_model_lora_grads(m);
	/* The naive value. */
	double want = 0;
	for (size_t i = 0; i < 2; i++) {
		const float *fp = lethe_model_lora_frozen(m, i, NULL, NULL, NULL);
		for (size_t t = 0; t < lethe_model_lora_num_tensors(m); t += 2) {
			const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
			for (int j = 0; j < ti->rows; j++)
				for (int k = 0; k < ti->rows; k++) {
					double d = 0;
					for (int q = 0; q < ti->cols; q++)
						d += (double)
						         fp[ti->offset + (size_t)j * ti->cols + q] *
						     p[ti->offset + (size_t)k * ti->cols + q];
					want += fabs(d);
				}
		}
	}
	want *= lambda;
	double got = lethe_model_lora_orthogonal(m, lambda, 0);
	ck_assert_msg(fabs(got - want) <= 1e-9 * want, "penalty %.12g, naive %.12g", got, want);
	ck_assert(want > 0);
	memset(g, 0, n * sizeof(float));
	const float gs = 2.0f;
	ck_assert(lethe_model_lora_orthogonal(m, lambda, gs) == got);
	int checked = 0;
	for (size_t t = 0; t < lethe_model_lora_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
		int is_b = strstr(ti->name, "lora_B") != NULL;
		for (size_t e = 0; e < ti->size; e += ti->size / 5 + 1) {
			size_t i = ti->offset + e;
			if (is_b) {
				ck_assert(g[i] == 0.0f);
				continue;
			}
			float keep = p[i], h = 1e-3f;
			p[i] = keep + h;
			double up = lethe_model_lora_orthogonal(m, lambda, 0);
			p[i] = keep - h;
			double down = lethe_model_lora_orthogonal(m, lambda, 0);
			p[i] = keep;
			double fd = gs * (up - down) / (2.0 * h);
			ck_assert_msg(fabs(fd - g[i]) <= 1e-2 * fabs(fd) + 1e-3,
			              "%s[%zu]: analytic %g, finite differences %g", ti->name, e,
			              (double)g[i], fd);
			checked++;
		}
	}
	ck_assert_int_gt(checked, 10);
	lethe_model_free(m);
}
END_TEST

int main(void)
{
	lethe_set_threads(1);
	Suite *s = suite_create("lora");
	TCase *tc = tcase_create("lora");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, gradients_match_finite_differences, 0, 2);
	tcase_add_test(tc, merge_matches_unmerged);
	tcase_add_test(tc, base_untouched_by_training);
	tcase_add_test(tc, bad_options_refused);
	tcase_add_test(tc, freeze_keeps_base_and_adapter);
	tcase_add_test(tc, orthogonal_penalty_gradient);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
