/*
 * follow.c: `lethe report --follow RUN.h5`, the latest state of a run that is going on, read
 * from its live log (RUN.h5.log.jsonl, or --log FILE; docs/run-file.md#the-live-log): the step
 * and loss of the stage in training and, per row, each task's primary metric as it is evaluated.
 * Printed again whenever the log grows (every second at most), until the log says the run ended.
 * It reads only the log, never the run file, so it cannot disturb the run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <lethe/lethe.h>

#include "cli.h"

typedef struct state {
	char **rows, **tasks;
	size_t n_rows, n_tasks;
	double *value; /* [row * cap_tasks + task], NAN when not evaluated yet */
	size_t cap_rows, cap_tasks;
	char last_step[512];
	char status[512];
	int ended;
} state;

static size_t index_of(char ***names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0)
			return i;
	char **v = realloc(*names, (*n + 1) * sizeof(*v));
	if (!v)
		return (size_t)-1;
	*names = v;
	if (!(v[*n] = strdup(name)))
		return (size_t)-1;
	return (*n)++;
}

static int grow(state *s)
{
	if (s->n_rows <= s->cap_rows && s->n_tasks <= s->cap_tasks)
		return 0;
	size_t cr = s->n_rows + 8, ct = s->n_tasks + 8;
	double *v = malloc(cr * ct * sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < cr * ct; i++)
		v[i] = NAN;
	for (size_t r = 0; r < s->cap_rows; r++)
		for (size_t t = 0; t < s->cap_tasks; t++)
			v[r * ct + t] = s->value[r * s->cap_tasks + t];
	free(s->value);
	s->value = v;
	s->cap_rows = cr;
	s->cap_tasks = ct;
	return 0;
}

static void take(state *s, const char *line)
{
	cJSON *j = cJSON_Parse(line);
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "event"));
	if (!ev) {
		cJSON_Delete(j);
		return;
	}
	const cJSON *stage = cJSON_GetObjectItemCaseSensitive(j, "stage");
	if (strcmp(ev, "step") == 0) {
		double v[6];
		static const char *const k[6] = {"step", "steps",        "loss",
		                                 "lr",   "tokens_per_s", "grad_norm"};
		for (int i = 0; i < 6; i++) {
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, k[i]);
			v[i] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
		}
		snprintf(s->last_step, sizeof(s->last_step),
		         "stage %s: step %.0f/%.0f  loss %.4f  lr %.3g  grad norm %.3g  %.0f tok/s",
		         cJSON_IsString(stage) ? stage->valuestring : "?", v[0], v[1], v[2], v[3],
		         v[5], v[4]);
	} else if (strcmp(ev, "eval") == 0 &&
	           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "primary"))) {
		const cJSON *task = cJSON_GetObjectItemCaseSensitive(j, "task");
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(j, "value");
		if (cJSON_IsString(stage) && cJSON_IsString(task)) {
			size_t r = index_of(&s->rows, &s->n_rows, stage->valuestring);
			size_t t = index_of(&s->tasks, &s->n_tasks, task->valuestring);
			if (r != (size_t)-1 && t != (size_t)-1 && grow(s) == 0)
				s->value[r * s->cap_tasks + t] =
				    cJSON_IsNumber(val) ? val->valuedouble : NAN;
		}
	} else if (strcmp(ev, "end") == 0) {
		const char *st =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
		snprintf(s->status, sizeof(s->status), "%s", st ? st : "?");
		s->ended = 1;
	} else if (strcmp(ev, "start") == 0) {
		s->ended = 0;
		s->status[0] = '\0';
	}
	cJSON_Delete(j);
}

static void show(const state *s, const char *log, int tty)
{
	if (tty)
		fputs("\033[H\033[J", stdout);
	printf("lethe: following %s\n", log);
	if (s->n_tasks) {
		printf("\n%-16s", "primary metric");
		for (size_t t = 0; t < s->n_tasks; t++)
			printf(" %14.14s", s->tasks[t]);
		putchar('\n');
		for (size_t r = 0; r < s->n_rows; r++) {
			printf("%-16.16s", s->rows[r]);
			for (size_t t = 0; t < s->n_tasks; t++) {
				double v = s->value[r * s->cap_tasks + t];
				if (v == v)
					printf(" %14.4f", v);
				else
					printf(" %14s", "-");
			}
			putchar('\n');
		}
	}
	if (s->last_step[0])
		printf("\n%s\n", s->last_step);
	if (s->ended)
		printf("\nthe run ended: %s\n", s->status);
	fflush(stdout);
}

int lethe_cli_follow(const char *run, const char *log_arg, int once)
{
	char path[4096];
	const char *log = log_arg;
	if (!log) {
		snprintf(path, sizeof(path), "%s.log.jsonl", run);
		log = path;
	}
	FILE *f = NULL;
	for (int wait = 0; !f; wait++) {
		if ((f = fopen(log, "r")))
			break;
		if (errno != ENOENT || once || wait >= 30) {
			lethe_cli_error(
			    "report --follow: %s: %s (lethe run writes it beside the run "
			    "file unless --log names another)",
			    log, strerror(errno));
			return LETHE_EXIT_USAGE;
		}
		sleep(1); /* the run may not have started writing yet */
	}
	state s = {0};
	char *line = NULL;
	size_t cap = 0;
	int tty = isatty(1), status = LETHE_EXIT_OK;
	for (;;) {
		int grew = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			if (line[n - 1] != '\n') {
				/* A record still being written: read it whole next time. */
				fseek(f, -(long)n, SEEK_CUR);
				break;
			}
			take(&s, line);
			grew = 1;
		}
		clearerr(f);
		if (grew || once)
			show(&s, log, tty);
		if (s.ended || once)
			break;
		sleep(1);
	}
	if (s.ended && strcmp(s.status, "ok") != 0)
		status = LETHE_EXIT_FAILED;
	free(line);
	fclose(f);
	for (size_t i = 0; i < s.n_rows; i++)
		free(s.rows[i]);
	for (size_t i = 0; i < s.n_tasks; i++)
		free(s.tasks[i]);
	free(s.rows);
	free(s.tasks);
	free(s.value);
	return status;
}
