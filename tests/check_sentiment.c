/*
 * check_sentiment.c: the `sentiment` plugin through a mock host: GLUE TSV with a header, UCI
 * header-less lines, JSON lines, verbalizers and templates, every malformed input with its
 * place, and the scikit-learn metrics of its score().
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

START_TEST(glue_tsv_with_header)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "dev.tsv",
	                           "sentence\tlabel\nit 's charming . \t1\ndull , dull \t0\n", &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Review: it 's charming .\nSentiment:", "positive");
	mock_assert_example(&m, t, 1, "Review: dull , dull\nSentiment:", "negative");
	lethe_predict_spec spec;
	ck_assert_int_eq(p->ops.predict(t, &spec), 0);
	ck_assert_int_eq(spec.mode, LETHE_PREDICT_CHOICE);
	ck_assert_uint_eq(spec.n_choices, 2);
	ck_assert_str_eq(spec.choices[0], "negative");
	ck_assert_str_eq(spec.choices[1], "positive");
	p->ops.destroy(t);
}
END_TEST

START_TEST(uci_without_header_and_options)
{
	lethe_option o[] = {{"labels.0", "bad", "c.yaml:3:12"},
	                    {"labels.1", "good", "c.yaml:3:20"},
	                    {"template", "{text} =>", "c.yaml:4:15"},
	                    {"length_normalise", "true", "c.yaml:5:1"}};
	lethe_task *t = mock_task(&m, o, 4);
	size_t n;
	/* The UCI IMDB file ends sentences with two spaces and holds a U+0085 inside a line. */
	ck_assert_int_eq(mock_load(&m, t, "imdb.txt",
	                           "Not good \"at all  \t0\nA gem\xc2\x85 really.  \t1\n", &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Not good \"at all =>", "bad");
	mock_assert_example(&m, t, 1, "A gem\xc2\x85 really. =>", "good");
	lethe_predict_spec spec;
	p->ops.predict(t, &spec);
	ck_assert_int_eq(spec.length_normalise, 1);
	lethe_scores st = {0};
	ck_assert_int_eq(p->ops.stats(t, LETHE_SPLIT_EVAL, &st), 0);
	ck_assert_double_eq(mock_scores_get(&st, "label/good", NULL), 1);
	p->ops.destroy(t);
}
END_TEST

START_TEST(jsonl)
{
	lethe_option o[] = {{"text_field", "review", "c:1:1"},
	                    {"label_field", "stars", "c:2:1"},
	                    {"labels.1", "bad", "c:3:1"},
	                    {"labels.5", "great", "c:3:9"}};
	lethe_task *t = mock_task(&m, o, 4);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "r.jsonl",
	                           "{\"review\": \"Loved it\", \"stars\": 5}\n{\"review\": "
	                           "\"Meh\", \"stars\": \"1\"}\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Review: Loved it\nSentiment:", "great");
	mock_assert_example(&m, t, 1, "Review: Meh\nSentiment:", "bad");
	p->ops.destroy(t);
}
END_TEST

START_TEST(malformed)
{
	mock_load_fails(&m, NULL, 0, "cols.tsv", "sentence\tlabel\na\t1\nb\t0\textra\n",
	                LETHE_EPARSE, ":3: expected 2 tab-separated columns, found 3");
	mock_load_fails(&m, NULL, 0, "label.tsv", "good\t1\nbad\t2\n", LETHE_EPARSE,
	                ":2: unknown label '2' (expected one of '0', '1')");
	mock_load_fails(&m, NULL, 0, "one.tsv", "no tab here\n", LETHE_EPARSE,
	                ":1: expected tab-separated text and label columns, found 1 column");
	mock_load_fails(&m, NULL, 0, "empty.tsv", "", LETHE_EPARSE, ": file is empty");
	mock_load_fails(&m, NULL, 0, "header-only.tsv", "sentence\tlabel\n", LETHE_EPARSE,
	                ": no examples");
	mock_load_fails(&m, NULL, 0, "utf8.tsv", "ok\t1\nbad \xe9t\xe9\t0\n", LETHE_EPARSE,
	                ":2:5: invalid UTF-8");
	mock_load_fails(&m, NULL, 0, "blank.tsv", "  \t1\n", LETHE_EPARSE, ":1: empty text");
	mock_load_fails(&m, NULL, 0, "j.jsonl",
	                "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", label: 0}\n",
	                LETHE_EPARSE, ":2:16: invalid JSON");
	mock_load_fails(&m, NULL, 0, "f.jsonl", "{\"text\": \"a\"}\n", LETHE_EPARSE,
	                ":1: expected a label field 'label' (a string or an integer)");
	mock_load_fails(&m, NULL, 0, "g.jsonl", "{\"txt\": \"a\", \"label\": 0}\n", LETHE_EPARSE,
	                ":1: expected a string field 'text'");
	lethe_option col[] = {{"label_column", "score", "c.yaml:2:3"}};
	mock_load_fails(&m, col, 1, "named.tsv", "sentence\tlabel\na\t1\n", LETHE_EINVAL,
	                ":1: option 'label_column': no column named 'score' in the header");
}
END_TEST

START_TEST(bad_options)
{
	lethe_task *t;
	lethe_option a[] = {{"lables.0", "x", "c.yaml:4:5"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, a, 1), LETHE_EINVAL);
	ck_assert_str_eq(
	    m.error,
	    "c.yaml:4:5: plugin 'sentiment' has no option 'lables' (did you mean 'labels'?)");
	lethe_option b[] = {{"template", "Say {txt}", "c.yaml:5:13"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, b, 1), LETHE_EINVAL);
	ck_assert_str_eq(
	    m.error,
	    "c.yaml:5:13: option 'template': unknown placeholder '{txt}' (expected {text})");
	lethe_option c[] = {{"labels.0", "x", "c.yaml:6:1"}, {"labels.1", "x", "c.yaml:6:9"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, c, 2), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "c.yaml:6:9: option 'labels': 'x' appears twice");
	lethe_option d[] = {{"labels.0", "only", "c.yaml:7:1"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, d, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error,
	                 "c.yaml:7:1: option 'labels': a classification needs at least two labels");
	lethe_option e[] = {{"template", "{text", "c.yaml:8:13"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, e, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "c.yaml:8:13: option 'template': unmatched brace at character 1 "
	                          "(write '{{' or '}}' for a brace)");
}
END_TEST

/* Issue #13's silent damage: a NUL byte or a "\u0000" escape used to cut the text short
 * ("Mu\0ller" read as "Mu") and a byte-order mark stayed inside the first text. */
START_TEST(nul_and_bom)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n = 0;
	const char tsv[] = "ok\t1\nMu\0ller\t0\n";
	const char *path = mock_write_file("nul.tsv", tsv, sizeof(tsv) - 1);
	ck_assert_int_eq(p->ops.load(t, LETHE_SPLIT_EVAL, path, &n), LETHE_EPARSE);
	ck_assert_ptr_nonnull(strstr(m.error, "nul.tsv:2:3: a NUL byte"));
	mock_load_fails(
	    &m, NULL, 0, "nul.jsonl",
	    "{\"text\": \"ok\", \"label\": 1}\n{\"text\": \"Mu\\u0000ller\", \"label\": 0}\n",
	    LETHE_EPARSE, ":2:13: a \\u0000 escape: text cannot hold a NUL character");
	/* Header-less TSV starting with a byte-order mark: the first text starts at "Tom". */
	ck_assert_int_eq(mock_load(&m, t, "bom.tsv", "\xef\xbb\xbfTom was great\t1\nbad\t0\n", &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Review: Tom was great\nSentiment:", "positive");
	p->ops.destroy(t);
}
END_TEST

START_TEST(scores_like_sklearn)
{
	/* cls03 of shared/metrics/examples.json: gold pos x4, neg x4. */
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(
	    mock_load(&m, t, "s.tsv", "a\t1\nb\t1\nc\t1\nd\t1\ne\t0\nf\t0\ng\t0\nh\t0\n", &n), 0);
	size_t choice[8] = {1, 1, 1, 0, 0, 0, 1, 1};
	lethe_prediction pr[8];
	for (int i = 0; i < 8; i++)
		pr[i] = (lethe_prediction){.choice = choice[i], .nll = 1, .n_tokens = 1};
	lethe_scores s = {0};
	double per[8];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, pr, 8, &s, per), 0);
	unsigned flags;
	ck_assert_double_eq_tol(mock_scores_get(&s, "accuracy", &flags), 0.625, 1e-15);
	ck_assert_uint_eq(flags, LETHE_METRIC_PRIMARY);
	ck_assert_double_eq_tol(mock_scores_get(&s, "macro_f1", NULL), 0.6190476190476191, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "precision/negative", NULL), 0.6666666666666666,
	                        1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "f1/positive", NULL), 0.6666666666666665,
	                        1e-15);
	ck_assert_double_eq(per[0], 1.0);
	ck_assert_double_eq(per[3], 0.0);
	lethe_prediction bad = {.choice = 7};
	lethe_scores s2 = {0};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, &bad, 1, &s2, NULL), LETHE_EINVAL);
	p->ops.destroy(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sentiment");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, glue_tsv_with_header);
	tcase_add_test(tc, uci_without_header_and_options);
	tcase_add_test(tc, jsonl);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, nul_and_bom);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, scores_like_sklearn);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
