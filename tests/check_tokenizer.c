/*
 * check_tokenizer.c: byte-level BPE: lossless round trips of random bytes (invalid UTF-8
 * included), deterministic training, merges that never cross chunk boundaries, the most frequent
 * pair first, special tokens, and a rebuild from the saved merges.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

static const char *corpus[] = {
    "the cat sat on the mat. the cat ate the rat.",
    "There, the theory: then the thesis; the end!",
    "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
    "e \xe2\x82\xac 12.50",
    "   indented\n\n\tline with tabs\r\n",
};

static lethe_tokenizer *train(size_t vocab)
{
	size_t lens[4];
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(corpus[i]);
	lethe_tokenizer *t;
	ck_assert_int_eq(lethe_tokenizer_train(&t, corpus, lens, 4, vocab), 0);
	return t;
}

static void round_trip(lethe_tokenizer *t, const char *s, size_t n)
{
	int32_t *ids;
	size_t k;
	ck_assert_int_eq(lethe_tokenizer_encode(t, s, n, &ids, &k), 0);
	char *back;
	size_t len;
	ck_assert_int_eq(lethe_tokenizer_decode(t, ids, k, &back, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(back, s, n) == 0);
	free(ids);
	free(back);
}

START_TEST(round_trips_random_bytes)
{
	lethe_tokenizer *t = train(400);
	unsigned seed = 12345;
	char buf[4096];
	for (int trial = 0; trial < 200; trial++) {
		size_t n = (size_t)(trial * 37) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1664525u + 1013904223u;
			/* Mostly bytes of the corpus' alphabet, often spaces, sometimes anything.
			 */
			unsigned r = seed >> 24;
			buf[i] = (char)(r < 64    ? ' '
			                : r < 200 ? "the cat\xc3\xa9"
			                            "."[r % 11]
			                          : (int)(seed >> 16 & 0xff));
		}
		round_trip(t, buf, n);
	}
	for (int i = 0; i < 4; i++)
		round_trip(t, corpus[i], strlen(corpus[i]));
	round_trip(t, "", 0);
	round_trip(t, "\xff\xfe\x80 \xc3(", 6);
	lethe_tokenizer_free(t);
}
END_TEST

START_TEST(deterministic_and_compressing)
{
	lethe_tokenizer *a = train(320), *b = train(320);
	ck_assert_uint_eq(lethe_tokenizer_n_merges(a), lethe_tokenizer_n_merges(b));
	ck_assert_uint_eq(lethe_tokenizer_vocab_size(a),
	                  LETHE_TOKEN_FIRST_MERGE + lethe_tokenizer_n_merges(a));
	ck_assert(memcmp(lethe_tokenizer_merges(a), lethe_tokenizer_merges(b),
	                 2 * lethe_tokenizer_n_merges(a) * sizeof(int32_t)) == 0);
	/* The most frequent pair comes first: "he" (in every "the" and in "There"), then " t", then
	 * the two merged into " the". */
	const int32_t *mg = lethe_tokenizer_merges(a);
	ck_assert_int_eq(mg[0], 'h');
	ck_assert_int_eq(mg[1], 'e');
	ck_assert_int_eq(mg[2], ' ');
	ck_assert_int_eq(mg[3], 't');
	ck_assert_int_eq(mg[4], LETHE_TOKEN_FIRST_MERGE + 1);
	ck_assert_int_eq(mg[5], LETHE_TOKEN_FIRST_MERGE);
	int32_t *ids;
	size_t n;
	const char *s = "the cat sat on the mat.";
	ck_assert_int_eq(lethe_tokenizer_encode(a, s, strlen(s), &ids, &n), 0);
	ck_assert_uint_lt(n, strlen(s) / 2);
	for (size_t i = 0; i < n;
	     i++) /* no merged token spans a space inside: " the" but not "e c" */
		ck_assert_int_ne(ids[i], LETHE_TOKEN_BOS);
	free(ids);
	/* Rebuilt from its merges, a tokenizer encodes the same. */
	lethe_tokenizer *c;
	ck_assert_int_eq(lethe_tokenizer_from_merges(&c, mg, lethe_tokenizer_n_merges(a)), 0);
	int32_t *i1, *i2;
	size_t n1, n2;
	ck_assert_int_eq(lethe_tokenizer_encode(a, corpus[1], strlen(corpus[1]), &i1, &n1), 0);
	ck_assert_int_eq(lethe_tokenizer_encode(c, corpus[1], strlen(corpus[1]), &i2, &n2), 0);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(i1, i2, n1 * sizeof(int32_t)) == 0);
	free(i1);
	free(i2);
	lethe_tokenizer_free(a);
	lethe_tokenizer_free(b);
	lethe_tokenizer_free(c);
}
END_TEST

START_TEST(chunks_and_specials)
{
	lethe_tokenizer *t = train(2000); /* more than the corpus has pairs for */
	ck_assert_uint_lt(lethe_tokenizer_vocab_size(t), 2000);
	/* Every merged token decodes to bytes of one chunk: at most one space, and only in front.
	 */
	for (size_t id = LETHE_TOKEN_FIRST_MERGE; id < lethe_tokenizer_vocab_size(t); id++) {
		int32_t one = (int32_t)id;
		char *s;
		size_t len;
		ck_assert_int_eq(lethe_tokenizer_decode(t, &one, 1, &s, &len), 0);
		for (size_t i = 1; i < len; i++)
			ck_assert_msg(
			    !(s[i] == ' ' && s[i - 1] != ' ' && s[0] != ' ' && i + 1 < len),
			    "token %zu = '%s'", id, s);
		free(s);
	}
	int32_t specials[] = {LETHE_TOKEN_BOS, 'a', LETHE_TOKEN_SEP, 'b', LETHE_TOKEN_EOS,
	                      LETHE_TOKEN_PAD};
	char *s;
	size_t len;
	ck_assert_int_eq(lethe_tokenizer_decode(t, specials, 6, &s, &len), 0);
	ck_assert_str_eq(s, "ab");
	free(s);
	int32_t bad = 99999;
	ck_assert_int_eq(lethe_tokenizer_decode(t, &bad, 1, &s, &len), LETHE_EINVAL);
	int32_t invalid[] = {300, 2};
	lethe_tokenizer *u;
	ck_assert_int_eq(lethe_tokenizer_from_merges(&u, invalid, 1), LETHE_EINVAL);
	ck_assert_int_eq(lethe_tokenizer_train(&u, corpus, NULL, 0, 100), LETHE_EINVAL);
	lethe_tokenizer_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tokenizer");
	TCase *tc = tcase_create("bpe");
	tcase_add_test(tc, round_trips_random_bytes);
	tcase_add_test(tc, deterministic_and_compressing);
	tcase_add_test(tc, chunks_and_specials);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
