/*
 * lethe/run.h: running a validated curriculum: the tokenizer, then the baseline evaluation, then
 * each stage's training and evaluation, into the run file (docs/run-file.md). Resuming continues
 * a run file after its last completed row.
 */
#ifndef LETHE_RUN_H
#define LETHE_RUN_H

#include <lethe/common.h>
#include <lethe/curriculum.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LETHE_RUN_OPTIONS_VERSION 3u

/* Options of a run. Starts with its version and only grows at the end; initialise it with
 * LETHE_RUN_OPTIONS_INIT and set what differs. */
typedef struct lethe_run_options {
	unsigned version; /* LETHE_RUN_OPTIONS_VERSION */
	int threads;      /* training and evaluation threads */
	int quiet;        /* no progress on stderr */
	int force;        /* overwrite an existing run file */
	int resume;       /* continue the run file after its last completed row */
	/* Version 2: the live log (docs/run-file.md#the-live-log): NULL writes
	 * <output>.log.jsonl (or .log.csv), "" none; appended to when resuming. */
	const char *log;
	int log_csv; /* CSV instead of JSON lines */
	/* Version 3: under mpirun or srun (docs/distributed.md), sum the ranks' gradients in rank
	 * order on rank 0 and broadcast them, for bit-identical repeated runs (slower than
	 * MPI_Allreduce). No effect on one process. */
	int deterministic_reduce;
} lethe_run_options;

#define LETHE_RUN_OPTIONS_INIT                                                                     \
	{                                                                                          \
		LETHE_RUN_OPTIONS_VERSION, 1, 0, 0, 0, NULL, 0, 0                                  \
	}

/* Runs c, loaded with its data (lethe_curriculum_load() with a registry and load_data) and
 * without errors, into lethe_curriculum_output(c). Returns 0 or a negative code with the reason,
 * one line naming the file or task, in lethe_curriculum_errmsg(c): LETHE_EEXISTS (the run file
 * exists, neither force nor resume), LETHE_ENOTFOUND (nothing to resume), LETHE_EVERSION (options
 * of another version), LETHE_EINVAL, LETHE_EIO, LETHE_ENOMEM, LETHE_EUNSUPPORTED (model: {from}
 * is not trained by this version). Resuming, a run file that cannot be continued (malformed,
 * written by another curriculum, seed or model) is refused with LETHE_EPARSE, another
 * format_version with LETHE_EVERSION, before anything is written: the file is left as it was. A
 * failed run keeps the stages it completed in the run file. */
LETHE_EXPORT int lethe_run_curriculum(lethe_curriculum *c, const lethe_run_options *o);

#ifdef __cplusplus
}
#endif

#endif
