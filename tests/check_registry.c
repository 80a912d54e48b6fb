/*
 * check_registry.c: plugin discovery and loading, and every refusal with its exact message.
 * The deliberately broken plugins come from tests/plugins/ (LETHE_TEST_PLUGINS names where
 * libtool left them); the tests clear LETHE_PLUGIN_PATH so installed plugins cannot interfere.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lethe/lethe.h>

static char path_buf[8][1024];
static int path_next;

/* The path of a test plugin, e.g. plugin("bad_abi"). */
static const char *plugin(const char *name)
{
	const char *dir = getenv("LETHE_TEST_PLUGINS");
	ck_assert_msg(dir != NULL, "LETHE_TEST_PLUGINS is not set");
	char *buf = path_buf[path_next++ % 8];
	snprintf(buf, sizeof(path_buf[0]), "%s/%s.so", dir, name);
	return buf;
}

static lethe_registry *reg;

static void setup(void)
{
	unsetenv("LETHE_PLUGIN_PATH");
	ck_assert_int_eq(lethe_registry_new(&reg), 0);
}

static void teardown(void)
{
	lethe_registry_free(reg);
}

/* Loading path must fail with code and exactly "<path><suffix>". */
static void refused(const char *path, int code, const char *suffix)
{
	ck_assert_int_eq(lethe_registry_load(reg, path), code);
	char want[4096];
	snprintf(want, sizeof(want), "%s%s", path, suffix);
	ck_assert_str_eq(lethe_registry_errmsg(reg), want);
	ck_assert_uint_eq(lethe_registry_count(reg), 0);
}

START_TEST(loads_a_good_plugin)
{
	const char *path = plugin("good");
	ck_assert_int_eq(lethe_registry_load(reg, path), 0);
	ck_assert_uint_eq(lethe_registry_count(reg), 1);
	const lethe_plugin_info *info = lethe_registry_find(reg, "good");
	ck_assert_ptr_nonnull(info);
	ck_assert_str_eq(info->name, "good");
	ck_assert_str_eq(info->version, "0.0.1");
	ck_assert_str_eq(info->description, "a test plugin");
	ck_assert_str_eq(info->path, path);
	ck_assert_ptr_eq(lethe_registry_at(reg, 0), info);
	ck_assert_ptr_null(lethe_registry_find(reg, "text"));
}
END_TEST

START_TEST(refuses_non_regular_file)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/dir.so", getenv("TMPDIR"));
	mkdir(dir, 0755);
	refused(dir, LETHE_ELOAD, ": not a regular file");
	refused("/dev/null", LETHE_ELOAD, ": not a regular file");
	rmdir(dir);
	refused("/nonexistent/x.so", LETHE_ENOTFOUND, ": No such file or directory");
}
END_TEST

START_TEST(refuses_dlopen_failure)
{
	const char *path = plugin("bad_undefined");
	ck_assert_int_eq(lethe_registry_load(reg, path), LETHE_ELOAD);
	char want[4096];
	snprintf(want, sizeof(want),
	         "%s: cannot load plugin: %s: undefined symbol: lethe_test_no_such_function", path,
	         path);
	ck_assert_str_eq(lethe_registry_errmsg(reg), want);

	/* A file that is not an ELF object at all. */
	char junk[1024];
	snprintf(junk, sizeof(junk), "%s/junk.so", getenv("TMPDIR"));
	FILE *f = fopen(junk, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 8; i++)
		fputs("this is not a shared object\n", f);
	fclose(f);
	ck_assert_int_eq(lethe_registry_load(reg, junk), LETHE_ELOAD);
	snprintf(want, sizeof(want), "%s: cannot load plugin: %s: invalid ELF header", junk, junk);
	ck_assert_str_eq(lethe_registry_errmsg(reg), want);
	unlink(junk);
}
END_TEST

START_TEST(refuses_missing_entry)
{
	refused(plugin("bad_noentry"), LETHE_ELOAD,
	        ": not a lethe plugin: no symbol 'lethe_plugin_entry'");
}
END_TEST

START_TEST(refuses_abi_mismatch)
{
	refused(plugin("bad_abi"), LETHE_EVERSION,
	        ": plugin built for ABI version 99, but this lethe supports ABI version 1");
}
END_TEST

START_TEST(refuses_small_descriptor)
{
	char suffix[256];
	snprintf(suffix, sizeof(suffix),
	         ": plugin descriptor is 16 bytes, smaller than the %zu bytes of ABI version 1",
	         offsetof(lethe_plugin, primary_stats));
	refused(plugin("bad_size"), LETHE_EVERSION, suffix);
}
END_TEST

START_TEST(refuses_missing_operation)
{
	refused(plugin("bad_noscore"), LETHE_ELOAD,
	        ": plugin 'noscore' lacks the required operation 'score'");
}
END_TEST

START_TEST(refuses_invalid_name)
{
	refused(plugin("bad_name"), LETHE_ELOAD,
	        ": plugin name 'Bad Name' is invalid: expected [a-z0-9_-]+");
}
END_TEST

START_TEST(refuses_duplicate_name)
{
	const char *a = plugin("dup_a"), *b = plugin("dup_b");
	ck_assert_int_eq(lethe_registry_load(reg, a), 0);
	ck_assert_int_eq(lethe_registry_load(reg, b), LETHE_EEXISTS);
	char want[4096];
	snprintf(want, sizeof(want), "%s: plugin name 'dup' is already taken by %s", b, a);
	ck_assert_str_eq(lethe_registry_errmsg(reg), want);
	ck_assert_uint_eq(lethe_registry_count(reg), 1);
}
END_TEST

static int has_problem(const char *substring)
{
	for (size_t i = 0; i < lethe_registry_problem_count(reg); i++)
		if (strstr(lethe_registry_problem(reg, i), substring))
			return 1;
	return 0;
}

START_TEST(discovers_in_order)
{
	/* An explicit directory: every broken plugin becomes a problem, the good ones load, and the
	 * second 'dup' of the same directory is refused. Then the build tree's bundled plugins. */
	const char *dir = getenv("LETHE_TEST_PLUGINS");
	const char *paths[] = {dir};
	ck_assert_int_eq(lethe_registry_discover(reg, paths, 1), 0);
	ck_assert_ptr_nonnull(lethe_registry_find(reg, "good"));
	ck_assert_ptr_nonnull(lethe_registry_find(reg, "dup"));
	ck_assert_ptr_nonnull(lethe_registry_find(reg, "twoprimary"));
	const lethe_plugin_info *text = lethe_registry_find(reg, "text");
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text->path, "plugins/text/.libs/text.so"));
	/* classify: the bundled label classifier's other name. */
	ck_assert_ptr_nonnull(lethe_registry_find(reg, "classify"));
	ck_assert_ptr_eq(lethe_registry_find(reg, "classify"),
	                 lethe_registry_find(reg, "sentiment"));
	ck_assert_ptr_null(lethe_registry_find(reg, "classif"));
	ck_assert(has_problem("dup_b.so: plugin name 'dup' is already taken by"));
	ck_assert(has_problem("bad_abi.so: plugin built for ABI version 99"));
	ck_assert(has_problem("bad_size.so: plugin descriptor is 16 bytes"));
	ck_assert(has_problem("bad_noentry.so: not a lethe plugin"));
	ck_assert(has_problem("bad_noscore.so: plugin 'noscore' lacks"));
	ck_assert(has_problem("bad_undefined.so: cannot load plugin"));
	ck_assert(has_problem("bad_name.so: plugin name 'Bad Name' is invalid"));
	ck_assert_uint_eq(lethe_registry_problem_count(reg), 7);
}
END_TEST

START_TEST(earlier_levels_shadow_later_ones)
{
	/* good.so given explicitly, and again through LETHE_PLUGIN_PATH: the explicit one wins,
	 * silently, because shadowing across levels is what a search path is for. */
	char copy_dir[1024], copy[1200];
	snprintf(copy_dir, sizeof(copy_dir), "%s/shadow", getenv("TMPDIR"));
	mkdir(copy_dir, 0755);
	snprintf(copy, sizeof(copy), "%s/good.so", copy_dir);
	unlink(copy);
	ck_assert_int_eq(symlink(plugin("good"), copy), 0);
	setenv("LETHE_PLUGIN_PATH", copy_dir, 1);
	const char *paths[] = {plugin("good")};
	ck_assert_int_eq(lethe_registry_discover(reg, paths, 1), 0);
	ck_assert_str_eq(lethe_registry_find(reg, "good")->path, paths[0]);
	ck_assert_uint_eq(lethe_registry_problem_count(reg), 0);

	/* Only the environment: now the copy is found. */
	lethe_registry_free(reg);
	ck_assert_int_eq(lethe_registry_new(&reg), 0);
	ck_assert_int_eq(lethe_registry_discover(reg, NULL, 0), 0);
	ck_assert_str_eq(lethe_registry_find(reg, "good")->path, copy);
	unlink(copy);
	rmdir(copy_dir);
}
END_TEST

START_TEST(explicit_missing_path_is_a_problem)
{
	const char *paths[] = {"/nonexistent/plugins"};
	setenv("LETHE_PLUGIN_PATH", "/also/nonexistent:", 1);
	ck_assert_int_eq(lethe_registry_discover(reg, paths, 1), 0);
	ck_assert_uint_eq(lethe_registry_problem_count(reg), 1);
	ck_assert_str_eq(lethe_registry_problem(reg, 0),
	                 "/nonexistent/plugins: No such file or directory");
}
END_TEST

START_TEST(instance_contracts)
{
	ck_assert_int_eq(lethe_registry_load(reg, plugin("bad_primaries")), 0);
	lethe_instance *inst;
	ck_assert_int_eq(lethe_instance_open(&inst, lethe_registry_at(reg, 0), NULL, 0), 0);
	size_t n;
	ck_assert_int_eq(lethe_instance_load(inst, LETHE_SPLIT_EVAL, "x", &n), 0);
	ck_assert_uint_eq(n, 2);
	lethe_scores *s;
	ck_assert_int_eq(lethe_scores_new(&s), 0);
	lethe_prediction preds[3] = {{0}};
	ck_assert_int_eq(lethe_instance_score(inst, LETHE_SPLIT_EVAL, preds, 3, s, NULL),
	                 LETHE_EINVAL);
	ck_assert_str_eq(lethe_instance_errmsg(inst),
	                 "task 'twoprimary': 3 predictions for 2 loaded examples");
	ck_assert_int_eq(lethe_instance_score(inst, LETHE_SPLIT_EVAL, preds, 2, s, NULL),
	                 LETHE_EINVAL);
	ck_assert_str_eq(
	    lethe_instance_errmsg(inst),
	    "plugin 'twoprimary': score() flagged 2 metrics as primary; exactly one is required");
	lethe_example ex;
	ck_assert_int_eq(lethe_instance_example(inst, LETHE_SPLIT_EVAL, 2, &ex), LETHE_EINVAL);
	ck_assert_int_eq(lethe_instance_stats(inst, LETHE_SPLIT_EVAL, s), LETHE_EUNSUPPORTED);
	ck_assert_str_eq(lethe_instance_errmsg(inst),
	                 "plugin 'twoprimary' does not report statistics");
	lethe_scores_free(s);
	lethe_instance_free(inst);

	lethe_option o[] = {{"k", "v", "c.yaml:2:3"}};
	ck_assert_int_eq(lethe_instance_open(&inst, lethe_registry_at(reg, 0), o, 1), LETHE_EINVAL);
	ck_assert_str_eq(lethe_instance_errmsg(inst), "c.yaml:2:3: fake plugin takes no options");
	lethe_instance_free(inst);
}
END_TEST

START_TEST(text_through_the_engine)
{
	ck_assert_int_eq(lethe_registry_discover(reg, NULL, 0), 0);
	const lethe_plugin_info *text = lethe_registry_find(reg, "text");
	ck_assert_ptr_nonnull(text);
	lethe_instance *inst;
	lethe_option o[] = {{"unit", "line", "t.yaml:1:1"}};
	ck_assert_int_eq(lethe_instance_open(&inst, text, o, 1), 0);
	char file[1024];
	snprintf(file, sizeof(file), "%s/data/text/lines.txt", getenv("LETHE_TEST_SRCDIR"));
	size_t n;
	ck_assert_msg(lethe_instance_load(inst, LETHE_SPLIT_TRAIN, file, &n) == 0, "%s",
	              lethe_instance_errmsg(inst));
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(lethe_instance_size(inst, LETHE_SPLIT_TRAIN), 4);
	lethe_scores *s;
	ck_assert_int_eq(lethe_scores_new(&s), 0);
	ck_assert_int_eq(lethe_instance_stats(inst, LETHE_SPLIT_TRAIN, s), 0);
	ck_assert_int_eq(lethe_scores_primary(s), -1);
	const char *name;
	double v;
	lethe_scores_at(s, 0, &name, &v, NULL);
	ck_assert_str_eq(name, "examples");
	ck_assert_double_eq(v, 4);
	ck_assert_int_eq(lethe_scores_add(s, "examples", 1, 0), LETHE_EEXISTS);
	lethe_scores_free(s);
	lethe_instance_free(inst);
}
END_TEST

START_TEST(error_names)
{
	ck_assert_str_eq(lethe_strerror(LETHE_OK), "success");
	ck_assert_str_eq(lethe_strerror(LETHE_ENOMEM), "out of memory");
	ck_assert_str_eq(lethe_strerror(LETHE_EVERSION), "incompatible version");
	ck_assert_str_eq(lethe_strerror(LETHE_EUNSUPPORTED), "operation not supported");
	ck_assert_str_eq(lethe_strerror(-1000), "unknown error");
	for (int code = LETHE_EUNSUPPORTED; code <= 0; code++)
		ck_assert_str_ne(lethe_strerror(code), "unknown error");
	lethe_registry_free(NULL);
	lethe_instance_free(NULL);
	lethe_scores_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("loader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, loads_a_good_plugin);
	tcase_add_test(tc, refuses_non_regular_file);
	tcase_add_test(tc, refuses_dlopen_failure);
	tcase_add_test(tc, refuses_missing_entry);
	tcase_add_test(tc, refuses_abi_mismatch);
	tcase_add_test(tc, refuses_small_descriptor);
	tcase_add_test(tc, refuses_missing_operation);
	tcase_add_test(tc, refuses_invalid_name);
	tcase_add_test(tc, refuses_duplicate_name);
	tcase_add_test(tc, discovers_in_order);
	tcase_add_test(tc, earlier_levels_shadow_later_ones);
	tcase_add_test(tc, explicit_missing_path_is_a_problem);
	tcase_add_test(tc, instance_contracts);
	tcase_add_test(tc, text_through_the_engine);
	tcase_add_test(tc, error_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
