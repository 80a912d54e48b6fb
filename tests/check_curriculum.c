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
	lethe_ynode *root;
	char err[256];
	ck_assert_int_eq(lethe_yaml_parse(text, strlen(text), &root, err, sizeof(err)), 0);
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
	lethe_yaml_free(root);

	const char *alias = "a: &x 1\nb: *x\n";
	ck_assert_int_eq(lethe_yaml_parse(alias, strlen(alias), &root, err, sizeof(err)),
	                 LETHE_EPARSE);
	ck_assert_str_eq(err, "2:4: aliases (*name) are not supported; write the value out");
	const char *two = "a: 1\n---\nb: 2\n";
	ck_assert_int_eq(lethe_yaml_parse(two, strlen(two), &root, err, sizeof(err)), LETHE_EPARSE);
	ck_assert_str_eq(err, "2:1: a curriculum is one YAML document");
	const char *key = "? [a]\n: 1\n";
	ck_assert_int_eq(lethe_yaml_parse(key, strlen(key), &root, err, sizeof(err)), LETHE_EPARSE);
	ck_assert_str_eq(err, "1:3: a key must be a plain value");
	ck_assert_int_eq(lethe_yaml_parse("", 0, &root, err, sizeof(err)), 0);
	ck_assert_ptr_null(root);
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
	ck_assert_str_eq(c->name, "c1");
	ck_assert_uint_eq(c->seed, 1234);
	ck_assert_int_eq(c->model.dim, 128);
	ck_assert_int_eq(c->vocab, 4096);
	ck_assert_uint_eq(c->n_tasks, 1);
	const lethe_cur_task *t = &c->tasks[0];
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
	ck_assert_uint_eq(c->n_stages, 2);
	ck_assert_double_eq(c->stages[0].train.lr, 0.01);
	ck_assert_int_eq(c->stages[0].train.batch, 8);
	ck_assert_int_eq(c->stages[0].train.schedule, LETHE_SCHEDULE_LINEAR);
	ck_assert_double_eq(c->stages[0].train.epochs, 1);
	ck_assert_double_eq(c->stages[1].train.lr, 0.5);
	ck_assert_int_eq(c->stages[1].train.batch, 8);
	ck_assert_int_eq(c->stages[1].train.steps, 7);
	ck_assert_double_eq(c->stages[1].train.epochs, 0);
	ck_assert_uint_eq(c->stages[1].train.freeze,
	                  (1u << LETHE_GROUP_NORMS) | (1u << LETHE_GROUP_MLP));
	ck_assert_uint_eq(c->n_eval_tasks, 1);
	ck_assert_int_eq(c->baseline, 1);
	ck_assert_ptr_nonnull(strstr(c->output, "runs/c1.h5"));
	lethe_curriculum_free(c);
}
END_TEST

START_TEST(missing_sections)
{
	const char *path = write_file("c2.yaml", "name: x\n");
	lethe_curriculum *c;
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), LETHE_EPARSE);
	ck_assert_uint_eq(c->n_errors, 3);
	ck_assert_ptr_nonnull(strstr(c->errors[0], "c2.yaml:1:1: missing key 'lethe'"));
	lethe_curriculum_free(c);
	path = write_file("c3.yaml", "- just\n- a list\n");
	ck_assert_int_eq(lethe_curriculum_load(&c, path, NULL, 0), LETHE_EPARSE);
	ck_assert_ptr_nonnull(
	    strstr(c->errors[0], "c3.yaml:1:1: expected a map of curriculum keys"));
	lethe_curriculum_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("curriculum");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, yaml_positions);
	tcase_add_test(tc, reads_defaults_overrides_and_options);
	tcase_add_test(tc, missing_sections);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
