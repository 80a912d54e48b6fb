/*
 * runner.h: running a curriculum (runner.c). Private to liblethe and the command.
 */
#ifndef LETHE_RUNNER_H
#define LETHE_RUNNER_H

#include <stddef.h>

#include <lethe/curriculum.h>

typedef struct lethe_run_options {
	int threads;
	int quiet;
	int force;  /* overwrite an existing run file */
	int resume; /* continue the run file after its last completed row */
} lethe_run_options;

/* Runs c (validated, data loaded). err receives a one-line message on failure. Resuming, a run
 * file that cannot be continued (malformed, written by another curriculum) is refused with
 * LETHE_EPARSE, another format_version with LETHE_EVERSION, before anything is written. */
LETHE_EXPORT int lethe_run_curriculum(lethe_curriculum *c, const lethe_run_options *o, char *err,
                                      size_t err_size);

#endif
