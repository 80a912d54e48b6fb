/*
 * ngram.c: see ngram.h. Open addressing with linear probing over power-of-two tables, grown at
 * half load.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "ngram.h"

static uint64_t hash_seq(const uint32_t *seq, size_t len)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
	for (size_t i = 0; i < len; i++) {
		h ^= seq[i];
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	return h;
}

void lethe_interner_init(lethe_interner *in)
{
	memset(in, 0, sizeof(*in));
}

void lethe_interner_free(lethe_interner *in)
{
	free(in->keys);
	free(in->starts);
	free(in->slots);
	memset(in, 0, sizeof(*in));
}

void lethe_interner_clear(lethe_interner *in)
{
	in->n = 0;
	in->keys_len = 0;
	if (in->slots)
		memset(in->slots, 0, in->n_slots * sizeof(*in->slots));
}

static int interner_grow(lethe_interner *in)
{
	size_t n_slots = in->n_slots ? 2 * in->n_slots : 64;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return LETHE_ENOMEM;
	for (size_t id = 0; id < in->n; id++) {
		size_t a = in->starts[id], len = in->starts[id + 1] - a;
		size_t s = hash_seq(in->keys + a, len) & (n_slots - 1);
		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = (uint32_t)(id + 1);
	}
	free(in->slots);
	in->slots = slots;
	in->n_slots = n_slots;
	return 0;
}

int lethe_ids_push(uint32_t **ids, size_t *cap, size_t *n, long id)
{
	if (id < 0)
		return LETHE_ENOMEM;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		uint32_t *v = realloc(*ids, c * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		*ids = v;
		*cap = c;
	}
	(*ids)[(*n)++] = (uint32_t)id;
	return 0;
}

long lethe_intern(lethe_interner *in, const uint32_t *seq, size_t len)
{
	if (2 * (in->n + 1) > in->n_slots && interner_grow(in))
		return -1;
	size_t s = hash_seq(seq, len) & (in->n_slots - 1);
	while (in->slots[s]) {
		size_t id = in->slots[s] - 1;
		size_t a = in->starts[id];
		if (in->starts[id + 1] - a == len &&
		    memcmp(in->keys + a, seq, len * sizeof(*seq)) == 0)
			return (long)id;
		s = (s + 1) & (in->n_slots - 1);
	}
	if (in->n + 2 > in->cap_ids) {
		size_t cap = in->cap_ids ? 2 * in->cap_ids : 64;
		size_t *starts = realloc(in->starts, cap * sizeof(*starts));
		if (!starts)
			return -1;
		in->starts = starts;
		in->cap_ids = cap;
	}
	if (in->keys_len + len > in->keys_cap) {
		size_t cap = in->keys_cap ? in->keys_cap : 256;
		while (cap < in->keys_len + len)
			cap *= 2;
		uint32_t *keys = realloc(in->keys, cap * sizeof(*keys));
		if (!keys)
			return -1;
		in->keys = keys;
		in->keys_cap = cap;
	}
	if (len)
		memcpy(in->keys + in->keys_len, seq, len * sizeof(*seq));
	in->starts[in->n] = in->keys_len;
	in->keys_len += len;
	in->starts[in->n + 1] = in->keys_len;
	in->slots[s] = (uint32_t)(in->n + 1);
	return (long)in->n++;
}

int lethe_ngrams_init(lethe_ngrams *t, unsigned order)
{
	memset(t, 0, sizeof(*t));
	if (order == 0 || order > LETHE_NGRAM_MAX)
		return LETHE_EINVAL;
	t->order = order;
	return 0;
}

void lethe_ngrams_free(lethe_ngrams *t)
{
	free(t->keys);
	free(t->counts);
	unsigned order = t->order;
	memset(t, 0, sizeof(*t));
	t->order = order;
}

void lethe_ngrams_clear(lethe_ngrams *t)
{
	if (t->counts)
		memset(t->counts, 0, t->n_slots * sizeof(*t->counts));
	t->used = 0;
	t->total = 0;
}

static int ngrams_grow(lethe_ngrams *t)
{
	size_t n_slots = t->n_slots ? 2 * t->n_slots : 64;
	uint32_t *keys = malloc(n_slots * t->order * sizeof(*keys));
	uint32_t *counts = calloc(n_slots, sizeof(*counts));
	if (!keys || !counts) {
		free(keys);
		free(counts);
		return LETHE_ENOMEM;
	}
	for (size_t i = 0; i < t->n_slots; i++) {
		if (!t->counts[i])
			continue;
		const uint32_t *k = t->keys + i * t->order;
		size_t s = hash_seq(k, t->order) & (n_slots - 1);
		while (counts[s])
			s = (s + 1) & (n_slots - 1);
		memcpy(keys + s * t->order, k, t->order * sizeof(*k));
		counts[s] = t->counts[i];
	}
	free(t->keys);
	free(t->counts);
	t->keys = keys;
	t->counts = counts;
	t->n_slots = n_slots;
	return 0;
}

/* The slot of key, or the empty slot where it would go. */
static size_t find_slot(const lethe_ngrams *t, const uint32_t *key)
{
	size_t s = hash_seq(key, t->order) & (t->n_slots - 1);
	while (t->counts[s] && memcmp(t->keys + s * t->order, key, t->order * sizeof(*key)) != 0)
		s = (s + 1) & (t->n_slots - 1);
	return s;
}

/* Adds count to key (op 0) or raises it to count (op 1). */
static int update(lethe_ngrams *t, const uint32_t *key, uint32_t count, int op)
{
	if (2 * (t->used + 1) > t->n_slots && ngrams_grow(t))
		return LETHE_ENOMEM;
	size_t s = find_slot(t, key);
	if (!t->counts[s]) {
		memcpy(t->keys + s * t->order, key, t->order * sizeof(*key));
		t->used++;
	}
	if (op == 0) {
		t->counts[s] += count;
		t->total += count;
	} else if (t->counts[s] < count) {
		t->total += count - t->counts[s];
		t->counts[s] = count;
	}
	return 0;
}

int lethe_ngrams_add_all(lethe_ngrams *t, const uint32_t *seq, size_t len)
{
	for (size_t i = 0; i + t->order <= len; i++)
		if (update(t, seq + i, 1, 0))
			return LETHE_ENOMEM;
	return 0;
}

int lethe_ngrams_max(lethe_ngrams *t, const uint32_t *key, uint32_t count)
{
	return update(t, key, count, 1);
}

uint32_t lethe_ngrams_get(const lethe_ngrams *t, const uint32_t *key)
{
	if (!t->n_slots)
		return 0;
	return t->counts[find_slot(t, key)];
}

uint64_t lethe_ngrams_overlap(const lethe_ngrams *hyp, const lethe_ngrams *ref)
{
	uint64_t overlap = 0;
	for (size_t i = 0; i < hyp->n_slots; i++) {
		if (!hyp->counts[i])
			continue;
		uint32_t r = lethe_ngrams_get(ref, hyp->keys + i * hyp->order);
		overlap += hyp->counts[i] < r ? hyp->counts[i] : r;
	}
	return overlap;
}
