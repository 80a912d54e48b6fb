/*
 * mock_host.h: a host-services table for testing plugins without the engine (as collectd tests
 * its plugins): it records the last error, the log lines and the metrics a plugin reports.
 */
#ifndef LETHE_MOCK_HOST_H
#define LETHE_MOCK_HOST_H

#include <lethe/plugin.h>

struct lethe_scores {
	char names[64][64];
	double values[64];
	unsigned flags[64];
	int n;
};

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

#endif
