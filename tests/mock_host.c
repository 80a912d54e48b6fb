/*
 * mock_host.c: see mock_host.h.
 */
#include "mock_host.h"

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
	ck_assert_int_lt(s->n, 64);
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
