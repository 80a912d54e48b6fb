/*
 * check_kit.c: the plugin kit (lethe/kit.h) every plugin reaches through lethe_host.kit: UTF-8
 * validation, line splitting, suggestions, option parsing, the string pool, the end of a load,
 * JSON lines, label maps, and reading text files (NUL bytes, byte-order marks).
 */
#include <check.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

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
static lethe_host host = {
    LETHE_PLUGIN_ABI_VERSION, sizeof(lethe_host), NULL, record, NULL, NULL, NULL, NULL};
#define K (host.kit)

#define INVALID(s) K->utf8_invalid(s, sizeof(s) - 1)

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
	ck_assert_uint_eq(K->utf8_invalid("", 0), (size_t)-1);
}
END_TEST

START_TEST(lines)
{
	const char text[] = "one\r\ntwo\xc2\x85still two\n\nlast";
	lethe_lines it;
	K->lines_init(&it, text, sizeof(text) - 1);
	const char *l;
	size_t n;
	ck_assert(K->lines_next(&it, &l, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert(K->lines_next(&it, &l, &n));
	ck_assert_mem_eq(l, "two\xc2\x85still two", n);
	ck_assert(K->lines_next(&it, &l, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert(K->lines_next(&it, &l, &n));
	ck_assert_mem_eq(l, "last", n);
	ck_assert_uint_eq(it.lineno, 4);
	ck_assert(!K->lines_next(&it, &l, &n));
	ck_assert(K->blank(" \t\r", 3));
	ck_assert(!K->blank(" x", 2));
	ck_assert(K->blank("", 0));
}
END_TEST

START_TEST(suggestions)
{
	const char *const words[] = {"field", "format", "unit", "max_chars", NULL};
	ck_assert_str_eq(K->suggest("fild", words), "field");
	ck_assert_str_eq(K->suggest("formt", words), "format");
	ck_assert_str_eq(K->suggest("max-chars", words), "max_chars");
	ck_assert_ptr_null(K->suggest("temperature", words));
	ck_assert_ptr_null(K->suggest("zz", words));
}
END_TEST

START_TEST(options)
{
	unsigned long v;
	lethe_option ok = {"n", "42", "f.yaml:1:4"};
	ck_assert_int_eq(K->option_uint(&host, &ok, 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	const char *bad[] = {"", "4x", "+3", "-1", "101", "0", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lethe_option o = {"n", bad[i], "f.yaml:1:4"};
		ck_assert_int_eq(K->option_uint(&host, &o, 1, 100, &v), LETHE_EINVAL);
		char want[256];
		snprintf(want, sizeof(want),
		         "f.yaml:1:4: option 'n': expected an integer from 1 to 100, got '%s'",
		         bad[i]);
		ck_assert_str_eq(last_error, want);
	}
	int b;
	lethe_option yes = {"flag", "true", "f.yaml:2:7"};
	ck_assert_int_eq(K->option_bool(&host, &yes, &b), 0);
	ck_assert_int_eq(b, 1);
	lethe_option maybe = {"flag", "yes", "f.yaml:2:7"};
	ck_assert_int_eq(K->option_bool(&host, &maybe, &b), LETHE_EINVAL);
	ck_assert_str_eq(last_error,
	                 "f.yaml:2:7: option 'flag': expected one of 'false', 'true', got 'yes'");
}
END_TEST

START_TEST(pool)
{
	lethe_pool p = {0};
	size_t off[1000];
	for (int i = 0; i < 1000; i++) {
		char s[16];
		int n = snprintf(s, sizeof(s), "item%d", i);
		ck_assert_int_eq(K->pool_add(&p, s, (size_t)n, &off[i]), 0);
	}
	ck_assert_str_eq(p.buf + off[0], "item0");
	ck_assert_str_eq(p.buf + off[999], "item999");
	K->pool_free(&p);
	ck_assert_ptr_null(p.buf);
}
END_TEST

START_TEST(json)
{
	lethe_json *j;
	const char good[] = "{\"a\": [1, \"x\", true, null, {\"k\": 2.5}], \"s\": \"caf\\u00e9\"}";
	ck_assert_int_eq(K->json_parse(&host, "f.jsonl", 3, good, sizeof(good) - 1, &j), 0);
	ck_assert_int_eq(K->json_type(j), LETHE_JSON_OBJECT);
	ck_assert_uint_eq(K->json_size(j), 2);
	ck_assert_str_eq(K->json_key(K->json_first(j)), "a");
	ck_assert_str_eq(K->json_string(K->json_get(j, "s")), "caf\xc3\xa9");
	const lethe_json *a = K->json_get(j, "a"), *i = K->json_first(a);
	ck_assert_int_eq(K->json_type(a), LETHE_JSON_ARRAY);
	ck_assert_uint_eq(K->json_size(a), 5);
	double x = 0;
	ck_assert_int_eq(K->json_number(i, &x), 0);
	ck_assert(x == 1.0);
	i = K->json_next(i);
	ck_assert_int_eq(K->json_number(i, &x), LETHE_EINVAL);
	ck_assert_str_eq(K->json_string(i), "x");
	ck_assert_int_eq(K->json_bool(i), -1);
	i = K->json_next(i);
	ck_assert_int_eq(K->json_bool(i), 1);
	ck_assert_int_eq(K->json_type(K->json_next(i)), LETHE_JSON_NULL);
	i = K->json_next(K->json_next(i));
	ck_assert_int_eq(K->json_number(K->json_get(i, "k"), &x), 0);
	ck_assert(x == 2.5);
	ck_assert_ptr_null(K->json_next(i));
	/* Absent values answer "none" all the way down. */
	ck_assert_int_eq(K->json_type(K->json_get(j, "missing")), LETHE_JSON_NONE);
	ck_assert_ptr_null(K->json_string(K->json_get(K->json_get(j, "no"), "such")));
	ck_assert_ptr_null(K->json_get(a, "k")); /* an array has no members */
	lethe_buf text = {0};
	ck_assert_int_eq(K->json_text(K->json_get(j, "s"), " ", &text), 0);
	ck_assert_str_eq(text.s, "caf\xc3\xa9");
	ck_assert_int_eq(K->json_text(a, " ", &text), LETHE_EPARSE);
	K->buf_free(&text);
	K->json_free(j);

	const char bad[] = "{\"a\": [1, 2}";
	ck_assert_int_eq(K->json_parse(&host, "f.jsonl", 3, bad, sizeof(bad) - 1, &j),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error, "f.jsonl:3:12: invalid JSON");
	/* Trailing garbage after a complete value is an error too. */
	const char trailing[] = "{} x";
	ck_assert_int_eq(K->json_parse(&host, "f.jsonl", 4, trailing, sizeof(trailing) - 1, &j),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error, "f.jsonl:4:4: invalid JSON: unexpected text after the value");
	/* A whole file as one value: positions count its lines. */
	const char multi[] = "[{\"a\": 1},\n {\"b\": }]";
	ck_assert_int_eq(K->json_parse(&host, "f.json", 1, multi, sizeof(multi) - 1, &j),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error, "f.json:2:8: invalid JSON");
	/* "\u0000" would end the C string there ("Mu\u0000ller" read as "Mu"): refused. An
	 * escaped backslash before "u0000" is text, not an escape. */
	const char nul[] = "{\"text\": \"Mu\\u0000ller\", \"label\": 1}";
	ck_assert_int_eq(K->json_parse(&host, "f.jsonl", 5, nul, sizeof(nul) - 1, &j),
	                 LETHE_EPARSE);
	ck_assert_str_eq(last_error,
	                 "f.jsonl:5:13: a \\u0000 escape: text cannot hold a NUL character");
	const char lit[] = "{\"text\": \"C:\\\\u0000\"}";
	ck_assert_int_eq(K->json_parse(&host, "f.jsonl", 6, lit, sizeof(lit) - 1, &j), 0);
	ck_assert_str_eq(K->json_string(K->json_get(j, "text")), "C:\\u0000");
	K->json_free(j);
}
END_TEST

START_TEST(labels)
{
	static const char *const defaults[] = {"0", "negative", "1", "positive", NULL};
	lethe_labels *m;
	ck_assert_int_eq(K->labels_from_options(&host, &m, "labels", NULL, 0, defaults), 0);
	ck_assert_uint_eq(K->labels_count(m), 2);
	ck_assert_str_eq(K->labels_words(m)[1], "positive");
	ck_assert_ptr_null(K->labels_words(m)[2]);
	K->labels_free(m);
	const lethe_option opts[] = {{"labels.sport", "sports", "c.yaml:3:5"},
	                             {"template", "{text}", "c.yaml:4:5"},
	                             {"labels.biz", "business", "c.yaml:3:20"},
	                             {"labels.sci", "science", "c.yaml:3:35"}};
	ck_assert_int_eq(K->labels_from_options(&host, &m, "labels", opts, 4, defaults), 0);
	ck_assert_uint_eq(K->labels_count(m), 3);
	ck_assert_str_eq(K->labels_keys(m)[1], "biz");
	ck_assert_str_eq(K->labels_words(m)[2], "science");
	ck_assert_int_eq(K->labels_find(m, "sci entific", 3), 2);
	ck_assert_int_eq(K->labels_find(m, "sp", 2), -1);
	ck_assert_int_eq(K->labels_unknown(&host, m, "d.tsv", 7, "arts", 4), LETHE_EPARSE);
	ck_assert_str_eq(last_error,
	                 "d.tsv:7: unknown label 'arts' (expected one of 'sport', 'biz', 'sci')");
	K->labels_free(m);
	const lethe_option dup[] = {{"labels.a", "x", "c.yaml:3:5"},
	                            {"labels.b", "x", "c.yaml:3:9"}};
	ck_assert_int_eq(K->labels_from_options(&host, &m, "labels", dup, 2, NULL), LETHE_EINVAL);
	ck_assert_str_eq(last_error, "c.yaml:3:9: option 'labels': 'x' appears twice");
	ck_assert_ptr_null(m);
	const lethe_option one[] = {{"labels.a", "x", "c.yaml:3:5"}};
	ck_assert_int_eq(K->labels_from_options(&host, &m, "labels", one, 1, NULL), LETHE_EINVAL);
	ck_assert_str_eq(last_error,
	                 "c.yaml:3:5: option 'labels': a classification needs at least two labels");
	const lethe_option bare[] = {{"labels", "x", "c.yaml:3:5"}};
	ck_assert_int_eq(K->labels_from_options(&host, &m, "labels", bare, 1, NULL), LETHE_EINVAL);
	ck_assert_str_eq(
	    last_error,
	    "c.yaml:3:5: option 'labels': expected a map such as {0: negative, 1: positive}");
	static const char *const colours[] = {"red", "green", NULL};
	ck_assert_int_eq(
	    K->expected_one_of(&host, "c.yaml:9:1", "option 'colour'", "gren", colours),
	    LETHE_EINVAL);
	ck_assert_str_eq(last_error, "c.yaml:9:1: option 'colour': expected one of 'red', 'green', "
	                             "got 'gren' (did you mean 'green'?)");
	ck_assert_int_eq(K->expected_one_of(&host, "x.tsv:2", NULL, "blue", colours), LETHE_EINVAL);
	ck_assert_str_eq(last_error, "x.tsv:2: expected one of 'red', 'green', got 'blue'");
}
END_TEST

START_TEST(quote_list)
{
	static const char *const names[] = {"line", "paragraph", NULL};
	char buf[64];
	K->quote_list(names, buf, sizeof(buf));
	ck_assert_str_eq(buf, "'line', 'paragraph'");
	static const char *const none[] = {NULL};
	K->quote_list(none, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	/* Too long for the buffer: cut, still terminated. */
	char small[8];
	K->quote_list(names, small, sizeof(small));
	ck_assert_str_eq(small, "'line',");
}
END_TEST

START_TEST(load_status)
{
	last_error[0] = '\0';
	ck_assert_int_eq(K->load_status(&host, "a.tsv", 0, 3, "no examples"), 0);
	ck_assert_str_eq(last_error, "");
	/* A file that parsed but held nothing is an error, not an empty task. */
	ck_assert_int_eq(K->load_status(&host, "a.tsv", 0, 0, "no examples"), LETHE_EPARSE);
	ck_assert_str_eq(last_error, "a.tsv: no examples");
	ck_assert_int_eq(K->load_status(&host, "b.tsv", LETHE_ENOMEM, 0, "no examples"),
	                 LETHE_ENOMEM);
	ck_assert_str_eq(last_error, "b.tsv: out of memory");
	/* A parse error was already reported where it happened: nothing is added. */
	last_error[0] = '\0';
	ck_assert_int_eq(K->load_status(&host, "c.tsv", LETHE_EPARSE, 0, "no examples"),
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
	ck_assert_int_eq(K->read_file(&host, path, &data, &len), LETHE_EPARSE);
	snprintf(want, sizeof(want),
	         "%s:2:3: a NUL byte: a text file cannot hold one (is this a binary file?)", path);
	ck_assert_str_eq(last_error, want);
	/* A byte-order mark is dropped, so that the first field is not "\ufeffTom". */
	path = write_tmp("bom.tsv", "\xef\xbb\xbfTom\tB-PER\n", 13);
	ck_assert_int_eq(K->read_file(&host, path, &data, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(data, "Tom\tB-PER\n");
	free(data);
	path = write_tmp("bomonly.tsv", "\xef\xbb\xbf", 3);
	ck_assert_int_eq(K->read_file(&host, path, &data, &len), LETHE_EPARSE);
	snprintf(want, sizeof(want), "%s: file is empty", path);
	ck_assert_str_eq(last_error, want);
	/* A device that never ends in text is refused at its first NUL, not read to exhaustion. */
	ck_assert_int_eq(K->read_file(&host, "/dev/zero", &data, &len), LETHE_EPARSE);
	ck_assert_str_eq(
	    last_error,
	    "/dev/zero:1:1: a NUL byte: a text file cannot hold one (is this a binary file?)");
}
END_TEST

/* The host table as ABI version 1 shipped it, before the kit was appended: a plugin built then
 * reads these members at these offsets, so it still loads and runs. */
struct host_v1 {
	uint32_t abi_version;
	uint32_t struct_size;
	void *ctx;
	void (*error)(void *ctx, const char *fmt, ...);
	void (*log)(void *ctx, lethe_log_level level, const char *fmt, ...);
	int (*metric)(lethe_scores *out, const char *name, double value, unsigned flags);
	const lethe_metrics_api *metrics;
};

START_TEST(append_only)
{
	ck_assert_uint_eq(offsetof(lethe_host, ctx), offsetof(struct host_v1, ctx));
	ck_assert_uint_eq(offsetof(lethe_host, error), offsetof(struct host_v1, error));
	ck_assert_uint_eq(offsetof(lethe_host, log), offsetof(struct host_v1, log));
	ck_assert_uint_eq(offsetof(lethe_host, metric), offsetof(struct host_v1, metric));
	ck_assert_uint_eq(offsetof(lethe_host, metrics), offsetof(struct host_v1, metrics));
	ck_assert_uint_eq(offsetof(lethe_host, kit), sizeof(struct host_v1));
	ck_assert_uint_eq(LETHE_PLUGIN_ABI_VERSION, 1);
	/* A plugin built with the kit, handed a version-1 host, sees that the kit is absent. */
	lethe_host old = host;
	old.struct_size = (uint32_t)sizeof(struct host_v1);
	ck_assert(!LETHE_HOST_HAS_KIT(&old));
	ck_assert(LETHE_HOST_HAS_KIT(&host));
	ck_assert_uint_eq(host.kit->struct_size, sizeof(lethe_kit_api));
}
END_TEST

int main(void)
{
	host.kit = lethe_kit();
	Suite *s = suite_create("kit");
	TCase *tc = tcase_create("kit");
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, lines);
	tcase_add_test(tc, suggestions);
	tcase_add_test(tc, options);
	tcase_add_test(tc, pool);
	tcase_add_test(tc, json);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, append_only);
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
