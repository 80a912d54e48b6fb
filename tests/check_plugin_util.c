/*
 * check_plugin_util.c: the helpers every bundled plugin relies on: UTF-8 validation, line
 * splitting, suggestions, option parsing, the string pool and the end of a load.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/common/plugin_util.h"

static char last_error[1024];
static void record(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void record(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}
static const lethe_host host = {
    LETHE_PLUGIN_ABI_VERSION, sizeof(lethe_host), NULL, record, NULL, NULL, NULL};

#define INVALID(s) lethe_pu_utf8_invalid(s, sizeof(s) - 1)

START_TEST(utf8)
{
	ck_assert_uint_eq(INVALID("plain ascii"), (size_t)-1);
	ck_assert_uint_eq(INVALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), (size_t)-1);
	ck_assert_uint_eq(INVALID("\xc2\x85"), (size_t)-1); /* NEL is valid UTF-8 */
	ck_assert_uint_eq(INVALID("ab\x80"), 2);            /* lone continuation */
	ck_assert_uint_eq(INVALID("\xc0\xaf"), 0);          /* overlong '/' */
	ck_assert_uint_eq(INVALID("\xe0\x80\xaf"), 0);      /* overlong, 3 bytes */
	ck_assert_uint_eq(INVALID("x\xed\xa0\x80"), 1);     /* UTF-16 surrogate */
	ck_assert_uint_eq(INVALID("\xf4\x90\x80\x80"), 0);  /* above U+10FFFF */
	ck_assert_uint_eq(INVALID("ok\xe2\x82"), 2);        /* truncated at the end */
	ck_assert_uint_eq(INVALID("\xf5\x80\x80\x80"), 0);
	ck_assert_uint_eq(lethe_pu_utf8_invalid("", 0), (size_t)-1);
}
END_TEST

START_TEST(lines)
{
	const char text[] = "one\r\ntwo\xc2\x85still two\n\nlast";
	lethe_pu_lines it;
	lethe_pu_lines_init(&it, text, sizeof(text) - 1);
	const char *l;
	size_t n;
	ck_assert(lethe_pu_lines_next(&it, &l, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert(lethe_pu_lines_next(&it, &l, &n));
	ck_assert_mem_eq(l, "two\xc2\x85still two", n);
	ck_assert(lethe_pu_lines_next(&it, &l, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert(lethe_pu_lines_next(&it, &l, &n));
	ck_assert_mem_eq(l, "last", n);
	ck_assert_uint_eq(it.lineno, 4);
	ck_assert(!lethe_pu_lines_next(&it, &l, &n));
	ck_assert(lethe_pu_blank(" \t\r", 3));
	ck_assert(!lethe_pu_blank(" x", 2));
	ck_assert(lethe_pu_blank("", 0));
}
END_TEST

START_TEST(suggestions)
{
	const char *const words[] = {"field", "format", "unit", "max_chars", NULL};
	ck_assert_str_eq(lethe_pu_suggest("fild", words), "field");
	ck_assert_str_eq(lethe_pu_suggest("formt", words), "format");
	ck_assert_str_eq(lethe_pu_suggest("max-chars", words), "max_chars");
	ck_assert_ptr_null(lethe_pu_suggest("temperature", words));
	ck_assert_ptr_null(lethe_pu_suggest("zz", words));
}
END_TEST

START_TEST(options)
{
	unsigned long v;
	lethe_option ok = {"n", "42", "f.yaml:1:4"};
	ck_assert_int_eq(lethe_pu_option_uint(&host, &ok, 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	const char *bad[] = {"", "4x", "+3", "-1", "101", "0", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lethe_option o = {"n", bad[i], "f.yaml:1:4"};
		ck_assert_int_eq(lethe_pu_option_uint(&host, &o, 1, 100, &v), LETHE_EINVAL);
		char want[256];
		snprintf(want, sizeof(want),
		         "f.yaml:1:4: option 'n': expected an integer from 1 to 100, got '%s'",
		         bad[i]);
		ck_assert_str_eq(last_error, want);
	}
	int b;
	lethe_option yes = {"flag", "true", "f.yaml:2:7"};
	ck_assert_int_eq(lethe_pu_option_bool(&host, &yes, &b), 0);
	ck_assert_int_eq(b, 1);
	lethe_option maybe = {"flag", "yes", "f.yaml:2:7"};
	ck_assert_int_eq(lethe_pu_option_bool(&host, &maybe, &b), LETHE_EINVAL);
	ck_assert_str_eq(last_error,
	                 "f.yaml:2:7: option 'flag': expected one of 'false', 'true', got 'yes'");
}
END_TEST

START_TEST(pool)
{
	lethe_pu_pool p = {0};
	size_t off[1000];
	for (int i = 0; i < 1000; i++) {
		char s[16];
		int n = snprintf(s, sizeof(s), "item%d", i);
		ck_assert_int_eq(lethe_pu_pool_add(&p, s, (size_t)n, &off[i]), 0);
	}
	ck_assert_str_eq(p.buf + off[0], "item0");
	ck_assert_str_eq(p.buf + off[999], "item999");
	lethe_pu_pool_free(&p);
	ck_assert_ptr_null(p.buf);
}
END_TEST

START_TEST(json)
{
	cJSON *j;
	const char good[] = "{\"a\": [1, 2]}";
	ck_assert_int_eq(lethe_pu_json_parse(&host, "f.jsonl", 3, good, sizeof(good) - 1, &j), 0);
	cJSON_Delete(j);
	const char bad[] = "{\"a\": [1, 2}";
	ck_assert_int_eq(lethe_pu_json_parse(&host, "f.jsonl", 3, bad, sizeof(bad) - 1, &j),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error, "f.jsonl:3:12: invalid JSON");
	/* Trailing garbage after a complete value is an error too. */
	const char trailing[] = "{} x";
	ck_assert_int_eq(
	    lethe_pu_json_parse(&host, "f.jsonl", 4, trailing, sizeof(trailing) - 1, &j),
	    LETHE_EPARSE);
}
END_TEST

START_TEST(quote_list)
{
	static const char *const names[] = {"line", "paragraph", NULL};
	char buf[64];
	lethe_pu_quote_list(names, buf, sizeof(buf));
	ck_assert_str_eq(buf, "'line', 'paragraph'");
	static const char *const none[] = {NULL};
	lethe_pu_quote_list(none, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	/* Too long for the buffer: cut, still terminated. */
	char small[8];
	lethe_pu_quote_list(names, small, sizeof(small));
	ck_assert_str_eq(small, "'line',");
}
END_TEST

START_TEST(load_status)
{
	last_error[0] = '\0';
	ck_assert_int_eq(lethe_pu_load_status(&host, "a.tsv", 0, 3, "no examples"), 0);
	ck_assert_str_eq(last_error, "");
	/* A file that parsed but held nothing is an error, not an empty task. */
	ck_assert_int_eq(lethe_pu_load_status(&host, "a.tsv", 0, 0, "no examples"), LETHE_EPARSE);
	ck_assert_str_eq(last_error, "a.tsv: no examples");
	ck_assert_int_eq(lethe_pu_load_status(&host, "b.tsv", LETHE_ENOMEM, 0, "no examples"),
	                 LETHE_ENOMEM);
	ck_assert_str_eq(last_error, "b.tsv: out of memory");
	/* A parse error was already reported where it happened: nothing is added. */
	last_error[0] = '\0';
	ck_assert_int_eq(lethe_pu_load_status(&host, "c.tsv", LETHE_EPARSE, 0, "no examples"),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error, "");
}
END_TEST

static const char *write_tmp(const char *name, const char *bytes, size_t n)
{
	static char path[1024];
	snprintf(path, sizeof(path), "%s/%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(bytes, 1, n, f);
	fclose(f);
	return path;
}

START_TEST(read_file)
{
	char *data;
	size_t len;
	char want[1200];
	/* A NUL byte would cut a C-string field short ("Mu\0ller" read as "Mu"): refused where it
	 * is. */
	const char *path = write_tmp("nul.tsv", "a\tb\nMu\0ller\t1\n", 15);
	ck_assert_int_eq(lethe_pu_read_file(&host, path, &data, &len), LETHE_EPARSE);
	snprintf(want, sizeof(want),
	         "%s:2:3: a NUL byte: a text file cannot hold one (is this a binary file?)", path);
	ck_assert_str_eq(last_error, want);
	/* A byte-order mark is dropped, so that the first field is not "\ufeffTom". */
	path = write_tmp("bom.tsv", "\xef\xbb\xbfTom\tB-PER\n", 13);
	ck_assert_int_eq(lethe_pu_read_file(&host, path, &data, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(data, "Tom\tB-PER\n");
	free(data);
	path = write_tmp("bomonly.tsv", "\xef\xbb\xbf", 3);
	ck_assert_int_eq(lethe_pu_read_file(&host, path, &data, &len), LETHE_EPARSE);
	snprintf(want, sizeof(want), "%s: file is empty", path);
	ck_assert_str_eq(last_error, want);
	/* A device that never ends in text is refused at its first NUL, not read to exhaustion. */
	ck_assert_int_eq(lethe_pu_read_file(&host, "/dev/zero", &data, &len), LETHE_EPARSE);
	ck_assert_str_eq(
	    last_error,
	    "/dev/zero:1:1: a NUL byte: a text file cannot hold one (is this a binary file?)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plugin_util");
	TCase *tc = tcase_create("helpers");
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, lines);
	tcase_add_test(tc, suggestions);
	tcase_add_test(tc, options);
	tcase_add_test(tc, pool);
	tcase_add_test(tc, json);
	tcase_add_test(tc, quote_list);
	tcase_add_test(tc, load_status);
	tcase_add_test(tc, read_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
