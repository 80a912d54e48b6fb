/*
 * runlog.c: the live log of a run (runlog.h, docs/run-file.md#the-live-log). Records, JSON lines:
 *   {"event": "start", "run": ..., "curriculum": ..., "output": ..., "resumed": false, "time": ...}
 *   {"event": "step", "row": 1, "stage": "reviews", "step": 12, "steps": 150, "loss": ...,
 *    "lr": ..., "grad_norm": ..., "tokens_per_s": ..., "seconds": ..., "task_loss": {...},
 *    "penalty": ...}                                 (penalty only with a regulariser)
 *   {"event": "eval", "row": 1, "stage": "reviews", "task": "entities", "metric": "f1",
 *    "value": ..., "primary": true}
 *   {"event": "curve", "row": 1, "stage": "reviews", "step": 50, "task": "entities",
 *    "metric": "f1", "value": ..., "examples": 100}  (evaluate: {every: N}, inside a stage)
 *   {"event": "end", "status": "ok", "time": ...}
 * or CSV with the columns event,row,stage,step,steps,loss,lr,grad_norm,tokens_per_s,seconds,
 * task,metric,value (a step's per-task losses as one row each with metric "task_loss"). Numbers
 * are the shortest decimals that read back to the same double; NaN is null (JSON) or empty (CSV).
 * Every record is flushed when written. A write error is reported once on stderr and the log is
 * dropped: the run itself goes on (its run file is what counts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runlog.h"
#include "util/text.h"

struct lethe_runlog {
	FILE *f;
	int csv;
	char *path;
};

int lethe_runlog__open(lethe_runlog **out, const char *path, int csv, int append, char *err,
                       size_t err_size)
{
	*out = NULL;
	lethe_runlog *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	l->csv = csv;
	FILE *f = fopen(path, append ? "a" : "w");
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		free(l->path);
		free(l);
		return -1;
	}
	l->f = f;
	if (csv && ftell(f) == 0)
		fputs(
		    "event,row,stage,step,steps,loss,lr,grad_norm,tokens_per_s,seconds,task,metric,"
		    "value\n",
		    f);
	*out = l;
	return 0;
}

static void flush(lethe_runlog *l)
{
	if (fflush(l->f) != 0 || ferror(l->f)) {
		fprintf(stderr, "lethe: %s: %s; the live log stops here (the run goes on)\n",
		        l->path, strerror(errno));
		fclose(l->f);
		l->f = NULL;
	}
}

/* A number: shortest round-trip decimal, null/empty for NaN and infinities. */
static void num(lethe_runlog *l, double v)
{
	char buf[40];
	if (!isfinite(v)) {
		if (!l->csv)
			fputs("null", l->f);
		return;
	}
	lethe_text__shortest(v, buf, sizeof(buf));
	fputs(buf, l->f);
}

/* A string, JSON-escaped or CSV-quoted. */
static void str(lethe_runlog *l, const char *s)
{
	if (l->csv) {
		if (strpbrk(s, ",\"\n\r")) {
			fputc('"', l->f);
			for (; *s; s++) {
				if (*s == '"')
					fputc('"', l->f);
				fputc(*s, l->f);
			}
			fputc('"', l->f);
		} else
			fputs(s, l->f);
		return;
	}
	fputc('"', l->f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(l->f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(l->f, "\\u%04x", *p);
		else
			fputc(*p, l->f);
	}
	fputc('"', l->f);
}

void lethe_runlog__start(lethe_runlog *l, const char *run, const char *curriculum,
                         const char *output, int resumed)
{
	if (!l || !l->f)
		return;
	if (l->csv) {
		fputs("start,,", l->f);
		str(l, run);
		fputs(",,,,,,,,,,\n", l->f);
	} else {
		fputs("{\"event\": \"start\", \"run\": ", l->f);
		str(l, run);
		fputs(", \"curriculum\": ", l->f);
		str(l, curriculum);
		fputs(", \"output\": ", l->f);
		str(l, output);
		fprintf(l->f, ", \"resumed\": %s, \"time\": %lld}\n", resumed ? "true" : "false",
		        (long long)time(NULL));
	}
	flush(l);
}

void lethe_runlog__step(lethe_runlog *l, size_t row, const char *stage, size_t step, size_t steps,
                        double loss, double lr, double grad_norm, double tokens_per_s,
                        double seconds, const char *const *tasks, const double *task_loss,
                        size_t n_tasks, double penalty)
{
	if (!l || !l->f)
		return;
	const double v[6] = {loss, lr, grad_norm, tokens_per_s, seconds, penalty};
	if (l->csv) {
		fprintf(l->f, "step,%zu,", row);
		str(l, stage);
		fprintf(l->f, ",%zu,%zu", step, steps);
		for (int i = 0; i < 5; i++) {
			fputc(',', l->f);
			num(l, v[i]);
		}
		fputs(",,,\n", l->f);
		for (size_t k = 0; k < n_tasks; k++) {
			fprintf(l->f, "step,%zu,", row);
			str(l, stage);
			fprintf(l->f, ",%zu,%zu,,,,,,", step, steps);
			str(l, tasks[k]);
			fputs(",task_loss,", l->f);
			num(l, task_loss[k]);
			fputc('\n', l->f);
		}
		if (isfinite(penalty)) {
			fprintf(l->f, "step,%zu,", row);
			str(l, stage);
			fprintf(l->f, ",%zu,%zu,,,,,,,penalty,", step, steps);
			num(l, penalty);
			fputc('\n', l->f);
		}
	} else {
		static const char *const keys[5] = {"loss", "lr", "grad_norm", "tokens_per_s",
		                                    "seconds"};
		fprintf(l->f, "{\"event\": \"step\", \"row\": %zu, \"stage\": ", row);
		str(l, stage);
		fprintf(l->f, ", \"step\": %zu, \"steps\": %zu", step, steps);
		for (int i = 0; i < 5; i++) {
			fprintf(l->f, ", \"%s\": ", keys[i]);
			num(l, v[i]);
		}
		fputs(", \"task_loss\": {", l->f);
		for (size_t k = 0; k < n_tasks; k++) {
			if (k)
				fputs(", ", l->f);
			str(l, tasks[k]);
			fputs(": ", l->f);
			num(l, task_loss[k]);
		}
		fputc('}', l->f);
		if (isfinite(penalty)) {
			fputs(", \"penalty\": ", l->f);
			num(l, penalty);
		}
		fputs("}\n", l->f);
	}
	flush(l);
}

/* The record of one metric's value: an "eval" after a stage (step NULL) or a "curve" point
 * inside it (*step, 1-based). tail is the JSON record's last member ("primary": ... or
 * "examples": ...), which CSV has no column for. */
static void metric_record(lethe_runlog *l, const char *event, size_t row, const char *stage,
                          const size_t *step, const char *task, const char *metric, double value,
                          const char *tail)
{
	if (!l || !l->f)
		return;
	if (l->csv) {
		fprintf(l->f, "%s,%zu,", event, row);
		str(l, stage);
		fputc(',', l->f);
		if (step)
			fprintf(l->f, "%zu", *step);
		fputs(",,,,,,,", l->f);
		str(l, task);
		fputc(',', l->f);
		str(l, metric);
		fputc(',', l->f);
		num(l, value);
		fputc('\n', l->f);
	} else {
		fprintf(l->f, "{\"event\": \"%s\", \"row\": %zu, \"stage\": ", event, row);
		str(l, stage);
		if (step)
			fprintf(l->f, ", \"step\": %zu", *step);
		fputs(", \"task\": ", l->f);
		str(l, task);
		fputs(", \"metric\": ", l->f);
		str(l, metric);
		fputs(", \"value\": ", l->f);
		num(l, value);
		fprintf(l->f, ", %s}\n", tail);
	}
	flush(l);
}

void lethe_runlog__eval(lethe_runlog *l, size_t row, const char *stage, const char *task,
                        const char *metric, double value, int primary)
{
	metric_record(l, "eval", row, stage, NULL, task, metric, value,
	              primary ? "\"primary\": true" : "\"primary\": false");
}

void lethe_runlog__curve(lethe_runlog *l, size_t row, const char *stage, size_t step,
                         const char *task, const char *metric, double value, size_t examples)
{
	char tail[48];
	snprintf(tail, sizeof(tail), "\"examples\": %zu", examples);
	metric_record(l, "curve", row, stage, &step, task, metric, value, tail);
}

void lethe_runlog__close(lethe_runlog *l, const char *status)
{
	if (!l)
		return;
	if (l->f) {
		if (l->csv) {
			fputs("end,,,,,,,,,,,", l->f);
			str(l, status);
			fputs(",\n", l->f);
		} else {
			fputs("{\"event\": \"end\", \"status\": ", l->f);
			str(l, status);
			fprintf(l->f, ", \"time\": %lld}\n", (long long)time(NULL));
		}
		fclose(l->f);
	}
	free(l->path);
	free(l);
}
