/*
 * check_instruct.c: the `instruct` plugin through a mock host: Alpaca records through Alpaca's
 * two templates and custom field maps, ShareGPT and chat messages into one example per assistant
 * turn (or the last one), the JSON-array form, detection per record, exact match and ROUGE-L
 * scoring, and malformed input with its place.
 */
#include <check.h>
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

START_TEST(alpaca_templates)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(
	    mock_load(&m, t, "a.jsonl",
	              "{\"instruction\": \"Add.\", \"input\": \"2 and 3\", \"output\": \"5\"}\n"
	              "\n"
	              "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\"}\n"
	              "{\"instruction\": \"Say no.\", \"output\": \"no\"}\n",
	              &n),
	    0);
	ck_assert_uint_eq(n, 3);
	mock_assert_example(&m, t, 0,
	                    "Below is an instruction that describes a task, paired with an input "
	                    "that provides further context. Write a response that appropriately "
	                    "completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n2 and "
	                    "3\n\n### Response:\n",
	                    "5");
	mock_assert_example(&m, t, 1,
	                    "Below is an instruction that describes a task. Write a response that "
	                    "appropriately completes the request.\n\n### Instruction:\nSay "
	                    "hi.\n\n### Response:\n",
	                    "hi");
	p->ops.destroy(t);
	lethe_option o[] = {{"instruction_field", "q", "c:1:1"},
	                    {"input_field", "ctx", "c:2:1"},
	                    {"output_field", "a", "c:3:1"},
	                    {"template", "{instruction} | {input} =>", "c:4:1"},
	                    {"template_no_input", "{instruction} =>", "c:5:1"}};
	t = mock_task(&m, o, 5);
	ck_assert_int_eq(mock_load(&m, t, "b.json",
	                           "[{\"q\": \"Q1\", \"ctx\": \"C1\", \"a\": \"A1\"},\n"
	                           " {\"q\": \"Q2\", \"a\": \"A2\"}]\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Q1 | C1 =>", "A1");
	mock_assert_example(&m, t, 1, "Q2 =>", "A2");
	p->ops.destroy(t);
}
END_TEST

static const char sharegpt[] =
    "{\"conversations\": [{\"from\": \"system\", \"value\": \"Be brief.\"}, {\"from\": \"human\", "
    "\"value\": \"2+2?\"}, {\"from\": \"gpt\", \"value\": \"4\"}, {\"from\": \"human\", "
    "\"value\": \"times 3?\"}, {\"from\": \"gpt\", \"value\": \"12\"}]}\n";

START_TEST(sharegpt_turns)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "s.jsonl", sharegpt, &n), 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0,
	                    "### System:\nBe brief.\n\n### User:\n2+2?\n\n### Assistant:\n", "4");
	mock_assert_example(&m, t, 1,
	                    "### System:\nBe brief.\n\n### User:\n2+2?\n\n### Assistant:\n4\n\n### "
	                    "User:\ntimes 3?\n\n### Assistant:\n",
	                    "12");
	ck_assert_ptr_nonnull(strstr(m.log, "2 examples from 1 records"));
	p->ops.destroy(t);
	lethe_option o[] = {{"turns", "last", "c:1:1"},
	                    {"user_tag", "<u>", "c:2:1"},
	                    {"assistant_tag", "<a>", "c:3:1"},
	                    {"system_tag", "<s>", "c:4:1"}};
	t = mock_task(&m, o, 4);
	ck_assert_int_eq(mock_load(&m, t, "s.jsonl", sharegpt, &n), 0);
	ck_assert_uint_eq(n, 1);
	mock_assert_example(&m, t, 0, "<s>Be brief.\n\n<u>2+2?\n\n<a>4\n\n<u>times 3?\n\n<a>",
	                    "12");
	p->ops.destroy(t);
}
END_TEST

START_TEST(messages_and_detection)
{
	/* Three formats in one file: each record is detected by its fields. */
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(
	    mock_load(&m, t, "m.jsonl",
	              "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": "
	              "\"assistant\", \"content\": \"hello\"}]}\n"
	              "{\"instruction\": \"x\", \"output\": \"y\"}\n",
	              &n),
	    0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "### User:\nhi\n\n### Assistant:\n", "hello");
	lethe_scores st = {0};
	ck_assert_int_eq(p->ops.stats(t, LETHE_SPLIT_EVAL, &st), 0);
	ck_assert_double_eq(mock_scores_get(&st, "messages_records", NULL), 1);
	ck_assert_double_eq(mock_scores_get(&st, "alpaca_records", NULL), 1);
	p->ops.destroy(t);
	/* format: messages refuses an Alpaca record instead of guessing. */
	lethe_option o[] = {{"format", "messages", "c:1:1"}};
	mock_load_fails(&m, o, 1, "f.jsonl", "{\"instruction\": \"x\", \"output\": \"y\"}\n",
	                LETHE_EPARSE,
	                ":1: expected a field 'messages' holding a non-empty list of turns");
}
END_TEST

START_TEST(scoring)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "a.jsonl",
	                           "{\"instruction\": \"a\", \"output\": \"the cat sat\"}\n"
	                           "{\"instruction\": \"b\", \"output\": \"blue\"}\n",
	                           &n),
	                 0);
	lethe_prediction pr[2] = {
	    {.text = " the cat sat\n", .text_len = 13, .nll = 1, .n_tokens = 1},
	    {.text = "the cat", .text_len = 7, .nll = 1, .n_tokens = 1}};
	lethe_scores s = {0};
	double per[2];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, pr, 2, &s, per), 0);
	unsigned flags;
	ck_assert_double_eq_tol(mock_scores_get(&s, "exact_match", NULL), 0.5, 1e-15);
	ck_assert_double_eq_tol(per[0], 1.0, 1e-15);
	ck_assert_double_eq_tol(per[1], 0.0, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "rougeL", &flags), 0.5, 1e-15);
	ck_assert_uint_eq(flags, LETHE_METRIC_PRIMARY);
	/* ROUGE-L of "the cat" against "the cat sat": P 1, R 2/3. */
	lethe_prediction one = {.text = "the cat", .text_len = 7, .nll = 1, .n_tokens = 1};
	lethe_scores s1 = {0};
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, &one, 1, &s1, NULL), 0);
	ck_assert_double_eq_tol(mock_scores_get(&s1, "rougeL/precision", NULL), 1.0, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s1, "rougeL/recall", NULL), 2.0 / 3, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s1, "rougeL", NULL), 0.8, 1e-15);
	p->ops.destroy(t);
}
END_TEST

START_TEST(malformed)
{
	mock_load_fails(&m, NULL, 0, "a.jsonl", "{\"instruction\": \"\", \"output\": \"y\"}\n",
	                LETHE_EPARSE,
	                ":1: expected a field 'instruction' holding a non-empty string");
	mock_load_fails(&m, NULL, 0, "b.jsonl",
	                "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"instruction\": \"x\"}\n",
	                LETHE_EPARSE, ":2: expected a field 'output' holding a non-empty string");
	mock_load_fails(&m, NULL, 0, "c.jsonl",
	                "{\"instruction\": \"x\", \"input\": 3, \"output\": \"y\"}\n", LETHE_EPARSE,
	                ":1: field 'input' must be a string");
	mock_load_fails(&m, NULL, 0, "d.jsonl",
	                "{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": "
	                "\"tool\", \"value\": \"x\"}]}\n",
	                LETHE_EPARSE,
	                ":1: turn 2 of 'conversations': unknown from 'tool' (expected 'human', "
	                "'gpt' or 'system')");
	mock_load_fails(&m, NULL, 0, "e.jsonl",
	                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
	                LETHE_EPARSE, ":1: 'messages' has no 'assistant' turn to learn");
	mock_load_fails(&m, NULL, 0, "f.jsonl", "{\"messages\": [{\"role\": \"user\"}]}\n",
	                LETHE_EPARSE,
	                ":1: turn 1 of 'messages': expected {\"role\": ..., \"content\": ...} with "
	                "string values");
	mock_load_fails(&m, NULL, 0, "g.json", "[{\"instruction\": \"x\", \"output\": \"y\"}, 7]",
	                LETHE_EPARSE, ": record 2: expected a JSON object");
	mock_load_fails(&m, NULL, 0, "h.json", "[{\"instruction\": \"x\",\n \"output\": }]",
	                LETHE_EPARSE, ":2:12: invalid JSON");
	mock_load_fails(&m, NULL, 0, "i.jsonl", "", LETHE_EPARSE, ": file is empty");
}
END_TEST

START_TEST(bad_options)
{
	lethe_option o[] = {{"template", "{instruction} {question}", "c:1:1"}};
	lethe_task *t = NULL;
	ck_assert_int_ne(p->ops.create(&t, &m.host, o, 1), 0);
	ck_assert_ptr_nonnull(strstr(m.error, "question"));
	lethe_option o2[] = {{"turns", "first", "c:2:5"}};
	ck_assert_int_ne(p->ops.create(&t, &m.host, o2, 1), 0);
	ck_assert_ptr_nonnull(strstr(m.error, "c:2:5"));
	lethe_option o3[] = {{"output_field", "", "c:3:5"}};
	ck_assert_int_ne(p->ops.create(&t, &m.host, o3, 1), 0);
	ck_assert_ptr_nonnull(strstr(m.error, "needs a field name"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("instruct");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, alpaca_templates);
	tcase_add_test(tc, sharegpt_turns);
	tcase_add_test(tc, messages_and_detection);
	tcase_add_test(tc, scoring);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, bad_options);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
