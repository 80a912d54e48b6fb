/*
 * cli.h: what the subcommands of the `lethe` program share: exit codes, the subcommand
 * entry points and the plugin search options. Not part of liblethe.
 */
#ifndef LETHE_CLI_H
#define LETHE_CLI_H

#include <stdio.h>

#include <lethe/lethe.h>

/* Exit codes, documented in lethe(1). */
enum {
	LETHE_EXIT_OK = 0,
	LETHE_EXIT_FAILED = 1, /* the work itself failed (a run, a plugin at run time) */
	LETHE_EXIT_USAGE = 2   /* bad usage or bad input */
};

int lethe_cmd_plugins(int argc, char **argv);
int lethe_cmd_inspect(int argc, char **argv);
int lethe_cmd_score(int argc, char **argv);
int lethe_cmd_validate(int argc, char **argv);
int lethe_cmd_run(int argc, char **argv);
int lethe_cmd_sweep(int argc, char **argv);
int lethe_cmd_report(int argc, char **argv);
int lethe_cmd_compare(int argc, char **argv);
int lethe_cmd_tokenize(int argc, char **argv);
int lethe_cmd_generate(int argc, char **argv);
int lethe_cmd_export(int argc, char **argv);
/* lethe report --follow: run's live log (log, or RUN.log.jsonl) printed as it grows until the run
 * ends (once: printed once, without waiting). Returns an exit status. */
int lethe_cli_follow(const char *run, const char *log, int once);

/* Prints "lethe: " and the message on stderr. */
void lethe_cli_error(const char *fmt, ...) LETHE_PRINTF(1, 2);

/* The --plugin-path values gathered by a subcommand. */
typedef struct lethe_cli_paths {
	const char **items;
	size_t n;
} lethe_cli_paths;
int lethe_cli_paths_add(lethe_cli_paths *paths, const char *path);
void lethe_cli_paths_free(lethe_cli_paths *paths);

/* MODEL as generate and tokenize take it: a Hugging Face directory or llama2.c checkpoint, or a
 * run file (its row stage, NULL for the last trained one). m NULL: the tokenizer only; tok NULL:
 * the model only; context
 * limits a checkpoint's (0: its own). Errors are printed; the caller frees what it got. */
int lethe_cli_model_source(const char *path, const char *stage, int context, lethe_tokenizer **tok,
                           lethe_model **m);

/* text[0..n) with every byte that is not part of valid UTF-8 (and NUL) replaced by U+FFFD, as
 * transformers' decode does; malloc'd, NULL when memory runs out. For JSON and terminals. */
char *lethe_cli_utf8_lossy(const char *text, size_t n);

/* A report's output: standard output (path NULL), or path written through a temporary file in
 * its directory, renamed over it by lethe_cli_out_close(o, 1) when complete (removed when ok is 0
 * or writing failed). Refuses an output that exists and is not a regular file, or is one of
 * inputs. Errors are printed; -1. */
typedef struct lethe_cli_out {
	FILE *f;
	char *path, *tmp;
} lethe_cli_out;
int lethe_cli_out_open(lethe_cli_out *o, const char *path, const char *const *inputs, int n_inputs);
int lethe_cli_out_close(lethe_cli_out *o, int ok);

/* Discovers plugins in the documented search order; prints refusals on stderr when verbose. */
int lethe_cli_registry(lethe_registry **out, const lethe_cli_paths *paths, int print_problems);

#endif
