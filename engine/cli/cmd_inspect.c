/*
 * cmd_inspect.c: `lethe inspect`, which loads one data file with a task plugin and prints what
 * the plugin made of it: its counts, how the task is predicted, and the first examples as
 * prompt and target. It is how a user checks data and options before writing a curriculum, and
 * how a plugin author tries a plugin without a model.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "Usage: lethe inspect [OPTIONS] PLUGIN FILE\n\n"
	           "Loads FILE with the task plugin PLUGIN (a name on the plugin search path, or a "
	           "path to\n"
	           "a plugin file) and prints its statistics and first examples.\n\n"
	           "  -o, --option KEY=VALUE  a task option, as in a curriculum's task entry "
	           "(repeatable)\n"
	           "  -s, --split train|eval  the split to load as (default: eval)\n"
	           "  -n, --show N            examples to print (default: 3)\n"
	           "  -p, --plugin-path PATH  search PATH for plugins first (repeatable)\n"
	           "  -h, --help              show this help\n");
}

/* Prints s[0..n) as a C-escaped string so that tabs, newlines and control bytes are visible. */
static void print_escaped(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *mode_name(lethe_predict_mode mode)
{
	switch (mode) {
	case LETHE_PREDICT_GENERATE: return "generate";
	case LETHE_PREDICT_CHOICE: return "choice";
	default: return "likelihood";
	}
}

static int report(lethe_instance *inst, lethe_split split, const char *file, size_t show)
{
	size_t n;
	if (lethe_instance_load(inst, split, file, &n)) {
		lethe_cli_error("%s", lethe_instance_errmsg(inst));
		return LETHE_EXIT_USAGE;
	}
	printf("plugin: %s %s\nfile: %s\nexamples: %zu\n", lethe_instance_plugin(inst)->name,
	       lethe_instance_plugin(inst)->version, file, n);
	lethe_scores *stats;
	if (lethe_scores_new(&stats))
		return LETHE_EXIT_FAILED;
	int rc = lethe_instance_stats(inst, split, stats);
	for (size_t i = 0; rc == 0 && i < lethe_scores_count(stats); i++) {
		const char *name;
		double v;
		lethe_scores_at(stats, i, &name, &v, NULL);
		if (strcmp(name, "examples") != 0)
			printf("%s: %.17g\n", name, v);
	}
	lethe_scores_free(stats);
	if (rc && rc != LETHE_EUNSUPPORTED) {
		lethe_cli_error("%s", lethe_instance_errmsg(inst));
		return LETHE_EXIT_FAILED;
	}
	lethe_predict_spec spec;
	if (lethe_instance_predict_spec(inst, &spec)) {
		lethe_cli_error("%s", lethe_instance_errmsg(inst));
		return LETHE_EXIT_FAILED;
	}
	printf("prediction: %s", mode_name(spec.mode));
	if (spec.mode == LETHE_PREDICT_GENERATE)
		printf(" (up to %u new tokens)", spec.max_new_tokens);
	for (size_t i = 0; spec.mode == LETHE_PREDICT_CHOICE && i < spec.n_choices; i++) {
		fputs(i ? ", " : " among ", stdout);
		print_escaped(spec.choices[i], strlen(spec.choices[i]));
	}
	putchar('\n');
	for (size_t i = 0; i < n && i < show; i++) {
		lethe_example ex;
		if (lethe_instance_example(inst, split, i, &ex)) {
			lethe_cli_error("%s", lethe_instance_errmsg(inst));
			return LETHE_EXIT_FAILED;
		}
		printf("\n[%zu] prompt: ", i);
		print_escaped(ex.prompt, ex.prompt_len);
		printf("\n[%zu] target: ", i);
		print_escaped(ex.target, ex.target_len);
		putchar('\n');
	}
	return LETHE_EXIT_OK;
}

int lethe_cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"option", required_argument, NULL, 'o'}, {"split", required_argument, NULL, 's'},
	    {"show", required_argument, NULL, 'n'},   {"plugin-path", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	lethe_cli_paths paths = {0};
	lethe_option *options = NULL;
	size_t n_options = 0, show = 3;
	lethe_split split = LETHE_SPLIT_EVAL;
	int c, status = LETHE_EXIT_USAGE;
	lethe_registry *reg = NULL;
	lethe_instance *inst = NULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:s:n:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				lethe_cli_error("inspect: option '%s': expected KEY=VALUE", optarg);
				goto done;
			}
			lethe_option *o = realloc(options, (n_options + 1) * sizeof(*o));
			if (!o)
				goto done;
			options = o;
			*eq = '\0'; /* argv is ours to edit */
			options[n_options++] = (lethe_option){optarg, eq + 1, "command line"};
			break;
		}
		case 's':
			if (strcmp(optarg, "train") == 0)
				split = LETHE_SPLIT_TRAIN;
			else if (strcmp(optarg, "eval") == 0)
				split = LETHE_SPLIT_EVAL;
			else {
				lethe_cli_error(
				    "inspect: --split: expected 'train' or 'eval', got '%s'",
				    optarg);
				goto done;
			}
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || !*optarg || v < 0) {
				lethe_cli_error("inspect: --show: expected a count >= 0, got '%s'",
				                optarg);
				goto done;
			}
			show = (size_t)v;
			break;
		}
		case 'p':
			if (lethe_cli_paths_add(&paths, optarg))
				goto done;
			break;
		case 'h':
			help(stdout);
			status = LETHE_EXIT_OK;
			goto done;
		case ':':
			lethe_cli_error("inspect: option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			lethe_cli_error("inspect: unknown option '%s' (try 'lethe inspect --help')",
			                argv[optind - 1]);
			goto done;
		}
	}
	if (argc - optind != 2) {
		lethe_cli_error("inspect: expected PLUGIN and FILE (try 'lethe inspect --help')");
		goto done;
	}
	const char *plugin = argv[optind], *file = argv[optind + 1];

	const lethe_plugin_info *info;
	size_t pl = strlen(plugin);
	if (strchr(plugin, '/') || (pl > 3 && strcmp(plugin + pl - 3, ".so") == 0)) {
		if (lethe_registry_new(&reg)) {
			status = LETHE_EXIT_FAILED;
			goto done;
		}
		if (lethe_registry_load(reg, plugin)) {
			lethe_cli_error("%s", lethe_registry_errmsg(reg));
			goto done;
		}
		info = lethe_registry_at(reg, 0);
	} else {
		if (lethe_cli_registry(&reg, &paths, 0)) {
			status = LETHE_EXIT_FAILED;
			goto done;
		}
		if (!(info = lethe_registry_find(reg, plugin))) {
			lethe_cli_error(
			    "no plugin named '%s' (looked in %s; a plugin elsewhere: its "
			    "folder with --plugin-path DIR or LETHE_PLUGIN_PATH, or its "
			    "file as ./%s.so)",
			    plugin, lethe_registry_searched(reg), plugin);
			for (size_t i = 0; i < lethe_registry_problem_count(reg); i++)
				lethe_cli_error("%s", lethe_registry_problem(reg, i));
			goto done;
		}
	}
	int rc = lethe_instance_open(&inst, info, options, n_options);
	if (rc) {
		lethe_cli_error("%s", inst ? lethe_instance_errmsg(inst) : lethe_strerror(rc));
		goto done;
	}
	status = report(inst, split, file, show);
done:
	lethe_instance_free(inst);
	lethe_registry_free(reg);
	free(options);
	lethe_cli_paths_free(&paths);
	return status;
}
