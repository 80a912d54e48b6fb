/*
 * sample.h: the examples a run keeps of a split under train_limit or eval_limit (sample.c).
 * Private to run/.
 */
#ifndef LETHE_RUN_SAMPLE_H
#define LETHE_RUN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/lethe.h>

/* The generator's seed for one task's split, from the run's data seed. */
uint64_t lethe_sample__seed(uint64_t data_seed, size_t task, int split);
/* k indices (all when k >= the split's size) of a random sample of split, stratified by target
 * when stratify is set, in increasing order; *out is malloc'd. */
int lethe_sample__choose(lethe_instance *inst, lethe_split split, size_t k, int stratify,
                         uint64_t seed, size_t **out);

#endif
