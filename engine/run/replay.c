/*
 * replay.c: the replay memory (replay.h). Reservoir sampling is Vitter's algorithm R (Vitter,
 * "Random sampling with a reservoir", ACM TOMS 1985): the first cap examples fill the reservoir,
 * example number n (1-based) then replaces a uniformly chosen slot with probability cap / n.
 * The generator is xorshift64*, as the runner's sample streams, on a state of its own.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "replay.h"

static uint64_t next_u64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static size_t words(size_t n)
{
	return (n + 63) / 64;
}

int lethe_replay__init(lethe_replay_mem *rm, size_t n_tasks, const size_t *n_examples, size_t cap,
                       uint64_t data_seed)
{
	memset(rm, 0, sizeof(*rm));
	rm->n_tasks = n_tasks;
	rm->cap = cap;
	/* Its own stream: not the stages' (they must draw what they drew without replay). */
	rm->rng = (data_seed + 1) * 0xBF58476D1CE4E5B9ull ^ 0x5245504C41590001ull;
	if (!rm->rng)
		rm->rng = 1;
	rm->seen = calloc(n_tasks + 1, sizeof(uint64_t));
	rm->count = calloc(n_tasks + 1, sizeof(uint64_t));
	rm->done = calloc(n_tasks + 1, 1);
	rm->items = calloc(n_tasks * cap + 1, sizeof(uint64_t));
	rm->drawn = calloc(n_tasks + 1, sizeof(*rm->drawn));
	rm->n_examples = calloc(n_tasks + 1, sizeof(size_t));
	int ok = rm->seen && rm->count && rm->done && rm->items && rm->drawn && rm->n_examples;
	for (size_t t = 0; ok && t < n_tasks; t++) {
		rm->n_examples[t] = n_examples[t];
		ok = (rm->drawn[t] = calloc(words(n_examples[t]) + 1, sizeof(uint64_t))) != NULL;
	}
	if (ok)
		return 0;
	lethe_replay__clear(rm);
	return LETHE_ENOMEM;
}

void lethe_replay__clear(lethe_replay_mem *rm)
{
	free(rm->seen);
	free(rm->count);
	free(rm->done);
	free(rm->items);
	for (size_t t = 0; rm->drawn && t < rm->n_tasks; t++)
		free(rm->drawn[t]);
	free(rm->drawn);
	free(rm->n_examples);
	memset(rm, 0, sizeof(*rm));
}

void lethe_replay__offer(lethe_replay_mem *rm, size_t task, uint64_t index)
{
	uint64_t *bit = &rm->drawn[task][index / 64], mask = 1ull << (index % 64);
	if (*bit & mask)
		return;
	*bit |= mask;
	uint64_t n = ++rm->seen[task];
	uint64_t *slot = rm->items + task * rm->cap;
	if (rm->count[task] < rm->cap) {
		slot[rm->count[task]++] = index;
		return;
	}
	uint64_t j = next_u64(&rm->rng) % n;
	if (j < rm->cap)
		slot[j] = index;
}

void lethe_replay__finish(lethe_replay_mem *rm, size_t task)
{
	rm->done[task] = 1;
}

uint64_t lethe_replay__available(const lethe_replay_mem *rm)
{
	uint64_t n = 0;
	for (size_t t = 0; t < rm->n_tasks; t++)
		n += rm->done[t] ? rm->count[t] : 0;
	return n;
}

void lethe_replay__draw(lethe_replay_mem *rm, size_t *task, uint64_t *index)
{
	uint64_t k = next_u64(&rm->rng) % lethe_replay__available(rm);
	for (size_t t = 0; t < rm->n_tasks; t++) {
		uint64_t c = rm->done[t] ? rm->count[t] : 0;
		if (k < c) {
			*task = t;
			*index = rm->items[t * rm->cap + k];
			return;
		}
		k -= c;
	}
}

long lethe_replay__count(double ratio, long batch, uint64_t micro)
{
	double rb = ratio * (double)batch;
	long k = (long)(rb * (double)(micro + 1)) - (long)(rb * (double)micro);
	return k < 0 ? 0 : k > batch ? batch : k;
}

size_t lethe_replay__state_size(const lethe_replay_mem *rm)
{
	size_t n = 3 + rm->n_tasks * (3 + rm->cap);
	for (size_t t = 0; t < rm->n_tasks; t++)
		n += words(rm->n_examples[t]);
	return n;
}

void lethe_replay__save(const lethe_replay_mem *rm, uint64_t *out)
{
	out[0] = rm->n_tasks;
	out[1] = rm->cap;
	out[2] = rm->rng;
	uint64_t *o = out + 3;
	for (size_t t = 0; t < rm->n_tasks; t++) {
		o[0] = rm->seen[t];
		o[1] = rm->count[t];
		o[2] = rm->done[t];
		memcpy(o + 3, rm->items + t * rm->cap, rm->cap * sizeof(uint64_t));
		o += 3 + rm->cap;
		memcpy(o, rm->drawn[t], words(rm->n_examples[t]) * sizeof(uint64_t));
		o += words(rm->n_examples[t]);
	}
}

int lethe_replay__load(lethe_replay_mem *rm, const uint64_t *in, size_t n)
{
	if (n != lethe_replay__state_size(rm) || in[0] != rm->n_tasks || in[1] != rm->cap)
		return -1;
	const uint64_t *o = in + 3;
	for (size_t t = 0; t < rm->n_tasks; t++) {
		if (o[1] > rm->cap || o[1] > o[0] || o[0] > rm->n_examples[t] || o[2] > 1)
			return -1;
		for (uint64_t i = 0; i < o[1]; i++)
			if (o[3 + i] >= rm->n_examples[t])
				return -1;
		o += 3 + rm->cap + words(rm->n_examples[t]);
	}
	rm->rng = in[2];
	o = in + 3;
	for (size_t t = 0; t < rm->n_tasks; t++) {
		rm->seen[t] = o[0];
		rm->count[t] = o[1];
		rm->done[t] = (unsigned char)o[2];
		memcpy(rm->items + t * rm->cap, o + 3, rm->cap * sizeof(uint64_t));
		o += 3 + rm->cap;
		memcpy(rm->drawn[t], o, words(rm->n_examples[t]) * sizeof(uint64_t));
		o += words(rm->n_examples[t]);
	}
	return 0;
}
