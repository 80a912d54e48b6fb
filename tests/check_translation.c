/*
 * check_translation.c: the `translation` plugin through a mock host: line-aligned file pairs,
 * TSV and JSON lines, the direction option, sacrebleu scoring, and malformed input (mismatched
 * line counts among it) with its place.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
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

/* Writes prefix.en and prefix.de and returns the prefix. */
static const char *pair(const char *prefix, const char *en, const char *de)
{
	static char path[1024];
	char name[256];
	snprintf(name, sizeof(name), "%s.en", prefix);
	const char *written = mock_write_file(name, en, strlen(en));
	snprintf(path, sizeof(path), "%.*s", (int)(strlen(written) - 3), written);
	snprintf(name, sizeof(name), "%s.de", prefix);
	mock_write_file(name, de, strlen(de));
	return path;
}

START_TEST(file_pairs_and_direction)
{
	const char *prefix = pair("train", "A dog runs.\nTwo cats sleep.\n",
	                          "Ein Hund rennt.\nZwei Katzen schlafen.\n");
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_msg(p->ops.load(t, LETHE_SPLIT_EVAL, prefix, &n) == 0, "%s", m.error);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(
	    &m, t, 0,
	    "Translate from English to German.\nEnglish: A dog runs.\nGerman:", "Ein Hund rennt.");
	p->ops.destroy(t);
	lethe_option o[] = {{"source", "de", "c:1:1"},
	                    {"target", "en", "c:2:1"},
	                    {"template", "{source} =", "c:3:1"}};
	t = mock_task(&m, o, 3);
	ck_assert_msg(p->ops.load(t, LETHE_SPLIT_EVAL, prefix, &n) == 0, "%s", m.error);
	mock_assert_example(&m, t, 1, "Zwei Katzen schlafen. =", "Two cats sleep.");
	p->ops.destroy(t);
}
END_TEST

START_TEST(tsv_and_jsonl)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "p.tsv", "Hello .\tHallo .\nYes\tJa\n", &n), 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 1,
	                    "Translate from English to German.\nEnglish: Yes\nGerman:", "Ja");
	ck_assert_int_eq(mock_load(&m, t, "p.jsonl",
	                           "{\"translation\": {\"en\": \"Thanks\", \"de\": \"Danke\"}}\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 1);
	mock_assert_example(&m, t, 0,
	                    "Translate from English to German.\nEnglish: Thanks\nGerman:", "Danke");
	p->ops.destroy(t);
}
END_TEST

START_TEST(scores_like_sacrebleu)
{
	/* sacrebleu's README example (test_bleu.py): corpus BLEU 48.530827 with two references;
	 * here with the first reference stream only, checked against lethe score's own corpus BLEU.
	 */
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(
	    mock_load(
	        &m, t, "r.tsv",
	        "x\tThe dog bit the man.\ny\tIt was not unexpected.\nz\tThe man bit him first.\n",
	        &n),
	    0);
	const char *hyps[] = {"The dog bit the man.", "It wasn't surprising.",
	                      "The man had just bitten him."};
	lethe_prediction pr[3];
	for (int i = 0; i < 3; i++)
		pr[i] = (lethe_prediction){
		    .text = hyps[i], .text_len = strlen(hyps[i]), .nll = 1, .n_tokens = 1};
	lethe_scores s = {0};
	double per[3];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, pr, 3, &s, per), 0);
	const char *r1[] = {"The dog bit the man."}, *r2[] = {"It was not unexpected."},
	           *r3[] = {"The man bit him first."};
	const char *const *refs[] = {r1, r2, r3};
	size_t nr[] = {1, 1, 1};
	lethe_bleu_score want;
	ck_assert_int_eq(lethe_metrics()->bleu(&want, hyps, refs, nr, 3, NULL), 0);
	unsigned flags;
	ck_assert_double_eq_tol(mock_scores_get(&s, "bleu", &flags), want.score, 1e-12);
	ck_assert_uint_eq(flags, LETHE_METRIC_PRIMARY | LETHE_METRIC_PERCENT);
	ck_assert_double_eq_tol(per[0], 100.0, 1e-9);
	mock_scores_get(&s, "chrf", NULL);
	mock_scores_get(&s, "chrf_pp", NULL);
	p->ops.destroy(t);
}
END_TEST

START_TEST(malformed)
{
	const char *prefix = pair("bad", "one\ntwo\nthree\n", "eins\nzwei\n");
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(p->ops.load(t, LETHE_SPLIT_EVAL, prefix, &n), LETHE_EPARSE);
	char want[2048];
	snprintf(want, sizeof(want),
	         "%s.en has 3 lines but %s.de has 2: the files must be line-aligned", prefix,
	         prefix);
	ck_assert_str_eq(m.error, want);
	prefix = pair("gap", "one\n\nthree\n", "eins\nzwei\ndrei\n");
	ck_assert_int_eq(p->ops.load(t, LETHE_SPLIT_EVAL, prefix, &n), LETHE_EPARSE);
	snprintf(want, sizeof(want), "%s.en:2: empty sentence", prefix);
	ck_assert_str_eq(m.error, want);
	ck_assert_int_eq(p->ops.load(t, LETHE_SPLIT_EVAL, "/nonexistent/prefix", &n),
	                 LETHE_ENOTFOUND);
	/* The path as the user gave it, not PATH.en (#13). */
	ck_assert_str_eq(m.error,
	                 "/nonexistent/prefix: cannot open: No such file or directory (nor "
	                 "/nonexistent/prefix.en + /nonexistent/prefix.de, a line-aligned "
	                 "pair)");
	p->ops.destroy(t);
	mock_load_fails(&m, NULL, 0, "c.tsv", "a\tb\tc\n", LETHE_EPARSE,
	                ":1: expected 2 tab-separated columns (en, de), found 3");
	mock_load_fails(&m, NULL, 0, "d.jsonl", "{\"translation\": {\"en\": \"a\"}}\n",
	                LETHE_EPARSE,
	                ":1: expected {\"translation\": {\"en\": \"...\", \"de\": \"...\"}}");
	mock_load_fails(&m, NULL, 0, "e.tsv", "ok\tgut\n\xff\tx\n", LETHE_EPARSE,
	                ":2:1: invalid UTF-8");
	lethe_option o[] = {{"source", "de", "c.yaml:4:9"}, {"target", "de", "c.yaml:5:9"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, o, 2), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "c.yaml:4:9: the source and target languages are both 'de'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("translation");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, file_pairs_and_direction);
	tcase_add_test(tc, tsv_and_jsonl);
	tcase_add_test(tc, scores_like_sacrebleu);
	tcase_add_test(tc, malformed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
