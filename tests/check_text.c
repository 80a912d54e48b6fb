/*
 * check_text.c: the `text` plugin through a mock host: splitting into examples, JSON lines,
 * chunking, every input error with its place, options, and the perplexity arithmetic.
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

static lethe_task *make(const lethe_option *opts, size_t n)
{
	lethe_task *t = NULL;
	int rc = p->ops.create(&t, &m.host, opts, n);
	ck_assert_msg(rc == 0, "create failed: %s", m.error);
	return t;
}

static size_t load(lethe_task *t, const char *name, const char *text)
{
	size_t n = 0;
	const char *path = mock_write_file(name, text, strlen(text));
	int rc = p->ops.load(t, LETHE_SPLIT_TRAIN, path, &n);
	ck_assert_msg(rc == 0, "load failed: %s", m.error);
	return n;
}

static void assert_target(lethe_task *t, size_t i, const char *want)
{
	lethe_example ex;
	ck_assert_int_eq(p->ops.example(t, LETHE_SPLIT_TRAIN, i, &ex), 0);
	ck_assert_uint_eq(ex.prompt_len, 0);
	ck_assert_uint_eq(ex.target_len, strlen(want));
	ck_assert_mem_eq(ex.target, want, ex.target_len);
}

START_TEST(descriptor)
{
	ck_assert_uint_eq(p->abi_version, LETHE_PLUGIN_ABI_VERSION);
	ck_assert_uint_eq(p->struct_size, sizeof(lethe_plugin));
	ck_assert_str_eq(p->name, "text");
	ck_assert_ptr_nonnull(p->ops.stats);
}
END_TEST

START_TEST(paragraphs_by_default)
{
	lethe_task *t = make(NULL, 0);
	/* A whitespace-only line separates paragraphs too; '\r\n' endings are accepted. */
	size_t n = load(t, "p.txt", "First line\r\nstill first.\n\n \t\nSecond\n\n\nThird  \n");
	ck_assert_uint_eq(n, 3);
	assert_target(t, 0, "First line\r\nstill first.");
	assert_target(t, 1, "Second");
	assert_target(t, 2, "Third");
	p->ops.destroy(t);
}
END_TEST

START_TEST(lines_unit)
{
	lethe_option o[] = {{"unit", "line", "c.yaml:3:9"}};
	lethe_task *t = make(o, 1);
	/* U+0085 (NEL, bytes C2 85) is not a line break: only '\n' is. */
	size_t n = load(t, "l.txt",
	                "a b\n\nc\xc2\x85"
	                "d\n  e  ");
	ck_assert_uint_eq(n, 3);
	assert_target(t, 1,
	              "c\xc2\x85"
	              "d");
	assert_target(t, 2, "e");
	p->ops.destroy(t);
}
END_TEST

START_TEST(chunks_at_spaces)
{
	lethe_option o[] = {{"unit", "document", "c.yaml:1:1"}, {"max_chars", "10", "c.yaml:2:1"}};
	lethe_task *t = make(o, 2);
	size_t n = load(t, "c.txt", "alpha beta gamma delta\nepsilonzetaeta");
	ck_assert_uint_eq(n, 5);
	assert_target(t, 0, "alpha beta");
	assert_target(t, 1, "gamma");
	assert_target(t, 2, "delta");
	assert_target(t, 3, "epsilonzet");
	assert_target(t, 4, "aeta");
	p->ops.destroy(t);
}
END_TEST

START_TEST(jsonl_field_and_lists)
{
	lethe_option o[] = {{"field", "body", "c.yaml:1:1"}};
	lethe_task *t = make(o, 1);
	size_t n = load(t, "d.jsonl",
	                "{\"body\": \"caf\\u00e9\", \"x\": 1}\n\n{\"body\": [\"one\", \"two\"]}");
	ck_assert_uint_eq(n, 2);
	assert_target(t, 0, "caf\xc3\xa9");
	assert_target(t, 1, "one\ntwo");
	p->ops.destroy(t);
}
END_TEST

static void load_fails(const lethe_option *o, size_t n_o, const char *name, const char *text,
                       const char *want_suffix, int want_rc)
{
	lethe_task *t = make(o, n_o);
	size_t n = 99;
	const char *path = mock_write_file(name, text, strlen(text));
	int rc = p->ops.load(t, LETHE_SPLIT_EVAL, path, &n);
	ck_assert_int_eq(rc, want_rc);
	char want[1024];
	snprintf(want, sizeof(want), "%s%s", path, want_suffix);
	ck_assert_str_eq(m.error, want);
	lethe_example ex;
	ck_assert_int_eq(p->ops.example(t, LETHE_SPLIT_EVAL, 0, &ex), LETHE_EINVAL);
	p->ops.destroy(t);
}

START_TEST(bad_inputs)
{
	load_fails(NULL, 0, "u.txt", "fine\nbad \xff here\n", ":2:5: invalid UTF-8 (byte 0xff)",
	           LETHE_EPARSE);
	load_fails(NULL, 0, "o.txt", "overlong \xc0\xaf\n", ":1:10: invalid UTF-8 (byte 0xc0)",
	           LETHE_EPARSE);
	load_fails(NULL, 0, "j.jsonl", "{\"text\": \"a\"}\n{\"text\": nope}\n",
	           ":2:10: invalid JSON", LETHE_EPARSE);
	load_fails(NULL, 0, "f.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n",
	           ":2: expected an object with a string field 'text'", LETHE_EPARSE);
	load_fails(NULL, 0, "e.txt", "", ": file is empty", LETHE_EPARSE);
	load_fails(NULL, 0, "w.txt", "\n  \n\t\n", ": no text found", LETHE_EPARSE);
	lethe_option o[] = {{"format", "jsonl", "c.yaml:1:1"}};
	load_fails(o, 1, "plain.txt", "not json\n", ":1:1: invalid JSON", LETHE_EPARSE);
}
END_TEST

START_TEST(missing_file)
{
	lethe_task *t = make(NULL, 0);
	size_t n;
	ck_assert_int_eq(p->ops.load(t, LETHE_SPLIT_TRAIN, "/nonexistent/x.txt", &n),
	                 LETHE_ENOTFOUND);
	ck_assert_str_eq(m.error, "/nonexistent/x.txt: cannot open: No such file or directory");
	p->ops.destroy(t);
}
END_TEST

START_TEST(bad_options)
{
	lethe_task *t = (lethe_task *)&m; /* must be reset to NULL on failure */
	lethe_option typo[] = {{"fild", "x", "cur.yaml:7:5"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, typo, 1), LETHE_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(
	    m.error, "cur.yaml:7:5: plugin 'text' has no option 'fild' (did you mean 'field'?)");
	lethe_option unknown[] = {{"temperature", "x", "cur.yaml:8:5"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, unknown, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "cur.yaml:8:5: plugin 'text' has no option 'temperature'");
	lethe_option badenum[] = {{"unit", "paragraf", "cur.yaml:9:11"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, badenum, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error,
	                 "cur.yaml:9:11: option 'unit': expected one of 'line', 'paragraph', "
	                 "'document', got 'paragraf' (did you mean 'paragraph'?)");
	lethe_option badnum[] = {{"max_chars", "-3", "cur.yaml:10:16"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, badnum, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "cur.yaml:10:16: option 'max_chars': expected an integer from 0 "
	                          "to 1073741824, got '-3'");
	lethe_option nested[] = {{"unit.x", "line", "cur.yaml:11:3"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, nested, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "cur.yaml:11:3: option 'unit.x' takes a single value");
}
END_TEST

START_TEST(perplexity)
{
	lethe_task *t = make(NULL, 0);
	ck_assert_uint_eq(load(t, "s.txt", "a\n\nb\n"), 2);
	lethe_predict_spec spec;
	ck_assert_int_eq(p->ops.predict(t, &spec), 0);
	ck_assert_int_eq(spec.mode, LETHE_PREDICT_LIKELIHOOD);
	lethe_prediction pred[2] = {
	    {.nll = 6.0, .n_tokens = 3, .n_bytes = 4},
	    {.nll = 2.0, .n_tokens = 1, .n_bytes = 4},
	};
	lethe_scores s = {0};
	double per[2];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_TRAIN, pred, 2, &s, per), 0);
	unsigned flags;
	/* Token-weighted: exp(8/4), not the mean of exp(2) and exp(2)... which agree here, so: */
	ck_assert_double_eq_tol(mock_scores_get(&s, "perplexity", &flags), exp(2.0), 1e-12);
	ck_assert_uint_eq(flags, LETHE_METRIC_LOWER | LETHE_METRIC_PRIMARY);
	ck_assert_double_eq_tol(mock_scores_get(&s, "nll_per_token", NULL), 2.0, 1e-12);
	ck_assert_double_eq_tol(mock_scores_get(&s, "bits_per_byte", NULL), 8.0 / (8 * log(2.0)),
	                        1e-12);
	ck_assert_double_eq_tol(per[0], 2.0, 1e-12);
	ck_assert_double_eq_tol(per[1], 2.0, 1e-12);

	lethe_scores s2 = {0};
	lethe_prediction uneven[2] = {{.nll = 1.0, .n_tokens = 1, .n_bytes = 1},
	                              {.nll = 9.0, .n_tokens = 4, .n_bytes = 1}};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_TRAIN, uneven, 2, &s2, NULL), 0);
	ck_assert_double_eq_tol(mock_scores_get(&s2, "perplexity", NULL), exp(10.0 / 5.0), 1e-12);

	lethe_scores s3 = {0};
	lethe_prediction bad[1] = {{.nll = NAN, .n_tokens = 1}};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_TRAIN, bad, 1, &s3, NULL), LETHE_ENUMERIC);
	ck_assert_str_eq(m.error,
	                 "prediction 0: the target NLL is nan; expected a finite value >= 0");

	lethe_scores st = {0};
	ck_assert_int_eq(p->ops.stats(t, LETHE_SPLIT_TRAIN, &st), 0);
	ck_assert_double_eq(mock_scores_get(&st, "examples", &flags), 2);
	ck_assert_uint_eq(flags, LETHE_METRIC_COUNT);
	ck_assert_double_eq(mock_scores_get(&st, "bytes", NULL), 2);
	p->ops.destroy(t);
}
END_TEST

START_TEST(real_data)
{
	const char *data = getenv("LETHE_DATA");
	if (!data || !*data)
		return; /* the shared data sets are optional outside CI */
	char path[1024];
	snprintf(path, sizeof(path), "%s/multi30k/val.en", data);
	lethe_option o[] = {{"unit", "line", "test"}};
	lethe_task *t = make(o, 1);
	size_t n = 0;
	ck_assert_msg(p->ops.load(t, LETHE_SPLIT_EVAL, path, &n) == 0, "%s", m.error);
	ck_assert_uint_eq(n, 1014);
	p->ops.destroy(t);

	snprintf(path, sizeof(path), "%s/xsum-sample/dev.jsonl", data);
	lethe_option o2[] = {{"field", "document", "test"}, {"max_chars", "0", "test"}};
	t = make(o2, 2);
	ck_assert_msg(p->ops.load(t, LETHE_SPLIT_EVAL, path, &n) == 0, "%s", m.error);
	ck_assert_uint_eq(n, 100);
	p->ops.destroy(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, descriptor);
	tcase_add_test(tc, paragraphs_by_default);
	tcase_add_test(tc, lines_unit);
	tcase_add_test(tc, chunks_at_spaces);
	tcase_add_test(tc, jsonl_field_and_lists);
	tcase_add_test(tc, bad_inputs);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, perplexity);
	tcase_add_test(tc, real_data);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
