/*
 * fake.h: a minimal plugin body shared by the test plugins in this folder, each of which breaks
 * the ABI in one way (or, for good.c and the duplicates, not at all). FAKE_NAME, FAKE_ABI,
 * FAKE_SIZE, FAKE_SCORE and FAKE_PRIMARIES select the defect.
 */
#include <stdlib.h>

#include <lethe/plugin.h>

#ifndef FAKE_ABI
#define FAKE_ABI LETHE_PLUGIN_ABI_VERSION
#endif
#ifndef FAKE_SIZE
#define FAKE_SIZE sizeof(lethe_plugin)
#endif
#ifndef FAKE_SCORE
#define FAKE_SCORE fake_score
#endif
#ifndef FAKE_PRIMARIES
#define FAKE_PRIMARIES 1
#endif

struct lethe_task {
	const lethe_host *host;
};

static int fake_create(lethe_task **out, const lethe_host *host, const lethe_option *o, size_t n)
{
	if (n > 0) {
		host->error(host->ctx, "%s: fake plugin takes no options", o[0].where);
		return LETHE_EINVAL;
	}
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return LETHE_ENOMEM;
	(*out)->host = host;
	return 0;
}

static void fake_destroy(lethe_task *t)
{
	free(t);
}

static int fake_load(lethe_task *t, lethe_split split, const char *path, size_t *n)
{
	(void)t, (void)split, (void)path;
	*n = 2;
	return 0;
}

static int fake_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
{
	(void)t, (void)split, (void)i;
	*out = (lethe_example){"p", 1, "t", 1};
	return 0;
}

static int fake_predict(lethe_task *t, lethe_predict_spec *out)
{
	(void)t;
	out->mode = LETHE_PREDICT_LIKELIHOOD;
	return 0;
}

__attribute__((unused)) static int fake_score(lethe_task *t, lethe_split split,
                                              const lethe_prediction *p, size_t n,
                                              lethe_scores *out, double *per)
{
	(void)split, (void)p, (void)per;
	for (int i = 0; i < FAKE_PRIMARIES; i++) {
		const char *names[] = {"a", "b", "c"};
		t->host->metric(out, names[i], (double)n, LETHE_METRIC_PRIMARY);
	}
	return 0;
}

static const lethe_plugin fake_plugin = {
    FAKE_ABI,
    FAKE_SIZE,
    .name = FAKE_NAME,
    .version = "0.0.1",
    .description = "a test plugin",
    .ops = {fake_create, fake_destroy, fake_load, fake_example, fake_predict, FAKE_SCORE, NULL},
};

LETHE_PLUGIN_DECLARE(fake_plugin)
