/*
 * check_ner.c: the `ner` plugin through a mock host: CoNLL columns (space and tab separated,
 * -DOCSTART-, whitespace-only boundaries), IOB1 normalised to IOB2, decoding of any generated
 * text into one tag per token, seqeval scoring, and malformed input with its place.
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

#define CONLL                                                                                      \
	"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n" \
	"Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"

START_TEST(conll_columns)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "c.txt", CONLL, &n), 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(
	    &m, t, 0,
	    "Tag each token with its named-entity tag (IOB2).\nTokens: EU rejects German\nTags:",
	    "B-ORG O B-MISC");
	mock_assert_example(
	    &m, t, 1,
	    "Tag each token with its named-entity tag (IOB2).\nTokens: Peter Blackburn\nTags:",
	    "B-PER I-PER");
	lethe_scores st = {0};
	ck_assert_int_eq(p->ops.stats(t, LETHE_SPLIT_EVAL, &st), 0);
	ck_assert_double_eq(mock_scores_get(&st, "tokens", NULL), 5);
	ck_assert_double_eq(mock_scores_get(&st, "entities", NULL), 3);
	ck_assert_double_eq(mock_scores_get(&st, "documents", NULL), 1);
	ck_assert_double_eq(mock_scores_get(&st, "entities/PER", NULL), 1);
	p->ops.destroy(t);
}
END_TEST

START_TEST(tabs_iob1_and_tag_column)
{
	/* WNUT-17 style: tab-separated, a lone tab as the boundary; IOB1 tags become IOB2. */
	lethe_option o[] = {{"tag_column", "1", "c.yaml:2:1"},
	                    {"template", "{tokens} ->", "c.yaml:3:1"}};
	lethe_task *t = mock_task(&m, o, 2);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "w.conll",
	                           "New\tI-LOC\tx\nYork\tI-LOC\tx\nis\tO\tx\n\t\nA\tI-PER\tx\nB\tB-"
	                           "PER\tx\nC\tI-ORG\tx\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "New York is ->", "B-LOC I-LOC O");
	mock_assert_example(&m, t, 1, "A B C ->", "B-PER B-PER B-ORG");
	p->ops.destroy(t);
}
END_TEST

START_TEST(malformed)
{
	mock_load_fails(&m, NULL, 0, "tag.txt", "EU B-ORG\nrejects X-ORG\n", LETHE_EPARSE,
	                ":2: tag 'X-ORG' is not O, B-TYPE or I-TYPE");
	mock_load_fails(&m, NULL, 0, "tag2.txt", "EU B-\n", LETHE_EPARSE,
	                ":1: tag 'B-' is not O, B-TYPE or I-TYPE");
	mock_load_fails(
	    &m, NULL, 0, "cols.txt", "EU B-ORG\nrejects\n", LETHE_EPARSE,
	    ":2: expected a token followed by its tag in the last column, found 1 column");
	mock_load_fails(&m, NULL, 0, "empty.txt", "", LETHE_EPARSE, ": file is empty");
	mock_load_fails(&m, NULL, 0, "docs.txt", "-DOCSTART- -X- -X- O\n\n", LETHE_EPARSE,
	                ": no sentences");
	mock_load_fails(&m, NULL, 0, "u.txt", "caf\xc3 O\n", LETHE_EPARSE, ":1:4: invalid UTF-8");
	lethe_task *t;
	lethe_option o[] = {{"tag_column", "0", "c.yaml:9:15"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, o, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error, "c.yaml:9:15: option 'tag_column': expected a column index from "
	                          "1 to 64 (the token is column 0) or -1 for the last, got '0'");
}
END_TEST

/* A CoNLL file starting with a byte-order mark: the first token is "EU", not "\ufeffEU". */
START_TEST(bom)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "bom.txt",
	                           "\xef\xbb\xbf"
	                           "EU B-ORG\nrejects O\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 1);
	mock_assert_example(
	    &m, t, 0, "Tag each token with its named-entity tag (IOB2).\nTokens: EU rejects\nTags:",
	    "B-ORG O");
	p->ops.destroy(t);
}
END_TEST

START_TEST(huggingface_jsonl)
{
	/* Hugging Face exports: integer tags named by tag_names (detected by the first '{'), or
	 * string tags; IOB1 normalised as in CoNLL files; an empty sentence is skipped. */
	lethe_option o[] = {{"tag_names.0", "O", "c.yaml:2:1"},
	                    {"tag_names.1", "B-PER", "c.yaml:2:2"},
	                    {"tag_names.2", "I-PER", "c.yaml:2:3"},
	                    {"tag_names.3", "I-LOC", "c.yaml:2:4"},
	                    {"template", "{tokens} ->", "c.yaml:3:1"}};
	lethe_task *t = mock_task(&m, o, 5);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "hf.jsonl",
	                           "{\"id\": \"0\", \"tokens\": [\"Ann\", \"Lee\", \"in\", "
	                           "\"Rome\"], \"ner_tags\": [1, 2, 0, 3]}\n\n"
	                           "{\"tokens\": [], \"ner_tags\": []}\n"
	                           "{\"tokens\": [\"Bo\"], \"ner_tags\": [\"B-PER\"]}\n",
	                           &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	mock_assert_example(&m, t, 0, "Ann Lee in Rome ->", "B-PER I-PER O B-LOC");
	mock_assert_example(&m, t, 1, "Bo ->", "B-PER");
	p->ops.destroy(t);
	lethe_option f[] = {{"format", "jsonl", "c.yaml:4:1"},
	                    {"tokens_field", "words", "c.yaml:4:2"},
	                    {"tags_field", "labels", "c.yaml:4:3"}};
	t = mock_task(&m, f, 3);
	ck_assert_int_eq(
	    mock_load(&m, t, "f.jsonl", "{\"words\": [\"x\"], \"labels\": [\"O\"]}\n", &n), 0);
	p->ops.destroy(t);
	mock_load_fails(&m, NULL, 0, "i.jsonl", "{\"tokens\": [\"A\"], \"ner_tags\": [1]}\n",
	                LETHE_EPARSE,
	                ":1: tag 1 is a number: give the tag names with the option tag_names (the "
	                "dataset's ClassLabel names, in order)");
	mock_load_fails(&m, o, 4, "r.jsonl", "{\"tokens\": [\"A\"], \"ner_tags\": [7]}\n",
	                LETHE_EPARSE, ":1: tag 1: expected a tag or an integer from 0 to 3");
	mock_load_fails(&m, NULL, 0, "l.jsonl",
	                "{\"tokens\": [\"A\", \"B\"], \"ner_tags\": [\"O\"]}\n", LETHE_EPARSE,
	                ":1: 2 tokens but 1 tags");
	mock_load_fails(&m, NULL, 0, "s.jsonl", "{\"tokens\": [\"a b\"], \"ner_tags\": [\"O\"]}\n",
	                LETHE_EPARSE, ":1: token 1: expected a non-empty string without spaces");
	mock_load_fails(&m, NULL, 0, "x.jsonl", "{\"tokens\": [\"A\"], \"ner_tags\": [\"X\"]}\n",
	                LETHE_EPARSE, ":1: tag 'X' is not O, B-TYPE or I-TYPE");
	mock_load_fails(&m, NULL, 0, "k.jsonl", "{\"toks\": [\"A\"]}\n", LETHE_EPARSE,
	                ":1: expected an object with arrays 'tokens' and 'ner_tags'");
	mock_load_fails(&m, NULL, 0, "j.jsonl", "{\"tokens\": [\"A\"\n", LETHE_EPARSE,
	                ":1:15: invalid JSON");
	lethe_option bad[] = {{"tag_names.0", "PER", "c.yaml:5:3"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, bad, 1), LETHE_EINVAL);
	ck_assert_str_eq(m.error,
	                 "c.yaml:5:3: option 'tag_names': tag 'PER' is not O, B-TYPE or I-TYPE");
	lethe_option fmt[] = {{"format", "json", "c.yaml:6:9"}};
	ck_assert_int_eq(p->ops.create(&t, &m.host, fmt, 1), LETHE_EINVAL);
	ck_assert_ptr_nonnull(
	    strstr(m.error, "expected one of 'auto', 'conll', 'jsonl', got 'json'"));
}
END_TEST

static lethe_prediction gen(const char *text)
{
	return (lethe_prediction){.text = text, .text_len = strlen(text), .nll = 1, .n_tokens = 1};
}

START_TEST(decoding_and_scoring)
{
	lethe_task *t = mock_task(&m, NULL, 0);
	size_t n;
	ck_assert_int_eq(mock_load(&m, t, "c.txt", CONLL, &n), 0);
	lethe_predict_spec spec;
	ck_assert_int_eq(p->ops.predict(t, &spec), 0);
	ck_assert_int_eq(spec.mode, LETHE_PREDICT_GENERATE);
	ck_assert_uint_eq(spec.max_new_tokens, 128);
	/* Sentence 1: ORG right, "garbage" decodes to O (MISC missed), extra words ignored.
	 * Sentence 2: too short: the missing tag is O, so the PER entity is B-PER alone (wrong
	 * end). */
	lethe_prediction pr[2] = {gen("B-ORG garbage O B-LOC"), gen("B-PER")};
	lethe_scores s = {0};
	double per[2];
	ck_assert_int_eq(p->ops.score(t, LETHE_SPLIT_EVAL, pr, 2, &s, per), 0);
	/* gold 3 entities, predicted 2 (ORG, PER[0,0]), 1 correct. */
	ck_assert_double_eq_tol(mock_scores_get(&s, "precision", NULL), 0.5, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "recall", NULL), 1.0 / 3, 1e-15);
	unsigned flags;
	ck_assert_double_eq_tol(mock_scores_get(&s, "f1", &flags), 0.4, 1e-15);
	ck_assert_uint_eq(flags, LETHE_METRIC_PRIMARY);
	ck_assert_double_eq_tol(mock_scores_get(&s, "f1/ORG", NULL), 1.0, 1e-15);
	ck_assert_double_eq_tol(mock_scores_get(&s, "recall/MISC", NULL), 0.0, 1e-15);
	ck_assert_double_eq_tol(per[0], 2 * 1.0 * 0.5 / 1.5, 1e-15);
	ck_assert_double_eq_tol(per[1], 0.0, 1e-15);
	/* No text at all: every tag O; a sentence with no entity on either side scores NaN. */
	lethe_task *t2 = mock_task(&m, NULL, 0);
	ck_assert_int_eq(mock_load(&m, t2, "o.txt", "a O\nb O\n", &n), 0);
	lethe_prediction none = {.text = NULL, .nll = 1, .n_tokens = 1};
	lethe_scores s2 = {0};
	ck_assert_int_eq(p->ops.score(t2, LETHE_SPLIT_EVAL, &none, 1, &s2, per), 0);
	ck_assert(isnan(per[0]));
	ck_assert_double_eq(mock_scores_get(&s2, "f1", NULL), 0.0);
	p->ops.destroy(t);
	p->ops.destroy(t2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ner");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, conll_columns);
	tcase_add_test(tc, tabs_iob1_and_tag_column);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, bom);
	tcase_add_test(tc, huggingface_jsonl);
	tcase_add_test(tc, decoding_and_scoring);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
