/*
 * metrics_table.c: the table of metric functions that the host hands to plugins
 * (lethe_host.metrics), so that a plugin computes BLEU or seqeval F1 with exactly the code `lethe
 * score` uses.
 */
#include <lethe/lethe.h>
#include <lethe/metrics.h>

static const lethe_metrics_api api = {
    .struct_size = sizeof(lethe_metrics_api),
    .bleu = lethe_bleu,
    .chrf = lethe_chrf,
    .rouge = lethe_rouge,
    .seqeval = lethe_seqeval,
    .seqeval_free = lethe_seqeval_free,
    .classify = lethe_classify,
    .classify_free = lethe_classify_free,
};

const lethe_metrics_api *lethe_metrics(void)
{
	return &api;
}
