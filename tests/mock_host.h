/*
 * mock_host.h: a host-services table for testing plugins without the engine (as collectd tests
 * its plugins): it records the last error, the log lines and the metrics a plugin reports.
 */
#ifndef LETHE_MOCK_HOST_H
#define LETHE_MOCK_HOST_H

#include <lethe/plugin.h>

struct lethe_scores {
	char names[256][64];
	double values[256];
	unsigned flags[256];
	int n;
};

#define MOCK_MAX_METRICS 256

typedef struct mock_host {
	lethe_host host;
	char error[2048];
	char log[4096];
	int n_errors;
} mock_host;

void mock_host_init(mock_host *m);
/* The value of metric name in s; fails the test when absent. */
double mock_scores_get(const lethe_scores *s, const char *name, unsigned *flags);
/* The plugin compiled into this test program. */
const lethe_plugin *lethe_plugin_entry(void);
/* Writes text to a fresh file under the test's temporary directory and returns its path. */
const char *mock_write_file(const char *name, const char *text, size_t len);

/* Creates a task of the compiled-in plugin; fails the test when creation fails. */
lethe_task *mock_task(mock_host *m, const lethe_option *options, size_t n);
/* Writes text to name and loads it as split; returns the plugin's code, *n the examples. */
int mock_load(mock_host *m, lethe_task *t, const char *name, const char *text, size_t *n);
/* Loading text must fail with code and the message "<path><suffix>". */
void mock_load_fails(mock_host *m, const lethe_option *options, size_t n_options, const char *name,
                     const char *text, int code, const char *suffix);
/* Example i of the eval split must have this prompt and target. */
void mock_assert_example(mock_host *m, lethe_task *t, size_t i, const char *prompt,
                         const char *target);

#endif
