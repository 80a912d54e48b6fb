/*
 * tokenizer.c: byte-level BPE. Ids 0..255 are the bytes, 256..259 the special tokens, then one id
 * per merge. Text is first cut into chunks so that merges never cross a word boundary (a run of
 * letters, digits and non-ASCII bytes, or of other punctuation, with at most one leading space;
 * runs of whitespace), as GPT-2's pre-tokenizer does but on bytes, so any byte string, invalid
 * UTF-8 included, encodes and decodes losslessly.
 *
 * Training counts the chunks, then repeatedly merges the most frequent adjacent pair (ties: the
 * smallest pair of ids), keeping pair counts up to date incrementally through an index from pairs
 * to the chunks that contain them and a lazy max-heap. Encoding applies merges by rank, with a
 * cache of encoded chunks.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "tokenizer_pretrained.h"

/* ---- a hash map from 64-bit keys to 64-bit values ------------------------------------------- */

typedef struct u64map {
	uint64_t *keys;
	int64_t *vals;
	unsigned char *used;
	size_t n, cap;
} u64map;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void u64map_free(u64map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

static int u64map_grow(u64map *m)
{
	size_t cap = m->cap ? 2 * m->cap : 1024;
	u64map g = {calloc(cap, 8), calloc(cap, 8), calloc(cap, 1), 0, cap};
	if (!g.keys || !g.vals || !g.used) {
		u64map_free(&g);
		return LETHE_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		size_t s = mix64(m->keys[i]) & (cap - 1);
		while (g.used[s])
			s = (s + 1) & (cap - 1);
		g.used[s] = 1;
		g.keys[s] = m->keys[i];
		g.vals[s] = m->vals[i];
		g.n++;
	}
	u64map_free(m);
	*m = g;
	return 0;
}

/* The slot of key, inserting it (value 0) when absent; NULL when memory runs out. */
static int64_t *u64map_at(u64map *m, uint64_t key)
{
	if (2 * (m->n + 1) > m->cap && u64map_grow(m))
		return NULL;
	size_t s = mix64(key) & (m->cap - 1);
	while (m->used[s] && m->keys[s] != key)
		s = (s + 1) & (m->cap - 1);
	if (!m->used[s]) {
		m->used[s] = 1;
		m->keys[s] = key;
		m->vals[s] = 0;
		m->n++;
	}
	return &m->vals[s];
}

static const int64_t *u64map_get(const u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	size_t s = mix64(key) & (m->cap - 1);
	while (m->used[s]) {
		if (m->keys[s] == key)
			return &m->vals[s];
		s = (s + 1) & (m->cap - 1);
	}
	return NULL;
}

static uint64_t pair_key(int32_t a, int32_t b)
{
	return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

/* ---- the tokenizer ----------------------------------------------------------------------------
 */

struct lethe_tokenizer {
	int32_t *merges; /* 2 per merge */
	size_t n_merges;
	u64map ranks; /* pair -> merge index */
	char **bytes; /* token -> its bytes */
	size_t *lens;
	/* Encoding cache: chunk hash -> index into cache entries (collisions checked). */
	u64map cache;
	char **cache_text;
	size_t *cache_text_len;
	int32_t **cache_ids;
	size_t *cache_n;
	size_t cache_used, cache_cap;
	/* A pretrained model's tokenizer instead of lethe's own (lethe_tokenizer_open). */
	lethe_pretrained_tok *pre;
	char *source; /* the path it was opened from */
	char errmsg[512];
};

size_t lethe_tokenizer_vocab_size(const lethe_tokenizer *t)
{
	if (t->pre)
		return lethe_pretrained_tok_vocab(t->pre);
	return LETHE_TOKEN_FIRST_MERGE + t->n_merges;
}
size_t lethe_tokenizer_n_merges(const lethe_tokenizer *t)
{
	return t->n_merges;
}
const int32_t *lethe_tokenizer_merges(const lethe_tokenizer *t)
{
	return t->merges;
}

int lethe_tokenizer_open(lethe_tokenizer **out, const char *path)
{
	*out = calloc(1, sizeof(**out));
	if (!*out || !((*out)->source = strdup(path))) {
		free(*out);
		*out = NULL;
		return LETHE_ENOMEM;
	}
	return lethe_pretrained_tok_open(&(*out)->pre, path, (*out)->errmsg,
	                                 sizeof((*out)->errmsg));
}

const char *lethe_tokenizer_errmsg(const lethe_tokenizer *t)
{
	if (!t)
		return "out of memory";
	return t->pre && !t->errmsg[0] ? lethe_pretrained_tok_errmsg(t->pre) : t->errmsg;
}

const char *lethe_tokenizer_source(const lethe_tokenizer *t)
{
	return t->source;
}

const char *lethe_tokenizer_kind(const lethe_tokenizer *t)
{
	return t->pre ? lethe_pretrained_tok_kind(t->pre) : "lethe-bpe";
}

int32_t lethe_tokenizer_special(const lethe_tokenizer *t, lethe_special_token which)
{
	if (t->pre)
		return lethe_pretrained_tok_special(t->pre, which);
	switch (which) {
	case LETHE_SPECIAL_BOS: return LETHE_TOKEN_BOS;
	case LETHE_SPECIAL_EOS: return LETHE_TOKEN_EOS;
	case LETHE_SPECIAL_PAD: return LETHE_TOKEN_PAD;
	case LETHE_SPECIAL_SEP: return LETHE_TOKEN_SEP;
	}
	return -1;
}

void lethe_tokenizer_free(lethe_tokenizer *t)
{
	if (!t)
		return;
	free(t->source);
	if (t->pre) {
		lethe_pretrained_tok_free(t->pre);
		free(t);
		return;
	}
	for (size_t i = 0; i < lethe_tokenizer_vocab_size(t) && t->bytes; i++)
		free(t->bytes[i]);
	for (size_t i = 0; i < t->cache_used; i++) {
		free(t->cache_text[i]);
		free(t->cache_ids[i]);
	}
	free(t->cache_text);
	free(t->cache_text_len);
	free(t->cache_ids);
	free(t->cache_n);
	u64map_free(&t->cache);
	u64map_free(&t->ranks);
	free(t->bytes);
	free(t->lens);
	free(t->merges);
	free(t);
}

int lethe_tokenizer_from_merges(lethe_tokenizer **out, const int32_t *pairs, size_t n_merges)
{
	*out = NULL;
	lethe_tokenizer *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	size_t vocab = LETHE_TOKEN_FIRST_MERGE + n_merges;
	t->merges = malloc((2 * n_merges + 1) * sizeof(int32_t));
	t->bytes = calloc(vocab, sizeof(char *));
	t->lens = calloc(vocab, sizeof(size_t));
	if (!t->merges || !t->bytes || !t->lens)
		goto nomem;
	for (int i = 0; i < 256; i++) {
		if (!(t->bytes[i] = malloc(1)))
			goto nomem;
		t->bytes[i][0] = (char)i;
		t->lens[i] = 1;
	}
	for (int i = 256; i < LETHE_TOKEN_FIRST_MERGE; i++)
		if (!(t->bytes[i] = malloc(1)))
			goto nomem;
	for (size_t k = 0; k < n_merges; k++) {
		int32_t a = pairs[2 * k], b = pairs[2 * k + 1];
		size_t id = LETHE_TOKEN_FIRST_MERGE + k;
		if (a < 0 || b < 0 || (size_t)a >= id || (size_t)b >= id ||
		    (a >= 256 && a < LETHE_TOKEN_FIRST_MERGE) ||
		    (b >= 256 && b < LETHE_TOKEN_FIRST_MERGE)) {
			t->n_merges = k;
			lethe_tokenizer_free(t);
			return LETHE_EINVAL;
		}
		t->merges[2 * k] = a;
		t->merges[2 * k + 1] = b;
		t->lens[id] = t->lens[a] + t->lens[b];
		if (!(t->bytes[id] = malloc(t->lens[id])))
			goto nomem;
		memcpy(t->bytes[id], t->bytes[a], t->lens[a]);
		memcpy(t->bytes[id] + t->lens[a], t->bytes[b], t->lens[b]);
		int64_t *r = u64map_at(&t->ranks, pair_key(a, b));
		if (!r)
			goto nomem;
		*r = (int64_t)k + 1; /* 0 would mean absent */
		t->n_merges = k + 1;
	}
	*out = t;
	return 0;
nomem:
	lethe_tokenizer_free(t);
	return LETHE_ENOMEM;
}

/* ---- pre-tokenization -------------------------------------------------------------------------
 */

static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}
static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

/* The length of the chunk starting at s[i]. */
static size_t chunk_len(const unsigned char *s, size_t n, size_t i)
{
	size_t j = i;
	if (s[j] == ' ' && j + 1 < n && !is_space(s[j + 1]))
		j++;
	if (!is_space(s[j])) {
		int word = is_word(s[j]);
		while (j < n && !is_space(s[j]) && is_word(s[j]) == word)
			j++;
		return j - i;
	}
	while (j < n && is_space(s[j]))
		j++;
	/* Leave a last space to lead the next word, as GPT-2's \s+(?!\S) does. */
	if (j < n && j - i > 1 && s[j - 1] == ' ')
		j--;
	return j - i;
}

/* ---- training ---------------------------------------------------------------------------------
 */

typedef struct word {
	int32_t *ids;
	size_t n;
	int64_t count;
} word;

typedef struct heap_item {
	int64_t count;
	int32_t a, b;
} heap_item;

typedef struct heap {
	heap_item *v;
	size_t n, cap;
} heap;

static int before(const heap_item *x, const heap_item *y)
{
	if (x->count != y->count)
		return x->count > y->count;
	if (x->a != y->a)
		return x->a < y->a;
	return x->b < y->b;
}

static int heap_push(heap *h, heap_item it)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		heap_item *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	size_t i = h->n++;
	h->v[i] = it;
	while (i > 0 && before(&h->v[i], &h->v[(i - 1) / 2])) {
		heap_item t = h->v[i];
		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static heap_item heap_pop(heap *h)
{
	heap_item top = h->v[0];
	h->v[0] = h->v[--h->n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < h->n && before(&h->v[l], &h->v[best]))
			best = l;
		if (r < h->n && before(&h->v[r], &h->v[best]))
			best = r;
		if (best == i)
			break;
		heap_item t = h->v[i];
		h->v[i] = h->v[best];
		h->v[best] = t;
		i = best;
	}
	return top;
}

/* Per pair: its count and the words that (may) contain it. */
typedef struct pair_info {
	int64_t count;
	uint32_t *words;
	size_t n, cap;
} pair_info;

typedef struct trainer {
	u64map index; /* pair -> index into infos */
	pair_info *infos;
	size_t n_infos, cap_infos;
	heap heap;
} trainer;

static pair_info *info_of(trainer *tr, int32_t a, int32_t b)
{
	int64_t *slot = u64map_at(&tr->index, pair_key(a, b));
	if (!slot)
		return NULL;
	if (*slot == 0) {
		if (tr->n_infos == tr->cap_infos) {
			size_t cap = tr->cap_infos ? 2 * tr->cap_infos : 1024;
			pair_info *v = realloc(tr->infos, cap * sizeof(*v));
			if (!v)
				return NULL;
			tr->infos = v;
			tr->cap_infos = cap;
		}
		tr->infos[tr->n_infos] = (pair_info){0};
		*slot = (int64_t)++tr->n_infos;
	}
	return &tr->infos[*slot - 1];
}

/* Adds delta occurrences of every pair of w (index wi) to the counts. */
static int count_pairs(trainer *tr, const word *w, uint32_t wi, int64_t sign)
{
	for (size_t i = 0; i + 1 < w->n; i++) {
		pair_info *p = info_of(tr, w->ids[i], w->ids[i + 1]);
		if (!p)
			return LETHE_ENOMEM;
		p->count += sign * w->count;
		if (sign > 0 && (p->n == 0 || p->words[p->n - 1] != wi)) {
			if (p->n == p->cap) {
				size_t cap = p->cap ? 2 * p->cap : 4;
				uint32_t *v = realloc(p->words, cap * sizeof(*v));
				if (!v)
					return LETHE_ENOMEM;
				p->words = v;
				p->cap = cap;
			}
			p->words[p->n++] = wi;
		}
		if (heap_push(&tr->heap, (heap_item){p->count, w->ids[i], w->ids[i + 1]}))
			return LETHE_ENOMEM;
	}
	return 0;
}

/* Replaces every non-overlapping (a, b) of w, left to right, by id. Returns whether it changed. */
static int apply_merge(word *w, int32_t a, int32_t b, int32_t id)
{
	size_t k = 0;
	int changed = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (i + 1 < w->n && w->ids[i] == a && w->ids[i + 1] == b) {
			w->ids[k++] = id;
			i++;
			changed = 1;
		} else {
			w->ids[k++] = w->ids[i];
		}
	}
	w->n = k;
	return changed;
}

typedef struct chunk_ref {
	const char *s;
	size_t n;
} chunk_ref;

static int by_bytes(const void *x, const void *y)
{
	const chunk_ref *a = x, *b = y;
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->s, b->s, n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

int lethe_tokenizer_train(lethe_tokenizer **out, const char *const *texts, const size_t *lens,
                          size_t n_texts, size_t vocab_size)
{
	*out = NULL;
	if (vocab_size < LETHE_TOKEN_FIRST_MERGE)
		return LETHE_EINVAL;
	/* Every chunk occurrence, sorted, so that words (and so the merges) never depend on
	 * hashing. */
	size_t n_chunks = 0, cap_chunks = 1024;
	chunk_ref *chunks = malloc(cap_chunks * sizeof(*chunks));
	word *words = NULL;
	size_t n_words = 0;
	int32_t *merges = NULL;
	size_t n_merges = 0, max_merges = vocab_size - LETHE_TOKEN_FIRST_MERGE;
	trainer tr = {0};
	int rc = LETHE_ENOMEM;
	if (!chunks)
		goto done;
	for (size_t t = 0; t < n_texts; t++) {
		const unsigned char *s = (const unsigned char *)texts[t];
		for (size_t i = 0; i < lens[t];) {
			size_t k = chunk_len(s, lens[t], i);
			if (n_chunks == cap_chunks) {
				chunk_ref *v = realloc(chunks, (cap_chunks *= 2) * sizeof(*v));
				if (!v)
					goto done;
				chunks = v;
			}
			chunks[n_chunks++] = (chunk_ref){(const char *)s + i, k};
			i += k;
		}
	}
	if (n_chunks)
		qsort(chunks, n_chunks, sizeof(*chunks), by_bytes);
	words = calloc(n_chunks ? n_chunks : 1, sizeof(*words));
	merges = malloc((2 * max_merges + 1) * sizeof(*merges));
	if (!words || !merges)
		goto done;
	for (size_t i = 0; i < n_chunks;) {
		size_t j = i;
		while (j < n_chunks && by_bytes(&chunks[i], &chunks[j]) == 0)
			j++;
		word *w = &words[n_words];
		if (!(w->ids = malloc(chunks[i].n * sizeof(int32_t))))
			goto done;
		for (size_t k = 0; k < chunks[i].n; k++)
			w->ids[k] = (unsigned char)chunks[i].s[k];
		w->n = chunks[i].n;
		w->count = (int64_t)(j - i);
		if (count_pairs(&tr, w, (uint32_t)n_words, 1))
			goto done;
		n_words++;
		i = j;
	}
	while (n_merges < max_merges && tr.heap.n > 0) {
		heap_item top = heap_pop(&tr.heap);
		pair_info *p = info_of(&tr, top.a, top.b);
		if (!p)
			goto done;
		if (p->count != top.count || p->count <= 0)
			continue; /* stale entry */
		int32_t id = (int32_t)(LETHE_TOKEN_FIRST_MERGE + n_merges);
		merges[2 * n_merges] = top.a;
		merges[2 * n_merges + 1] = top.b;
		n_merges++;
		/* The pair's word list may be reallocated while we add pairs: take it over first.
		 */
		uint32_t *list = p->words;
		size_t n_list = p->n;
		p->words = NULL;
		p->n = p->cap = 0;
		for (size_t k = 0; k < n_list; k++) {
			word *w = &words[list[k]];
			if (k > 0 && list[k] == list[k - 1])
				continue;
			int has = 0;
			for (size_t i = 0; i + 1 < w->n && !has; i++)
				has = w->ids[i] == top.a && w->ids[i + 1] == top.b;
			if (!has)
				continue;
			if (count_pairs(&tr, w, list[k], -1)) {
				free(list);
				goto done;
			}
			apply_merge(w, top.a, top.b, id);
			if (count_pairs(&tr, w, list[k], 1)) {
				free(list);
				goto done;
			}
		}
		free(list);
	}
	rc = lethe_tokenizer_from_merges(out, merges, n_merges);
done:
	for (size_t i = 0; i < n_words; i++)
		free(words[i].ids);
	for (size_t i = 0; i < tr.n_infos; i++)
		free(tr.infos[i].words);
	free(tr.infos);
	free(tr.heap.v);
	u64map_free(&tr.index);
	free(words);
	free(merges);
	free(chunks);
	return rc;
}

/* ---- encoding ---------------------------------------------------------------------------------
 */

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

/* Encodes one chunk into ids (room for n), returning the count. */
static size_t encode_chunk(const lethe_tokenizer *t, const unsigned char *s, size_t n, int32_t *ids)
{
	for (size_t i = 0; i < n; i++)
		ids[i] = s[i];
	size_t k = n;
	while (k > 1) {
		int64_t best = 0;
		int32_t ba = 0, bb = 0;
		for (size_t i = 0; i + 1 < k; i++) {
			const int64_t *r = u64map_get(&t->ranks, pair_key(ids[i], ids[i + 1]));
			if (r && (best == 0 || *r < best)) {
				best = *r;
				ba = ids[i];
				bb = ids[i + 1];
			}
		}
		if (best == 0)
			break;
		word w = {ids, k, 0};
		apply_merge(&w, ba, bb, (int32_t)(LETHE_TOKEN_FIRST_MERGE + best - 1));
		k = w.n;
	}
	return k;
}

#define CACHE_MAX 262144
#define CACHE_CHUNK_MAX 64

int lethe_tokenizer_encode(lethe_tokenizer *t, const char *text, size_t len, int32_t **out,
                           size_t *n_out)
{
	if (t->pre)
		return lethe_pretrained_tok_encode(t->pre, text, len, out, n_out);
	const unsigned char *s = (const unsigned char *)text;
	int32_t *ids = malloc((len + 1) * sizeof(*ids));
	if (!ids)
		return LETHE_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		size_t k = chunk_len(s, len, i);
		if (k > CACHE_CHUNK_MAX) {
			n += encode_chunk(t, s + i, k, ids + n);
			i += k;
			continue;
		}
		uint64_t h = hash_bytes(s + i, k) | 1; /* never 0: 0 marks a fresh slot */
		int64_t *slot = u64map_at(&t->cache, h);
		if (!slot) {
			free(ids);
			return LETHE_ENOMEM;
		}
		if (*slot > 0) {
			size_t e = (size_t)*slot - 1;
			if (t->cache_text_len[e] == k && memcmp(t->cache_text[e], s + i, k) == 0) {
				memcpy(ids + n, t->cache_ids[e], t->cache_n[e] * sizeof(int32_t));
				n += t->cache_n[e];
				i += k;
				continue;
			}
		}
		size_t m = encode_chunk(t, s + i, k, ids + n);
		if (*slot == 0 && t->cache_used < CACHE_MAX) {
			if (t->cache_used == t->cache_cap) {
				size_t cap = t->cache_cap ? 2 * t->cache_cap : 4096;
				char **a = realloc(t->cache_text, cap * sizeof(*a));
				if (a)
					t->cache_text = a;
				size_t *b = realloc(t->cache_text_len, cap * sizeof(*b));
				if (b)
					t->cache_text_len = b;
				int32_t **c = realloc(t->cache_ids, cap * sizeof(*c));
				if (c)
					t->cache_ids = c;
				size_t *d = realloc(t->cache_n, cap * sizeof(*d));
				if (d)
					t->cache_n = d;
				if (!a || !b || !c || !d) {
					free(ids);
					return LETHE_ENOMEM;
				}
				t->cache_cap = cap;
			}
			size_t e = t->cache_used;
			t->cache_text[e] = malloc(k);
			t->cache_ids[e] = malloc(m * sizeof(int32_t));
			if (t->cache_text[e] && t->cache_ids[e]) {
				memcpy(t->cache_text[e], s + i, k);
				memcpy(t->cache_ids[e], ids + n, m * sizeof(int32_t));
				t->cache_text_len[e] = k;
				t->cache_n[e] = m;
				t->cache_used++;
				*slot = (int64_t)t->cache_used;
			} else {
				free(t->cache_text[e]);
				free(t->cache_ids[e]);
			}
		}
		n += m;
		i += k;
	}
	*out = ids;
	*n_out = n;
	return 0;
}

int lethe_tokenizer_decode(const lethe_tokenizer *t, const int32_t *ids, size_t n, char **out,
                           size_t *len)
{
	if (t->pre)
		return lethe_pretrained_tok_decode(t->pre, ids, n, out, len);
	size_t vocab = lethe_tokenizer_vocab_size(t), total = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (size_t)ids[i] >= vocab)
			return LETHE_EINVAL;
		if (ids[i] < 256 || ids[i] >= LETHE_TOKEN_FIRST_MERGE)
			total += t->lens[ids[i]];
	}
	char *s = malloc(total + 1);
	if (!s)
		return LETHE_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 256 || ids[i] >= LETHE_TOKEN_FIRST_MERGE) {
			memcpy(s + k, t->bytes[ids[i]], t->lens[ids[i]]);
			k += t->lens[ids[i]];
		}
	s[k] = '\0';
	*out = s;
	*len = k;
	return 0;
}
