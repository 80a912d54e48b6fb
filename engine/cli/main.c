/*
 * main.c: the `lethe` program: global options and dispatch to subcommands (cmd_*.c). Each
 * subcommand parses its own options and has its own --help.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"run", lethe_cmd_run, "train a curriculum stage by stage and write its run file"},
    {"sweep", lethe_cmd_sweep, "run a curriculum once per seed into a directory of run files"},
    {"compare", lethe_cmd_compare, "put several runs' forgetting measures side by side"},
    {"report", lethe_cmd_report, "print a run's score matrix and forgetting measures"},
    {"validate", lethe_cmd_validate,
     "check a curriculum: keys, values, tasks, plugins and data files"},
    {"plugins", lethe_cmd_plugins, "list the task plugins found on the plugin search path"},
    {"inspect", lethe_cmd_inspect, "load a data file with a task plugin and show its examples"},
    {"score", lethe_cmd_score, "compute BLEU, chrF, ROUGE, seqeval F1 or classification metrics"},
    {"tokenize", lethe_cmd_tokenize, "turn lines into a pretrained model's token ids, or back"},
    {"generate", lethe_cmd_generate,
     "continue prompts greedily with a checkpoint or a run's model"},
    {"export", lethe_cmd_export, "write a run's model as a Hugging Face Llama directory"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

void lethe_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lethe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int lethe_cli_paths_add(lethe_cli_paths *paths, const char *path)
{
	const char **items = realloc(paths->items, (paths->n + 1) * sizeof(*items));
	if (!items)
		return LETHE_ENOMEM;
	items[paths->n++] = path;
	paths->items = items;
	return 0;
}

void lethe_cli_paths_free(lethe_cli_paths *paths)
{
	free(paths->items);
	*paths = (lethe_cli_paths){0};
}

/* Commands other than `lethe plugins` go on past a plugin that cannot be loaded (another one of
 * the same name may serve), but never silently: each problem `lethe plugins` would report as an
 * error is a warning here, and so is a LETHE_PLUGIN_PATH entry that does not exist or cannot be
 * read (a missing --plugin-path is an error of its own). */
static void warn_plugin_problems(const lethe_registry *reg, int problems)
{
	for (size_t i = 0; problems && i < lethe_registry_problem_count(reg); i++)
		fprintf(stderr, "lethe: warning: %s (skipped)\n", lethe_registry_problem(reg, i));
	const char *env = getenv("LETHE_PLUGIN_PATH");
	char *copy = env ? strdup(env) : NULL, *save = NULL;
	for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir;
	     dir = strtok_r(NULL, ":", &save)) {
		struct stat st;
		if (stat(dir, &st) != 0)
			fprintf(stderr, "lethe: warning: LETHE_PLUGIN_PATH entry '%s': %s\n", dir,
			        strerror(errno));
		else if (S_ISDIR(st.st_mode) && access(dir, R_OK | X_OK) != 0)
			fprintf(
			    stderr,
			    "lethe: warning: LETHE_PLUGIN_PATH entry '%s': cannot be read: %s\n",
			    dir, strerror(errno));
	}
	free(copy);
}

int lethe_cli_registry(lethe_registry **out, const lethe_cli_paths *paths, int print_problems)
{
	int rc = lethe_registry_new(out);
	if (rc == 0)
		rc = lethe_registry_discover(*out, paths->items, paths->n);
	if (rc) {
		lethe_cli_error("cannot search for plugins: %s", lethe_strerror(rc));
		return rc;
	}
	for (size_t i = 0; print_problems && i < lethe_registry_problem_count(*out); i++)
		lethe_cli_error("%s", lethe_registry_problem(*out, i));
	warn_plugin_problems(*out, !print_problems);
	return 0;
}

/* The tuning variables liblethe reads (it falls back to its default on a value it cannot use,
 * as a library must); the command refuses them instead, so that a typo is not silently a
 * different setting. */
static int check_env_number(const char *name, unsigned long long lo, unsigned long long hi,
                            const char *what)
{
	const char *e = getenv(name);
	if (!e || !*e) /* empty is unset, as the library reads it */
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long v = *e >= '0' && *e <= '9' ? strtoull(e, &end, 10) : 0;
	if (!end || *end || errno || v < lo || v > hi) {
		lethe_cli_error("%s='%s': expected %s from %llu to %llu", name, e, what, lo, hi);
		return -1;
	}
	return 0;
}

static int check_env(void)
{
	if (check_env_number("LETHE_SPIN_US", 0, 1000000, "whole microseconds") ||
	    check_env_number("LETHE_DIST_BUCKET_BYTES", 1, 1ull << 40, "a number of bytes"))
		return -1;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: lethe [--version] [--help] COMMAND [ARGS]\n\n"
	       "Fine-tune small language models through curricula and measure what they forget.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
	        "\n'lethe COMMAND --help' describes a command. Exit status: 0 success, 1 the work "
	        "failed, 2 bad usage or input.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return LETHE_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return LETHE_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("lethe %s (plugin ABI %u)\n", LETHE_VERSION_STRING,
		       (unsigned)LETHE_PLUGIN_ABI_VERSION);
		return LETHE_EXIT_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(cmd, commands[i].name) == 0) {
			if (check_env())
				return LETHE_EXIT_USAGE;
			int status = commands[i].run(argc - 1, argv + 1);
			lethe_stop_threads(); /* join liblethe's workers before exit */
			return status;
		}

	const char *names[N_COMMANDS + 1];
	for (size_t i = 0; i < N_COMMANDS; i++)
		names[i] = commands[i].name;
	names[N_COMMANDS] = NULL;
	const char *near = cmd[0] == '-' ? NULL : lethe_kit()->suggest(cmd, names);
	if (cmd[0] == '-')
		lethe_cli_error("unknown option '%s' (try 'lethe --help')", cmd);
	else if (near)
		lethe_cli_error("unknown command '%s' (did you mean '%s'?)", cmd, near);
	else
		lethe_cli_error("unknown command '%s' (try 'lethe --help')", cmd);
	return LETHE_EXIT_USAGE;
}
