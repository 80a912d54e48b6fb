/*
 * check_summarize.c: the `summarize` plugin through a mock host: JSON lines with string or list
 * fields (several references), TSV, truncation and its log line, ROUGE scoring with the best
 * reference, and malformed input with its place.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mock_host.h"

static mock_host m;
static const lethe_plugin *p;
static void setup(void)
{
	mock_host_init(&m);
	p = lethe_plugin_entry();
}

START_TEST(jsonl_lists_and_references)
{
	lethe_option o[] = {{"document_field", "source", "c:1:1"},
	                    {"summary_field", "target", "c:2:1"},
	                    {"template", "{document} TL;DR:", "c:3:1"}};
	lethe_task *t = mock_task(&m, o, 3);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "s.jsonl",
	                           "{\"source\": [\"We study cats.\", \"Cats purr.\"], \"target\": "
	                           "[\"cats purr\", \"a study of cats\"]}\n"
	                           "{\"source\": \"One line.\", \"target\": \"short\"}",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "We study cats. Cats purr. TL;DR:", "cats purr");
	mock_assert_example(&m, t, 1, "One line. TL;DR:", "short");
	lethe_scores st = {0};
	ck_assert_int_eq(p->ops.stats(t, LETHE_SPLIT_EVAL, &st), 0);
	ck_assert_double_eq(mock_scores_get(&st, "references", NULL), 3);
	/* The prediction matches the second reference of example 0 exactly: ROUGE takes the best.
	 */
	lethe_prediction pr[2] = {
	    {.text = "a study of cats", .text_len = 15, .nll = 1, .n_tokens = 1},
	    {.text = "something else", .text_len = 14, .nll = 1, .n_tokens = 1}};
	lethe_scores s = {0};
	double per[2];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, pr, 2, &s, per), 0);
	ck_assert_double_eq_tol(per[0], 1.0, 1e-15);
	ck_assert_double_eq_tol(per[1], 0.0, 1e-15);
	unsigned flags;
	ck_assert_double_eq_tol(mock_scores_get(&s, "rougeL", &flags), 0.5, 1e-15);
	ck_assert_uint_eq(flags, LETHE_METRIC_PRIMARY);
	ck_assert_double_eq_tol(mock_scores_get(&s, "rouge1/recall", NULL), 0.5, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "rouge2", NULL), 0.5, 1e-15);
	mock_scores_get(&s, "rougeLsum/precision", NULL);
	p->ops.destroy(t);
}
END_TEST

START_TEST(stemming_option)
{
	/* "cats" and "cat" agree only with the stemmer (on by default). */
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "d.jsonl",
	                           "{\"document\": \"x\", \"summary\": \"running cats\"}\n", &n),
	                 0);
	lethe_prediction pr = {.text = "run cat", .text_len = 7, .nll = 1, .n_tokens = 1};
	lethe_scores s = {0};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, &pr, 1, &s, NULL), 0);
	ck_assert_double_eq_tol(mock_scores_get(&s, "rouge1", NULL), 1.0, 1e-15);
	p->ops.destroy(t);
	lethe_option o[] = {{"stem", "false", "c:1:1"}};
	t = mock_task(&m, o, 1);
	ck_assert_int_eq(mock_load(&m, t, "d.jsonl",
	                           "{\"document\": \"x\", \"summary\": \"running cats\"}\n", &n),
	                 0);
	lethe_scores s2 = {0};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, &pr, 1, &s2, NULL), 0);
	ck_assert_double_eq_tol(mock_scores_get(&s2, "rouge1", NULL), 0.0, 1e-15);
	p->ops.destroy(t);
}
END_TEST

START_TEST(tsv_and_truncation)
{
	lethe_option o[] = {{"max_document_chars", "12", "c:1:1"}};
	lethe_task *t = mock_task(&m, o, 1);
	size_t n;
	ck_assert_int_eq(
	    mock_load(&m, t, "d.tsv", "alpha beta gamma delta\tsum one\nshort doc\tsum two\n", &n),
	    0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(
	    &m, t, 0, "Summarize in one sentence.\nDocument: alpha beta\nSummary:", "sum one");
	ck_assert_ptr_nonnull(strstr(m.log, "truncated 1 of 2 documents to 12 characters"));
	p->ops.destroy(t);
}
END_TEST

START_TEST(malformed)
{
	mock_load_fails(
	    &m, NULL, 0, "a.jsonl", "{\"document\": \"x\"}\n", LETHE_EPARSE,
	    ":1: expected a field 'summary' holding a summary or a non-empty list of them");
	mock_load_fails(&m, NULL, 0, "b.jsonl", "{\"document\": 3, \"summary\": \"s\"}\n",
	                LETHE_EPARSE,
	                ":1: expected a field 'document' holding a string or a list of strings");
	mock_load_fails(&m, NULL, 0, "c.jsonl", "{\"document\": \"x\", \"summary\": [\"a\", 2]}\n",
	                LETHE_EPARSE, ":1: field 'summary': every reference must be a string");
	mock_load_fails(&m, NULL, 0, "d.jsonl", "{\"document\": \"\", \"summary\": \"s\"}\n",
	                LETHE_EPARSE, ":1: empty document");
	mock_load_fails(&m, NULL, 0, "e.jsonl",
	                "{\"document\": \"x\", \"summary\": \"s\"}\n{oops\n", LETHE_EPARSE,
	                ":2:3: invalid JSON");
	mock_load_fails(&m, NULL, 0, "f.tsv", "doc only\n", LETHE_EPARSE,
	                ":1: expected 2 tab-separated columns (document, summary), found 1");
	mock_load_fails(&m, NULL, 0, "g.jsonl", "", LETHE_EPARSE, ": file is empty");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("summarize");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, jsonl_lists_and_references);
	tcase_add_test(tc, stemming_option);
	tcase_add_test(tc, tsv_and_truncation);
	tcase_add_test(tc, malformed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
