/*
 * runlog.h: the live log of a run (runlog.c): one record per optimizer step and per evaluated
 * metric, written and flushed as the run goes, so that `tail -f`, a pandas one-liner and `lethe
 * report --follow` can watch it. Private to run/.
 */
#ifndef LETHE_RUNLOG_H
#define LETHE_RUNLOG_H

#include <stddef.h>

typedef struct lethe_runlog lethe_runlog;

/* Opens path (append: continue a resumed run's log; otherwise truncate), JSON lines or, with csv,
 * CSV with a header. On failure err receives "path: why". */
int lethe_runlog__open(lethe_runlog **out, const char *path, int csv, int append, char *err,
                       size_t err_size);
/* The run's start: its name, the curriculum and the run file. */
void lethe_runlog__start(lethe_runlog *l, const char *run, const char *curriculum,
                         const char *output, int resumed);
/* One optimizer step (1-based) of stage (row) with its loss, each task's mean target loss in
 * the step's batches (NaN when it drew none), and a method's penalty (NaN: none). */
void lethe_runlog__step(lethe_runlog *l, size_t row, const char *stage, size_t step, size_t steps,
                        double loss, double lr, double grad_norm, double tokens_per_s,
                        double seconds, const char *const *tasks, const double *task_loss,
                        size_t n_tasks, double penalty);
/* One metric of one task after row. */
void lethe_runlog__eval(lethe_runlog *l, size_t row, const char *stage, const char *task,
                        const char *metric, double value, int primary);
/* One within-stage evaluation (evaluate: {every: N}) of one task's primary metric after step
 * (1-based) of stage (row), on its first examples evaluation examples. */
void lethe_runlog__curve(lethe_runlog *l, size_t row, const char *stage, size_t step,
                         const char *task, const char *metric, double value, size_t examples);
/* The end: "ok" or the failure's message. NULL-safe. */
void lethe_runlog__close(lethe_runlog *l, const char *status);

#endif
