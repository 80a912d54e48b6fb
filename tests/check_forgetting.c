/*
 * check_forgetting.c: the forgetting measures on the worked example of the project's issue
 * (three tasks, a baseline and three stages) and on edge cases: lower-is-better metrics, missing
 * cells, no baseline.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include <lethe/forgetting.h>
#include <lethe/lethe.h>
#include <lethe/plugin.h>

static const double R[] = {
    0.10, 0.12, 0.09, /* baseline */
    0.90, 0.20, 0.15, /* after stage 1 (trains task 1) */
    0.92, 0.85, 0.25, /* after stage 2 (task 2) */
    0.75, 0.88, 0.80, /* after stage 3 (task 3) */
};
static const int trained[] = {1, 2, 3};

START_TEST(worked_example)
{
	lethe_forgetting f;
	ck_assert_int_eq(lethe_forgetting_compute(&f, R, 4, 3, 1, trained, NULL), 0);
	ck_assert_double_eq_tol(f.acc, 0.81, 1e-12);
	ck_assert_double_eq_tol(f.bwt, -0.06, 1e-12);
	ck_assert_double_eq_tol(f.fwt, 0.12, 1e-12);
	ck_assert_double_eq_tol(f.chaudhry, 0.07, 1e-12);
	ck_assert_double_eq_tol(f.forgetting[0], 0.15, 1e-12);
	ck_assert_double_eq_tol(f.forgetting[1], -0.03, 1e-12);
	ck_assert(isnan(f.forgetting[2])); /* trained by the last stage: missing, not 0 */
	ck_assert_double_eq_tol(f.learning[2], 0.80, 1e-12);
	lethe_forgetting_free(&f);
}
END_TEST

START_TEST(lower_is_better_and_missing)
{
	/* Perplexity: the same matrix negated must give the same measures (signs as "higher"). */
	double P[12];
	for (int i = 0; i < 12; i++)
		P[i] = -R[i];
	int lower[] = {1, 1, 1};
	lethe_forgetting f;
	ck_assert_int_eq(lethe_forgetting_compute(&f, P, 4, 3, 1, trained, lower), 0);
	ck_assert_double_eq_tol(f.bwt, -0.06, 1e-12);
	ck_assert_double_eq_tol(f.chaudhry, 0.07, 1e-12);
	ck_assert_double_eq_tol(f.forgetting[0], 0.15, 1e-12);
	lethe_forgetting_free(&f);
	/* A task never evaluated at the end, a task never trained, and no baseline. */
	double Q[] = {0.9, 0.1, 0.5, 0.2, NAN, 0.3};
	int tr[] = {0, -1};
	ck_assert_int_eq(lethe_forgetting_compute(&f, Q, 3, 2, 0, tr, NULL), 0);
	ck_assert(isnan(f.forgetting[0])); /* its final score is missing */
	ck_assert(isnan(f.forgetting[1]));
	ck_assert(isnan(f.fwt)); /* needs a baseline */
	ck_assert_double_eq_tol(f.acc, 0.3, 1e-12);
	lethe_forgetting_free(&f);
}
END_TEST

START_TEST(one_scale_per_task_figures)
{
	/* The worked example with task 2 on 0-100 (BLEU-like): divided by its scale, every
	 * measure is the worked example's; per task the new figures by hand. */
	double S[12];
	for (int i = 0; i < 12; i++)
		S[i] = i % 3 == 1 ? 100.0 * R[i] : R[i];
	const double scale[] = {1, 100, 1};
	lethe_forgetting f;
	ck_assert_int_eq(lethe_forgetting_compute_scaled(&f, S, 4, 3, 1, trained, NULL, scale), 0);
	ck_assert_double_eq_tol(f.acc, 0.81, 1e-12);
	ck_assert_double_eq_tol(f.bwt, -0.06, 1e-12);
	ck_assert_double_eq_tol(f.fwt, 0.12, 1e-12);
	ck_assert_double_eq(f.scale[1], 100.0);
	ck_assert_double_eq_tol(f.final[1], 0.88, 1e-12);
	/* relative forgetting: 0.15 / 0.90; task 2 improved: -0.03 / 0.85 */
	ck_assert_double_eq_tol(f.relative[0], 0.15 / 0.90, 1e-12);
	ck_assert_double_eq_tol(f.relative[1], -0.03 / 0.85, 1e-12);
	ck_assert(isnan(f.relative[2]));
	/* chance-normalised against the baseline row: (0.75 - 0.10) / 0.90 */
	ck_assert_double_eq_tol(f.normalised[0], 0.65 / 0.90, 1e-12);
	ck_assert_double_eq_tol(f.normalised[2], (0.80 - 0.09) / 0.91, 1e-12);
	/* per-task forward transfer: before its stage minus the baseline; none for task 1 */
	ck_assert(isnan(f.forward[0]));
	ck_assert_double_eq_tol(f.forward[1], 0.20 - 0.12, 1e-12);
	ck_assert_double_eq_tol(f.forward[2], 0.25 - 0.09, 1e-12);
	lethe_forgetting_free(&f);
	/* Unscaled, the same matrix averages 0.75, 88 and 0.80: the mixed scale the issue shows. */
	ck_assert_int_eq(lethe_forgetting_compute(&f, S, 4, 3, 1, trained, NULL), 0);
	ck_assert_double_eq_tol(f.acc, (0.75 + 88 + 0.80) / 3, 1e-12);
	ck_assert_double_eq(f.scale[1], 1.0);
	lethe_forgetting_free(&f);
}
END_TEST

START_TEST(intervals_by_hand)
{
	/* Two rows (baseline, one stage) and two tasks. Task 1: two examples scoring 0 and 1 in
	 * both rows: each resample's mean is 0, 0.5 or 1, each extreme in a quarter of the
	 * resamples, so the 95% interval is [0, 1]; the difference between the rows is 0 in every
	 * resample, paired. Task 2: four examples all 0.8 before and 0.6 after: [0.8, 0.8] and
	 * [0.6, 0.6]. */
	const double a[] = {0, 1}, b[] = {0.8, 0.8, 0.8, 0.8}, c[] = {0.6, 0.6, 0.6, 0.6};
	lethe_interval_input in[4] = {{2, 1, LETHE_AGGREGATE_MEAN, a},
	                              {4, 1, LETHE_AGGREGATE_MEAN, b},
	                              {2, 1, LETHE_AGGREGATE_MEAN, a},
	                              {4, 1, LETHE_AGGREGATE_MEAN, c}};
	const int tr[] = {1, 1};
	lethe_intervals iv;
	ck_assert_int_eq(lethe_intervals_compute(&iv, in, 2, 2, 1, tr, NULL, NULL, 1000, 0.95, 7),
	                 0);
	ck_assert_double_eq(iv.cells[0], 0.0); /* row 0, task 1: [0, 1] */
	ck_assert_double_eq(iv.cells[1], 1.0);
	ck_assert_double_eq_tol(iv.cells[2], 0.8, 1e-12); /* row 0, task 2 */
	ck_assert_double_eq_tol(iv.cells[3], 0.8, 1e-12);
	ck_assert_double_eq_tol(iv.cells[6], 0.6, 1e-12); /* row 1, task 2 */
	/* gain over the baseline (figure 7): task 1 exactly 0 (paired), task 2 -0.2 */
	const double *gain = iv.per_task + 7 * 2 * 2;
	ck_assert_double_eq(gain[0], 0.0);
	ck_assert_double_eq(gain[1], 0.0);
	ck_assert_double_eq_tol(gain[2], -0.2, 1e-12);
	ck_assert_double_eq_tol(gain[3], -0.2, 1e-12);
	/* ACC = mean of the final row: (m + 0.6) / 2 with m in {0, 0.5, 1}: [0.3, 0.8] */
	ck_assert_double_eq_tol(iv.measures[0][0], 0.3, 1e-12);
	ck_assert_double_eq_tol(iv.measures[0][1], 0.8, 1e-12);
	lethe_intervals_free(&iv);
	/* A task without statistics (a plugin without primary_stats): its cells and figures have
	 * no interval (NaN), the other task's are unchanged. */
	in[1].stats = in[3].stats = NULL;
	ck_assert_int_eq(lethe_intervals_compute(&iv, in, 2, 2, 1, tr, NULL, NULL, 1000, 0.95, 7),
	                 0);
	ck_assert(isnan(iv.cells[2]) && isnan(iv.cells[3]) && isnan(iv.cells[7]));
	ck_assert_double_eq(iv.cells[1], 1.0);
	ck_assert(isnan(iv.per_task[7 * 2 * 2 + 2])); /* task 2's gain */
	ck_assert_double_eq(iv.per_task[7 * 2 * 2], 0.0);
	lethe_intervals_free(&iv);
	ck_assert_int_eq(lethe_intervals_compute(&iv, in, 2, 2, 1, tr, NULL, NULL, 0, 0.95, 7),
	                 LETHE_EINVAL);
	/* The combinations by hand: F1 of tp 2, predicted 3, true 4 is 2pr/(p+r) = 4/7;
	 * exp(3/2); a mean skips NaN. */
	const double f1[] = {1, 2, 1, 1, 1, 3}, ratio[] = {1, 1, 2, 1}, m[] = {NAN, 0.25, 0.75};
	lethe_interval_input x = {2, 3, LETHE_AGGREGATE_F1, f1};
	ck_assert_double_eq_tol(lethe_interval_combine(&x, NULL, 0), 4.0 / 7.0, 1e-15);
	x = (lethe_interval_input){2, 2, LETHE_AGGREGATE_EXP_RATIO, ratio};
	ck_assert_double_eq_tol(lethe_interval_combine(&x, NULL, 0), exp(1.5), 1e-12);
	x = (lethe_interval_input){3, 1, LETHE_AGGREGATE_MEAN, m};
	ck_assert_double_eq_tol(lethe_interval_combine(&x, NULL, 0), 0.5, 1e-15);
	const uint32_t idx[] = {0, 1, 1};
	ck_assert_double_eq_tol(lethe_interval_combine(&x, idx, 3), 0.25, 1e-15);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("forgetting");
	TCase *tc = tcase_create("measures");
	tcase_add_test(tc, worked_example);
	tcase_add_test(tc, lower_is_better_and_missing);
	tcase_add_test(tc, one_scale_per_task_figures);
	tcase_add_test(tc, intervals_by_hand);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
