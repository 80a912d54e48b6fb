/*
 * fuzz_plugin.c: one bundled plugin's reader (the plugin's source is compiled into the harness,
 * as its Check test does): bytes -> a data file -> load(), then every example, the split's
 * stats and score() with each example's target as its prediction (so the metrics run over
 * whatever the reader accepted). The first byte picks the file name's extension, which the
 * readers' "auto" format looks at. FUZZ_OPTIONS are the plugin's (fixed, valid) options.
 */
#include <stdarg.h>

#include <lethe/lethe.h>
#include <lethe/plugin.h>

#include "fuzz.h"

#ifdef FUZZ_TRANSLATION
#define FUZZ_OPTIONS                                                                               \
	{"source", "en", "fuzz:1:1"},                                                              \
	{                                                                                          \
		"target", "de", "fuzz:1:1"                                                         \
	}
#else
#define FUZZ_OPTIONS                                                                               \
	{                                                                                          \
		NULL, NULL, NULL                                                                   \
	}
#endif

const lethe_plugin *lethe_plugin_entry(void);

struct lethe_scores {
	int n;
};

static void host_error(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void host_error(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap); /* formats every message: %s of a bad pointer fails */
	va_end(ap);
}

static void host_log(void *ctx, lethe_log_level level, const char *fmt, ...) LETHE_PRINTF(3, 4);
static void host_log(void *ctx, lethe_log_level level, const char *fmt, ...)
{
	(void)ctx;
	(void)level;
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

static int host_metric(lethe_scores *s, const char *name, double value, unsigned flags)
{
	(void)name;
	(void)value;
	(void)flags;
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"d.tsv", "d.jsonl", "d.txt", "d.conll"};
	static const lethe_option options[] = {FUZZ_OPTIONS};
	const lethe_host host = {.abi_version = LETHE_PLUGIN_ABI_VERSION,
	                         .struct_size = sizeof(lethe_host),
	                         .error = host_error,
	                         .log = host_log,
	                         .metric = host_metric,
	                         .metrics = lethe_metrics(),
	                         .kit = lethe_kit()};
	if (size < 1)
		return 0;
	const lethe_plugin_ops *ops = &lethe_plugin_entry()->ops;
	lethe_task *t = NULL;
	size_t n_options = sizeof(options) / sizeof(options[0]);
	if (options[0].key == NULL)
		n_options = 0;
	if (ops->create(&t, &host, options, n_options) != 0)
		abort(); /* the options are fixed and valid */
	size_t n = 0;
	const char *path = fuzz_write(names[data[0] % 4], data + 1, size - 1);
	if (ops->load(t, LETHE_SPLIT_EVAL, path, &n) == 0) {
		lethe_prediction *pred = calloc(n ? n : 1, sizeof(*pred));
		lethe_predict_spec spec;
		if (!pred || ops->predict(t, &spec) != 0)
			abort();
		for (size_t i = 0; i < n; i++) {
			lethe_example ex;
			if (ops->example(t, LETHE_SPLIT_EVAL, i, &ex) != 0)
				abort(); /* every example load() counted exists */
			pred[i] = (lethe_prediction){.text = ex.target,
			                             .text_len = ex.target_len,
			                             .nll = 1.0,
			                             .n_tokens = 1,
			                             .n_bytes = ex.target_len + 1};
			for (size_t c = 0; c < spec.n_choices; c++)
				if (strcmp(spec.choices[c], ex.target) == 0)
					pred[i].choice = c;
		}
		lethe_scores scores = {0};
		double *per = calloc(n ? n : 1, sizeof(*per));
		if (ops->stats)
			ops->stats(t, LETHE_SPLIT_EVAL, &scores);
		ops->score(t, LETHE_SPLIT_EVAL, pred, n, &scores, per);
		free(per);
		free(pred);
	}
	ops->destroy(t);
	return 0;
}
