/*
 * mock_host.c: see mock_host.h.
 */
#include "mock_host.h"

#include <lethe/lethe.h>

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mock_error(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void mock_error(void *ctx, const char *fmt, ...)
{
	mock_host *m = ctx;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	m->n_errors++;
}

static void mock_log(void *ctx, lethe_log_level level, const char *fmt, ...) LETHE_PRINTF(3, 4);
static void mock_log(void *ctx, lethe_log_level level, const char *fmt, ...)
{
	mock_host *m = ctx;
	(void)level;
	size_t used = strlen(m->log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->log + used, sizeof(m->log) - used, fmt, ap);
	va_end(ap);
	used = strlen(m->log);
	if (used + 1 < sizeof(m->log))
		strcat(m->log, "\n");
}

static int mock_metric(lethe_scores *s, const char *name, double value, unsigned flags)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return LETHE_EEXISTS;
	ck_assert_int_lt(s->n, 256);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->values[s->n] = value;
	s->flags[s->n] = flags;
	s->n++;
	return 0;
}

void mock_host_init(mock_host *m)
{
	memset(m, 0, sizeof(*m));
	m->host = (lethe_host){
	    .abi_version = LETHE_PLUGIN_ABI_VERSION,
	    .struct_size = sizeof(lethe_host),
	    .ctx = m,
	    .error = mock_error,
	    .log = mock_log,
	    .metric = mock_metric,
	    .metrics = lethe_metrics(),
	    .kit = lethe_kit(),
	};
}

double mock_scores_get(const lethe_scores *s, const char *name, unsigned *flags)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0) {
			if (flags)
				*flags = s->flags[i];
			return s->values[i];
		}
	ck_abort_msg("metric '%s' not reported", name);
	return 0;
}

const char *mock_write_file(const char *name, const char *text, size_t len)
{
	static char dir[256];
	static char path[512];
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/lethe-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(dir));
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

lethe_task *mock_task(mock_host *m, const lethe_option *options, size_t n)
{
	lethe_task *t = NULL;
	int rc = lethe_plugin_entry()->ops.create(&t, &m->host, options, n);
	ck_assert_msg(rc == 0, "create failed: %s", m->error);
	return t;
}

int mock_load(mock_host *m, lethe_task *t, const char *name, const char *text, size_t *n)
{
	(void)m;
	const char *path = mock_write_file(name, text, strlen(text));
	return lethe_plugin_entry()->ops.load(t, LETHE_SPLIT_EVAL, path, n);
}

void mock_load_fails(mock_host *m, const lethe_option *options, size_t n_options, const char *name,
                     const char *text, int code, const char *suffix)
{
	lethe_task *t = mock_task(m, options, n_options);
	size_t n = 12345;
	int rc = mock_load(m, t, name, text, &n);
	char want[2048];
	const char *dir = getenv("TMPDIR");
	(void)dir;
	ck_assert_msg(rc == code, "loading %s: expected code %d, got %d (%s)", name, code, rc,
	              m->error);
	/* The message starts with the path mock_write_file() chose; compare the rest. */
	const char *colon = strstr(m->error, name);
	ck_assert_msg(colon != NULL, "message '%s' does not name %s", m->error, name);
	snprintf(want, sizeof(want), "%s%s", name, suffix);
	ck_assert_str_eq(colon, want);
	lethe_example ex;
	ck_assert_int_eq(lethe_plugin_entry()->ops.example(t, LETHE_SPLIT_EVAL, 0, &ex),
	                 LETHE_EINVAL);
	lethe_plugin_entry()->ops.destroy(t);
}

void mock_assert_example(mock_host *m, lethe_task *t, size_t i, const char *prompt,
                         const char *target)
{
	lethe_example ex;
	ck_assert_msg(lethe_plugin_entry()->ops.example(t, LETHE_SPLIT_EVAL, i, &ex) == 0, "%s",
	              m->error);
	ck_assert_uint_eq(ex.prompt_len, strlen(ex.prompt));
	ck_assert_str_eq(ex.prompt, prompt);
	ck_assert_uint_eq(ex.target_len, strlen(target));
	ck_assert_str_eq(ex.target, target);
}
