/*
 * ngram.h: exact counting of n-grams for the metrics: an interner that gives each distinct
 * token (a code-point or byte sequence) a small integer, and a counter keyed by sequences of up
 * to LETHE_NGRAM_MAX such integers (token ids or code points). Keys are compared in full, so
 * counts never suffer hash collisions. Private to liblethe.
 */
#ifndef LETHE_NGRAM_H
#define LETHE_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#define LETHE_NGRAM_MAX 8

typedef struct lethe_interner {
	uint32_t *keys;  /* all interned sequences, concatenated */
	size_t *starts;  /* id -> start in keys; starts[id + 1] - starts[id] is its length */
	uint32_t *slots; /* open addressing: id + 1, or 0 when empty */
	size_t n, cap_ids, keys_len, keys_cap, n_slots;
} lethe_interner;

void lethe_interner_init(lethe_interner *in);
void lethe_interner_free(lethe_interner *in);
void lethe_interner_clear(lethe_interner *in);
/* The id of seq[0..len), added if new; -1 when memory runs out. */
long lethe_intern(lethe_interner *in, const uint32_t *seq, size_t len);
/* Appends id (from lethe_intern) to the growing array *ids[0..*n); a negative id, or no
 * memory to grow, is LETHE_ENOMEM. */
int lethe_ids_push(uint32_t **ids, size_t *cap, size_t *n, long id);

typedef struct lethe_ngrams {
	uint32_t *keys;   /* n_slots * order */
	uint32_t *counts; /* 0: empty slot */
	size_t n_slots, used;
	unsigned order;
	uint64_t total; /* sum of counts */
} lethe_ngrams;

int lethe_ngrams_init(lethe_ngrams *t, unsigned order);
void lethe_ngrams_free(lethe_ngrams *t);
void lethe_ngrams_clear(lethe_ngrams *t);
/* Counts every n-gram of length t->order in seq[0..len). */
int lethe_ngrams_add_all(lethe_ngrams *t, const uint32_t *seq, size_t len);
/* The count of key (t->order ids), 0 when absent. */
uint32_t lethe_ngrams_get(const lethe_ngrams *t, const uint32_t *key);
/* Raises the count of key to at least count (merging references). */
int lethe_ngrams_max(lethe_ngrams *t, const uint32_t *key, uint32_t count);
/* Sum over the n-grams of hyp of min(count in hyp, count in ref). */
uint64_t lethe_ngrams_overlap(const lethe_ngrams *hyp, const lethe_ngrams *ref);

#endif
