/*
 * check_methods.c: the methods against forgetting (engine/run/methods.c, replay.c;
 * docs/methods.md): the L2, EWC and LwF penalties' gradients against central finite differences
 * on a tiny model, lambda 0 adding nothing, freezing by layer and reset_optimizer at a stage's
 * start, and the replay memory: deterministic under its seed, never more than N per task, every
 * distinct example equally likely to be kept (algorithm R), its state saved and restored exactly.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "run/methods.h"
#include "run/replay.h"

static lethe_model_config tiny_config(void)
{
	lethe_model_config c = {
	    .vocab = 270, .context = 8, .dim = 16, .layers = 2, .heads = 2, .ff = 24, .tied = 1};
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

/* Entries of the parameter block to probe: a few of every tensor. */
static size_t probe(const lethe_model *m, size_t t, int k)
{
	const lethe_tensor_info *ti = lethe_model_tensor(m, t);
	return ti->offset + ((size_t)k * 2654435761u + 17) % ti->size;
}

/* The L2 and EWC penalties: the gradient penalty() adds against central differences of its
 * value. The penalty is a quadratic, so differences in double of step 1e-2 are exact up to
 * float rounding: |analytic - numeric| <= 1e-3 * max(|a|, |n|) + 1e-6. */
static void check_quadratic(lethe_reg_kind kind)
{
	lethe_model_config c = tiny_config();
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 3), 0);
	lethe_train_settings ts = {0};
	ts.regularize = (lethe_regularizer){kind, 3.5, 4, 1.0, 2.0};
	lethe_methods ms = {0};
	ck_assert_int_eq(lethe_methods__stage_begin(&ms, m, &ts), 0);
	size_t n = lethe_model_num_params(m);
	float *p = lethe_model_params(m);
	if (kind == LETHE_REG_EWC) {
		ms.fisher = malloc(n * sizeof(float));
		for (size_t i = 0; i < n; i++)
			ms.fisher[i] = 0.1f + (float)((i * 7919) % 13) / 4.0f;
	}
	/* Move away from the anchor, then freeze one tensor: it must get nothing. */
	for (size_t i = 0; i < n; i++)
		p[i] += 0.05f * (float)((int)((i * 31) % 11) - 5);
	lethe_model_set_trainable(m, LETHE_GROUP_MLP, 1, 0);
	lethe_model_zero_grad(m);
	double value = lethe_methods__penalty(&ms, m, &ts, 2.0f);
	ck_assert(value > 0);
	const float *g = lethe_model_grads(m);
	int checked = 0, frozen = 0;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		for (int k = 0; k < 4; k++) {
			size_t i = probe(m, t, k);
			if (!lethe_model_tensor_trainable(m, t)) {
				ck_assert_msg(g[i] == 0.0f, "frozen %s has a gradient",
				              lethe_model_tensor(m, t)->name);
				frozen++;
				continue;
			}
			float saved = p[i], h = 1e-2f;
			p[i] = saved + h;
			double up = lethe_methods__penalty(&ms, m, &ts, 0);
			p[i] = saved - h;
			double down = lethe_methods__penalty(&ms, m, &ts, 0);
			p[i] = saved;
			/* grad_scale 2 doubles what is added. */
			double numeric = (up - down) / (2.0 * h), analytic = g[i] / 2.0;
			double tol = 1e-3 * fmax(fabs(analytic), fabs(numeric)) + 1e-6;
			ck_assert_msg(fabs(analytic - numeric) <= tol,
			              "%s[%zu]: analytic %.8g, numeric %.8g",
			              lethe_model_tensor(m, t)->name, i, analytic, numeric);
			checked++;
		}
	}
	ck_assert_int_gt(checked, 20);
	ck_assert_int_gt(frozen, 0);
	/* lambda 0: nothing added, nothing computed. */
	ts.regularize.lambda = 0;
	lethe_model_zero_grad(m);
	ck_assert(lethe_methods__penalty(&ms, m, &ts, 1.0f) == 0.0);
	for (size_t i = 0; i < n; i++)
		ck_assert(g[i] == 0.0f);
	lethe_methods__clear(&ms);
	lethe_model_free(m);
}

START_TEST(l2_gradient_matches_finite_differences)
{
	check_quadratic(LETHE_REG_L2);
}
END_TEST

START_TEST(ewc_gradient_matches_finite_differences)
{
	check_quadratic(LETHE_REG_EWC);
}
END_TEST

/* The LwF term through the whole model: J(theta) = task loss + lambda T^2 mean KL, the teacher
 * being the model at the stage's start. backward_with() gives dJ/dtheta; central differences of
 * step 1e-2 on the float32 model: |analytic - numeric| <= 3e-2 * max(|a|, |n|) + 3e-4 (the
 * tolerance of check_model's gradient test). */
static double lwf_objective(lethe_methods *ms, lethe_model *m, const lethe_train_settings *ts,
                            const lethe_batch *b, int train)
{
	float loss;
	double pen;
	ck_assert_int_eq(lethe_methods__lwf_teacher(ms, b), 0);
	ck_assert_int_eq(lethe_model_forward(m, b, train, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_methods__lwf_penalty(ms, m, ts, &pen), 0);
	return (double)loss + pen;
}

START_TEST(lwf_gradient_matches_finite_differences)
{
	lethe_model_config c = tiny_config();
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 9), 0);
	float *p = lethe_model_params(m);
	size_t n = lethe_model_num_params(m);
	for (size_t i = 0; i < n; i++)
		p[i] *= 10.0f; /* far from linear, as check_model does */
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++)
		if (lethe_model_tensor(m, t)->cols == 1)
			for (size_t k = 0; k < lethe_model_tensor(m, t)->size; k++)
				p[lethe_model_tensor(m, t)->offset + k] = 1.0f;
	lethe_train_settings ts = {0};
	ts.regularize = (lethe_regularizer){LETHE_REG_LWF, 0.7, 4, 1.0, 2.0};
	lethe_methods ms = {0};
	ck_assert_int_eq(lethe_methods__stage_begin(&ms, m, &ts), 0);
	ck_assert_ptr_nonnull(ms.teacher);
	/* At the teacher's own parameters the KL is 0; move away so that it is not. */
	for (size_t i = 0; i < n; i++)
		p[i] += 0.3f * (float)((int)((i * 37) % 9) - 4) / 4.0f;
	int B = 2, T = 8;
	int32_t tok[16], tgt[16];
	make_batch(B, T, c.vocab, tok, tgt, 5);
	lethe_batch batch = {B, T, tok, tgt};
	lethe_model_zero_grad(m);
	double pen;
	float loss;
	ck_assert_int_eq(lethe_methods__lwf_teacher(&ms, &batch), 0);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_methods__lwf_penalty(&ms, m, &ts, &pen), 0);
	ck_assert_msg(pen > 1e-3, "LwF penalty %g: the test needs one", pen);
	ck_assert_int_eq(lethe_model_backward_with(m, ms.dlogits), 0);
	size_t bytes = n * sizeof(float);
	float *g = malloc(bytes);
	memcpy(g, lethe_model_grads(m), bytes);
	int checked = 0;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		for (int k = 0; k < 4; k++) {
			size_t i = ti->offset;
			if (ti->group == LETHE_GROUP_EMBEDDINGS)
				i += (size_t)tok[2 + k] * ti->cols + (size_t)(k * 5) % ti->cols;
			else
				i = probe(m, t, k);
			float saved = p[i], h = 1e-2f;
			p[i] = saved + h;
			double up = lwf_objective(&ms, m, &ts, &batch, 0);
			p[i] = saved - h;
			double down = lwf_objective(&ms, m, &ts, &batch, 0);
			p[i] = saved;
			double numeric = (up - down) / (2.0 * h), analytic = g[i];
			double tol = 3e-2 * fmax(fabs(analytic), fabs(numeric)) + 3e-4;
			ck_assert_msg(fabs(analytic - numeric) <= tol,
			              "%s[%zu]: analytic %.6g, numeric %.6g", ti->name,
			              i - ti->offset, analytic, numeric);
			checked++;
		}
	}
	ck_assert_int_eq(checked, 4 * (int)lethe_model_num_tensors(m));
	/* The penalty's own part is not negligible: without it the gradient differs. */
	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &batch, 1, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	double diff = 0, norm = 0;
	for (size_t i = 0; i < n; i++) {
		diff += fabs((double)g[i] - lethe_model_grads(m)[i]);
		norm += fabs((double)g[i]);
	}
	ck_assert_msg(diff > 1e-3 * norm, "LwF added nothing to the gradient");
	free(g);
	lethe_methods__clear(&ms);
	lethe_model_free(m);
}
END_TEST

START_TEST(stage_begin_freezes_layers_and_resets_the_optimizer)
{
	lethe_model_config c = tiny_config();
	lethe_model *m;
	ck_assert_int_eq(lethe_model_new(&m, &c, 3), 0);
	/* One step so that the moments exist. */
	int32_t tok[16], tgt[16];
	make_batch(2, 8, c.vocab, tok, tgt, 1);
	lethe_batch b = {2, 8, tok, tgt};
	float loss, norm;
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.0f, 0};
	lethe_model_zero_grad(m);
	ck_assert_int_eq(lethe_model_forward(m, &b, 1, &loss, NULL, NULL), 0);
	ck_assert_int_eq(lethe_model_backward(m), 0);
	ck_assert_int_eq(lethe_model_step(m, &opt, 1e-3f, 1.0f, 1.0f, &norm), 0);
	ck_assert_uint_eq(lethe_model_steps_taken(m), 1);
	lethe_train_settings ts = {0};
	ts.freeze = 1u << LETHE_GROUP_EMBEDDINGS;
	ts.freeze_layers[0] = 1ull << 1; /* layer 1 */
	lethe_methods ms = {0};
	ck_assert_int_eq(lethe_methods__stage_begin(&ms, m, &ts), 0);
	ck_assert_uint_eq(lethe_model_steps_taken(m), 1); /* no reset asked */
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		int want = !(ti->layer == 1 || ti->group == LETHE_GROUP_EMBEDDINGS);
		ck_assert_msg(lethe_model_tensor_trainable(m, t) == want, "%s trainable %d",
		              ti->name, lethe_model_tensor_trainable(m, t));
	}
	ts.reset_optimizer = 1;
	ts.freeze = 0;
	ts.freeze_layers[0] = 0;
	ck_assert_int_eq(lethe_methods__stage_begin(&ms, m, &ts), 0);
	ck_assert_uint_eq(lethe_model_steps_taken(m), 0);
	for (size_t i = 0; i < lethe_model_num_params(m); i++)
		ck_assert(lethe_model_adam_m(m)[i] == 0.0f && lethe_model_adam_v(m)[i] == 0.0f);
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++)
		ck_assert(lethe_model_tensor_trainable(m, t));
	lethe_methods__clear(&ms);
	lethe_model_free(m);
}
END_TEST

/* A stream of draws with repeats, as a stage makes them: task t, example (k * 7 + t) % n. */
static void fill(lethe_replay_mem *rm, const size_t *sizes, int draws)
{
	for (int k = 0; k < draws; k++)
		for (size_t t = 0; t < rm->n_tasks; t++)
			lethe_replay__offer(rm, t, (uint64_t)((size_t)k * 7 + t) % sizes[t]);
}

START_TEST(replay_memory_bounded_and_deterministic)
{
	size_t sizes[3] = {50, 3, 1000};
	lethe_replay_mem a, b, c;
	ck_assert_int_eq(lethe_replay__init(&a, 3, sizes, 10, 42), 0);
	ck_assert_int_eq(lethe_replay__init(&b, 3, sizes, 10, 42), 0);
	ck_assert_int_eq(lethe_replay__init(&c, 3, sizes, 10, 43), 0);
	fill(&a, sizes, 400);
	fill(&b, sizes, 400);
	fill(&c, sizes, 400);
	/* At most N per task, distinct, each a valid index; a task with fewer holds all it has. */
	for (size_t t = 0; t < 3; t++) {
		ck_assert_uint_le(a.count[t], 10);
		ck_assert_uint_eq(a.count[t], sizes[t] < 10 ? sizes[t] : 10);
		ck_assert_uint_eq(a.seen[t], sizes[t] < 400 ? sizes[t] : 400);
		for (uint64_t i = 0; i < a.count[t]; i++) {
			ck_assert_uint_lt(a.items[t * 10 + i], sizes[t]);
			for (uint64_t j = 0; j < i; j++)
				ck_assert_uint_ne(a.items[t * 10 + i], a.items[t * 10 + j]);
		}
	}
	/* The same seed, the same memory; another seed, another one. */
	ck_assert_mem_eq(a.items, b.items, 30 * sizeof(uint64_t));
	ck_assert(memcmp(a.items, c.items, 30 * sizeof(uint64_t)) != 0);
	/* Nothing is replayed from a task whose stage has not finished. */
	ck_assert_uint_eq(lethe_replay__available(&a), 0);
	lethe_replay__finish(&a, 0);
	lethe_replay__finish(&a, 1);
	ck_assert_uint_eq(lethe_replay__available(&a), 13);
	for (int k = 0; k < 200; k++) {
		size_t t;
		uint64_t i;
		lethe_replay__draw(&a, &t, &i);
		ck_assert(t == 0 || t == 1);
		ck_assert_uint_lt(i, sizes[t]);
	}
	/* Save and load: the copy continues exactly as the original. */
	size_t n = lethe_replay__state_size(&a);
	uint64_t *state = malloc(n * sizeof(uint64_t));
	lethe_replay__save(&a, state);
	lethe_replay_mem d;
	ck_assert_int_eq(lethe_replay__init(&d, 3, sizes, 10, 7), 0);
	ck_assert_int_eq(lethe_replay__load(&d, state, n), 0);
	fill(&a, sizes, 50);
	fill(&d, sizes, 50);
	for (int k = 0; k < 20; k++) {
		size_t t1, t2;
		uint64_t i1, i2;
		lethe_replay__draw(&a, &t1, &i1);
		lethe_replay__draw(&d, &t2, &i2);
		ck_assert(t1 == t2 && i1 == i2);
	}
	ck_assert_mem_eq(a.items, d.items, 30 * sizeof(uint64_t));
	/* A state of another shape, or with an index out of range, is refused. */
	ck_assert_int_eq(lethe_replay__load(&d, state, n - 1), -1);
	state[3 + 3] = 50; /* task 0's first item: one past its examples */
	ck_assert_int_eq(lethe_replay__load(&d, state, n), -1);
	free(state);
	lethe_replay__clear(&a);
	lethe_replay__clear(&b);
	lethe_replay__clear(&c);
	lethe_replay__clear(&d);
}
END_TEST

START_TEST(replay_keeps_every_example_equally_often)
{
	/* Algorithm R over 20 distinct examples into 5 slots: each kept with probability 1/4.
	 * Over 4000 seeds each count is Binomial(4000, 0.25): mean 1000, sd 27.4; 5 sd is 137. */
	size_t sizes[1] = {20};
	int kept[20] = {0};
	for (uint64_t seed = 0; seed < 4000; seed++) {
		lethe_replay_mem rm;
		ck_assert_int_eq(lethe_replay__init(&rm, 1, sizes, 5, seed), 0);
		for (uint64_t i = 0; i < 20; i++)
			lethe_replay__offer(&rm, 0, i);
		for (int k = 0; k < 5; k++)
			kept[rm.items[k]]++;
		lethe_replay__clear(&rm);
	}
	for (int i = 0; i < 20; i++)
		ck_assert_msg(abs(kept[i] - 1000) <= 137, "example %d kept %d times of 4000", i,
		              kept[i]);
}
END_TEST

START_TEST(replay_count_rounds_per_batch)
{
	/* floor((m+1) R B) - floor(m R B): the stage's fraction is R up to one sequence. */
	ck_assert_int_eq(lethe_replay__count(0.25, 16, 0), 4);
	ck_assert_int_eq(lethe_replay__count(0.25, 16, 7), 4);
	ck_assert_int_eq(lethe_replay__count(0.0, 16, 3), 0);
	ck_assert_int_eq(lethe_replay__count(1.0, 16, 3), 16);
	long total = 0;
	for (uint64_t m = 0; m < 10; m++) {
		long k = lethe_replay__count(0.05, 4, m); /* 0.2 per batch */
		ck_assert(k == 0 || k == 1);
		total += k;
	}
	ck_assert_int_eq(total, 2);
}
END_TEST

int main(void)
{
	lethe_set_threads(1);
	Suite *s = suite_create("methods");
	TCase *tc = tcase_create("methods");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, l2_gradient_matches_finite_differences);
	tcase_add_test(tc, ewc_gradient_matches_finite_differences);
	tcase_add_test(tc, lwf_gradient_matches_finite_differences);
	tcase_add_test(tc, stage_begin_freezes_layers_and_resets_the_optimizer);
	tcase_add_test(tc, replay_memory_bounded_and_deterministic);
	tcase_add_test(tc, replay_keeps_every_example_equally_often);
	tcase_add_test(tc, replay_count_rounds_per_batch);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	lethe_stop_threads();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
