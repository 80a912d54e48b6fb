/*
 * check_curriculum.c: the YAML tree (positions, flow and block styles, refusals) and the
 * curriculum reader (defaults, stage overrides, ${VAR} expansion, relative paths, plugin options
 * flattened with their places), without plugins or data.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/curriculum.h>
#include <lethe/lethe.h>

#include "../engine/curriculum/yaml.h"

START_TEST(yaml_positions)
{
	const char *text = "a: 1\nb:\n  - x\n  - {k: 'v', n: [1, 2]}\n";
	lethe_yaml y;
	ck_assert_int_eq(lethe_yaml_parse(&y, text, strlen(text)), 0);
	const lethe_ynode *root = y.root;
	ck_assert_int_eq(root->type, LETHE_YMAP);
	const lethe_ynode *b = lethe_yaml_get(root, "b");
	ck_assert_int_eq(b->type, LETHE_YSEQ);
	ck_assert_uint_eq(b->n, 2);
	const lethe_ynode *flow = b->items[1];
	ck_assert_int_eq(flow->line, 4);
	ck_assert_int_eq(flow->col, 5);
	const lethe_ynode *k = lethe_yaml_get(flow, "k");
	ck_assert_str_eq(k->value, "v");
	ck_assert_int_eq(k->quoted, 1);
	ck_assert_int_eq(k->col, 9);
	ck_assert_int_eq(lethe_yaml_get(flow, "n")->items[1]->col, 21);
	lethe_yaml_clear(&y);
	ck_assert_ptr_null(y.root);

	const char *alias = "a: &x 1\nb: *x\n";
	ck_assert_int_eq(lethe_yaml_parse(&y, alias, strlen(alias)), LETHE_EPARSE);
	ck_assert_int_eq(y.line, 2);
	ck_assert_int_eq(y.col, 4);
	ck_assert_str_eq(y.err.msg, "aliases (*name) are not supported; write the value out");
	ck_assert_ptr_null(y.root);
	const char *two = "a: 1\n---\nb: 2\n";
	ck_assert_int_eq(lethe_yaml_parse(&y, two, strlen(two)), LETHE_EPARSE);
	ck_assert_int_eq(y.line, 2);
	ck_assert_int_eq(y.col, 1);
	ck_assert_str_eq(y.err.msg, "a curriculum is one YAML document");
	const char *key = "? [a]\n: 1\n";
	ck_assert_int_eq(lethe_yaml_parse(&y, key, strlen(key)), LETHE_EPARSE);
	ck_assert_int_eq(y.line, 1);
	ck_assert_int_eq(y.col, 3);
	ck_assert_str_eq(y.err.msg, "a key must be a plain value");
	const char *bad = "a: [1, 2\nb: 3\n";
	ck_assert_int_eq(lethe_yaml_parse(&y, bad, strlen(bad)), LETHE_EPARSE);
	ck_assert_int_gt(y.line, 0);
	ck_assert_str_ne(y.err.msg, "");
	ck_assert_int_eq(lethe_yaml_parse(&y, "", 0), 0);
	ck_assert_ptr_null(y.root);
}
END_TEST

static const char *write_file(const char *name, const char *text)
{
	static char path[1024];
	snprintf(path, sizeof(path), "%s/%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(reads_defaults_overrides_and_options)
{
	setenv("LETHE_TEST_WORD", "hello", 1);
	unsetenv("LETHE_TEST_UNSET");
	const char *path = write_file(
	    "c1.yaml",
	    "lethe: 1\n"
	    "train: {lr: 0.01, batch: 8, schedule: {name: linear, warmup: 3}}\n"
	    "tasks:\n"
	    "  t: {plugin: text, train: \"data/${LETHE_TEST_WORD}.txt\", eval: /abs/e.txt,\n"
	    "      labels: {0: \"${LETHE_TEST_UNSET:-no}\", 1: yes}, list: [a, b]}\n"
	    "stages:\n"
	    "  - {name: s1, tasks: [t]}\n"
	    "  - {name: s2, tasks: [t], lr: 0.5, steps: 7, freeze: [norms, mlp]}\n");
	lethe_curriculum *c;
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), 0);
	ck_assert_uint_eq(lethe_curriculum_error_count(c), 0);
	ck_assert_str_eq(lethe_curriculum_errmsg(c), "");
	ck_assert_str_eq(lethe_curriculum_path(c), path);
	ck_assert_str_eq(lethe_curriculum_name(c), "c1");
	ck_assert_uint_eq(lethe_curriculum_seed(c), 1234);
	ck_assert_int_eq(lethe_curriculum_model(c)->dim, 128);
	ck_assert_int_eq(lethe_curriculum_vocab(c), 4096);
	ck_assert_uint_eq(lethe_curriculum_task_count(c), 1);
	ck_assert_ptr_null(lethe_curriculum_task(c, 1));
	const lethe_cur_task *t = lethe_curriculum_task(c, 0);
	ck_assert_str_eq(t->name, "t");
	ck_assert_str_eq(t->plugin, "text");
	char want[1100];
	snprintf(want, sizeof(want), "%s/data/hello.txt",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_str_eq(t->train, want);
	ck_assert_str_eq(t->eval, "/abs/e.txt");
	ck_assert_uint_eq(t->n_options, 4);
	ck_assert_str_eq(t->options[0].key, "labels.0");
	ck_assert_str_eq(t->options[0].value, "no");
	ck_assert_str_eq(t->options[1].key, "labels.1");
	ck_assert_str_eq(t->options[3].key, "list.1");
	ck_assert_ptr_nonnull(strstr(t->options[0].where, "c1.yaml:5:19"));
	ck_assert_uint_eq(lethe_curriculum_stage_count(c), 2);
	const lethe_cur_stage *s0 = lethe_curriculum_stage(c, 0),
	                      *s1 = lethe_curriculum_stage(c, 1);
	ck_assert_str_eq(s0->name, "s1");
	ck_assert_uint_eq(s0->n_tasks, 1);
	ck_assert_uint_eq(s0->tasks[0], 0);
	ck_assert_double_eq(s0->train.lr, 0.01);
	ck_assert_int_eq(s0->train.batch, 8);
	ck_assert_int_eq(s0->train.schedule, LETHE_SCHEDULE_LINEAR);
	ck_assert_double_eq(s0->train.epochs, 1);
	ck_assert_double_eq(s1->train.lr, 0.5);
	ck_assert_int_eq(s1->train.batch, 8);
	ck_assert_int_eq(s1->train.steps, 7);
	ck_assert_double_eq(s1->train.epochs, 0);
	ck_assert_uint_eq(s1->train.freeze, (1u << LETHE_GROUP_NORMS) | (1u << LETHE_GROUP_MLP));
	ck_assert_uint_eq(lethe_curriculum_eval_count(c), 1);
	ck_assert_uint_eq(lethe_curriculum_eval_task(c, 0), 0);
	ck_assert_int_eq(lethe_curriculum_baseline(c), 1);
	ck_assert_ptr_nonnull(strstr(lethe_curriculum_output(c), "runs/c1.h5"));
	ck_assert_int_eq(lethe_curriculum_set_output(c, "/elsewhere/r.h5"), 0);
	ck_assert_str_eq(lethe_curriculum_output(c), "/elsewhere/r.h5");
	lethe_curriculum_free(c);
}
END_TEST

START_TEST(missing_sections)
{
	const char *path = write_file("c2.yaml", "name: x\n");
	lethe_curriculum *c;
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), LETHE_EPARSE);
	ck_assert_uint_eq(lethe_curriculum_error_count(c), 3);
	ck_assert_ptr_nonnull(
	    strstr(lethe_curriculum_error(c, 0), "c2.yaml:1:1: missing key 'lethe'"));
	ck_assert_int_eq(lethe_curriculum_error_line(c, 0), 1);
	ck_assert_int_eq(lethe_curriculum_error_column(c, 0), 1);
	ck_assert_str_eq(lethe_curriculum_errmsg(c), lethe_curriculum_error(c, 0));
	ck_assert_ptr_null(lethe_curriculum_error(c, 3));
	lethe_curriculum_free(c);
	path = write_file("c3.yaml", "- just\n- a list\n");
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), LETHE_EPARSE);
	ck_assert_ptr_nonnull(
	    strstr(lethe_curriculum_error(c, 0), "c3.yaml:1:1: expected a map of curriculum keys"));
	lethe_curriculum_free(c);
	ck_assert_int_eq(lethe_curriculum_load(&c, "/nonexistent/c.yaml", NULL, 0), LETHE_EPARSE);
	ck_assert_uint_eq(lethe_curriculum_error_count(c), 1);
	ck_assert_int_eq(lethe_curriculum_error_line(c, 0), 0);
	ck_assert_str_eq(lethe_curriculum_error(c, 0),
	                 "/nonexistent/c.yaml: cannot open: No such file or directory");
	lethe_curriculum_free(c);
}
END_TEST

/* Errors come out in file order whatever order validation finds them in (the stages are read
 * after the tasks, the model before both), and two errors at one place keep their order. */
START_TEST(errors_sorted_by_position)
{
	const char *path = write_file("c4.yaml", "lethe: 1\n"                             /* 1 */
	                                         "tasks:\n"                               /* 2 */
	                                         "  t: {plugin: text, eval: e.txt}\n"     /* 3 */
	                                         "stages:\n"                              /* 4 */
	                                         "  - {name: s, tasks: [t], lr: 99}\n"    /* 5 */
	                                         "model: {dim: 30, heads: 4, bogus: 1}\n" /* 6 */
	                                         "tokenizer: {vocab: 3}\n");              /* 7 */
	lethe_curriculum *c;
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), LETHE_EPARSE);
	size_t n = lethe_curriculum_error_count(c);
	ck_assert_uint_ge(n, 5);
	for (size_t i = 1; i < n; i++) {
		int l0 = lethe_curriculum_error_line(c, i - 1),
		    l1 = lethe_curriculum_error_line(c, i);
		ck_assert(l0 < l1 || (l0 == l1 && lethe_curriculum_error_column(c, i - 1) <=
		                                      lethe_curriculum_error_column(c, i)));
		char want[64];
		snprintf(want, sizeof(want), "c4.yaml:%d:%d: ", l1,
		         lethe_curriculum_error_column(c, i));
		ck_assert_ptr_nonnull(strstr(lethe_curriculum_error(c, i), want));
	}
	ck_assert_int_eq(lethe_curriculum_error_line(c, 0), 5);
	ck_assert_int_eq(lethe_curriculum_error_line(c, n - 1), 7);
	lethe_curriculum_free(c);
}
END_TEST

/* A plugin's message about an option is filed under that option's place, among the engine's own
 * errors; run options of another version are refused with the reason on the curriculum. */
START_TEST(plugin_messages_and_run_options)
{
	const char *build = getenv("LETHE_BUILDDIR");
	char so[2048];
	snprintf(so, sizeof(so), "%s/plugins/text/.libs/text.so", build ? build : ".");
	lethe_registry *reg;
	ck_assert_int_eq(lethe_registry_new(&reg), 0);
	ck_assert_msg(lethe_registry_load(reg, so) == 0, "%s", lethe_registry_errmsg(reg));
	const char *path = write_file("c5.yaml", "lethe: 1\n"
	                                         "tasks:\n"
	                                         "  t: {plugin: text, eval: e.txt, unti: line}\n"
	                                         "stages:\n"
	                                         "  - {name: s, tasks: [t]}\n"
	                                         "bogus: 1\n");
	lethe_curriculum *c;
	ck_assert_int_eq(lethe_curriculum_load(&c, path, reg, 0), LETHE_EPARSE);
	ck_assert_uint_eq(lethe_curriculum_error_count(c), 3);
	ck_assert_int_eq(lethe_curriculum_error_line(c, 0), 3); /* the option */
	ck_assert_int_eq(lethe_curriculum_error_column(c, 0), 40);
	ck_assert_ptr_nonnull(strstr(lethe_curriculum_error(c, 0),
	                             "c5.yaml:3:40: plugin 'text' has no option 'unti'"));
	ck_assert_int_eq(lethe_curriculum_error_line(c, 1), 5); /* t has no train data */
	ck_assert_int_eq(lethe_curriculum_error_line(c, 2), 6); /* bogus */
	lethe_curriculum_free(c);

	path = write_file("c6.yaml", "lethe: 1\n"
	                             "tasks: {t: {plugin: text, train: t.txt}}\n"
	                             "stages: [{name: s, tasks: [t]}]\n");
	ck_assert_int_eq(lethe_curriculum_load(&c, path, reg, 0), 0);
	lethe_run_options o = LETHE_RUN_OPTIONS_INIT;
	o.version = 99;
	ck_assert_int_eq(lethe_run_curriculum(c, &o), LETHE_EVERSION);
	ck_assert_str_eq(lethe_curriculum_errmsg(c),
	                 "run options of version 99: this liblethe knows versions 1 to 3");
	lethe_curriculum_free(c);
	lethe_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("curriculum");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, yaml_positions);
	tcase_add_test(tc, reads_defaults_overrides_and_options);
	tcase_add_test(tc, missing_sections);
	tcase_add_test(tc, errors_sorted_by_position);
	tcase_add_test(tc, plugin_messages_and_run_options);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
