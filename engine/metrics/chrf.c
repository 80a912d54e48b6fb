/*
 * chrf.c: chrF and chrF++ exactly as sacrebleu 2.x computes them: character n-grams of orders
 * 1..char_order over the text with whitespace removed, word n-grams of orders 1..word_order over
 * words whose leading or trailing ASCII punctuation is split off, per-order statistics
 * [hypothesis, reference, matches] (the hypothesis count is 0 for an order the reference has no
 * n-gram of), the reference with the best sentence score when there are several, and the
 * F-beta of precision and recall averaged over the orders where both sides have n-grams.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

#include "ngram.h"
#include "unicode.h"

#define MAX_ORDER (2 * LETHE_NGRAM_MAX)

typedef struct side {
	lethe_ngrams grams[MAX_ORDER]; /* char orders first, then word orders */
} side;

typedef struct chrf_work {
	const lethe_chrf_options *opt;
	unsigned order;
	lethe_interner words;
	side hyp, ref;
	uint32_t *ids;
	size_t cap_ids;
} chrf_work;

static int is_punct(uint32_t c)
{
	return c < 0x80 && c > 0x20 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c) != NULL;
}

static int push_id(chrf_work *w, size_t *n, long id)
{
	return lethe_ids_push(&w->ids, &w->cap_ids, n, id);
}

/* Fills s with the n-grams of text, as sacrebleu's extract_all_char_ngrams() and
 * extract_word_ngrams() over _remove_punctuation() do. */
static int extract(chrf_work *w, side *s, const char *text)
{
	const lethe_chrf_options *opt = w->opt;
	uint32_t *cp;
	size_t n;
	int rc = lethe_utf8_decode(text, strlen(text), &cp, &n);
	if (rc)
		return rc;
	if (opt->lowercase) {
		uint32_t *low;
		size_t n_low;
		rc = lethe_unicode_lower(cp, n, &low, &n_low);
		free(cp);
		if (rc)
			return rc;
		cp = low;
		n = n_low;
	}
	for (unsigned i = 0; i < w->order; i++)
		lethe_ngrams_clear(&s->grams[i]);

	uint32_t *chars = malloc((n + 1) * sizeof(*chars));
	if (!chars) {
		free(cp);
		return LETHE_ENOMEM;
	}
	size_t n_chars = 0;
	for (size_t i = 0; i < n; i++)
		if (opt->whitespace || !lethe_unicode_isspace(cp[i]))
			chars[n_chars++] = cp[i];
	for (unsigned k = 0; k < opt->char_order && rc == 0; k++)
		rc = lethe_ngrams_add_all(&s->grams[k], chars, n_chars);
	free(chars);

	size_t n_ids = 0;
	for (size_t i = 0; i < n && rc == 0 && opt->word_order > 0;) {
		while (i < n && lethe_unicode_isspace(cp[i]))
			i++;
		size_t a = i;
		while (i < n && !lethe_unicode_isspace(cp[i]))
			i++;
		size_t len = i - a;
		if (len == 0)
			break;
		if (len > 1 && is_punct(cp[i - 1])) {
			if (!(rc = push_id(w, &n_ids, lethe_intern(&w->words, cp + a, len - 1))))
				rc = push_id(w, &n_ids, lethe_intern(&w->words, cp + i - 1, 1));
		} else if (len > 1 && is_punct(cp[a])) {
			if (!(rc = push_id(w, &n_ids, lethe_intern(&w->words, cp + a, 1))))
				rc = push_id(w, &n_ids,
				             lethe_intern(&w->words, cp + a + 1, len - 1));
		} else {
			rc = push_id(w, &n_ids, lethe_intern(&w->words, cp + a, len));
		}
	}
	for (unsigned k = 0; k < opt->word_order && rc == 0; k++)
		rc = lethe_ngrams_add_all(&s->grams[opt->char_order + k], w->ids, n_ids);
	free(cp);
	return rc;
}

/* sacrebleu's CHRF._compute_f_score() without eps smoothing. */
static double f_score(const uint64_t *stats, unsigned order, double beta)
{
	double factor = beta * beta, avg_prec = 0.0, avg_rec = 0.0;
	int effective = 0;
	for (unsigned i = 0; i < order; i++) {
		uint64_t n_hyp = stats[3 * i], n_ref = stats[3 * i + 1], n_match = stats[3 * i + 2];
		if (n_hyp > 0 && n_ref > 0) {
			avg_prec += (double)n_match / (double)n_hyp;
			avg_rec += (double)n_match / (double)n_ref;
			effective++;
		}
	}
	if (effective == 0)
		return 0.0;
	avg_prec /= effective;
	avg_rec /= effective;
	if (avg_prec + avg_rec == 0.0)
		return 0.0;
	double score = (1 + factor) * avg_prec * avg_rec;
	score /= (factor * avg_prec) + avg_rec;
	return 100 * score;
}

int lethe_chrf(double *score, double *sentence_scores, const char *const *hyps,
               const char *const *const *refs, const size_t *n_refs, size_t n,
               const lethe_chrf_options *options)
{
	static const lethe_chrf_options defaults = {6, 0, 2.0, 0, 0};
	const lethe_chrf_options *opt = options ? options : &defaults;
	if (opt->char_order == 0 || opt->char_order > LETHE_NGRAM_MAX ||
	    opt->word_order > LETHE_NGRAM_MAX)
		return LETHE_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (n_refs[i] == 0)
			return LETHE_EINVAL;
	chrf_work w;
	memset(&w, 0, sizeof(w));
	w.opt = opt;
	w.order = opt->char_order + opt->word_order;
	lethe_interner_init(&w.words);
	for (unsigned i = 0; i < w.order; i++) {
		unsigned k = i < opt->char_order ? i + 1 : i - opt->char_order + 1;
		lethe_ngrams_init(&w.hyp.grams[i], k);
		lethe_ngrams_init(&w.ref.grams[i], k);
	}
	uint64_t total[3 * MAX_ORDER] = {0}, stats[3 * MAX_ORDER], best[3 * MAX_ORDER];
	int rc = 0;
	for (size_t s = 0; s < n && rc == 0; s++) {
		lethe_interner_clear(&w.words);
		if ((rc = extract(&w, &w.hyp, hyps[s])))
			break;
		double best_f = -1.0;
		for (size_t r = 0; r < n_refs[s] && rc == 0; r++) {
			if ((rc = extract(&w, &w.ref, refs[s][r])))
				break;
			for (unsigned i = 0; i < w.order; i++) {
				const lethe_ngrams *h = &w.hyp.grams[i], *g = &w.ref.grams[i];
				stats[3 * i] = g->total > 0 ? h->total : 0;
				stats[3 * i + 1] = g->total;
				stats[3 * i + 2] = lethe_ngrams_overlap(h, g);
			}
			double f = f_score(stats, w.order, opt->beta);
			if (f > best_f) {
				best_f = f;
				memcpy(best, stats, sizeof(stats[0]) * 3 * w.order);
			}
		}
		if (rc)
			break;
		for (unsigned i = 0; i < 3 * w.order; i++)
			total[i] += best[i];
		if (sentence_scores)
			sentence_scores[s] = best_f;
	}
	if (rc == 0)
		*score = f_score(total, w.order, opt->beta);
	lethe_interner_free(&w.words);
	for (unsigned i = 0; i < w.order; i++) {
		lethe_ngrams_free(&w.hyp.grams[i]);
		lethe_ngrams_free(&w.ref.grams[i]);
	}
	free(w.ids);
	return rc;
}
