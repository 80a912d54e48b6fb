/*
 * bleu.c: BLEU exactly as sacrebleu 2.x computes it: the 13a tokenizer (mteval-v13a), n-grams of
 * orders 1 to 4 clipped by the maximum count over the references, the closest reference length
 * (the shorter one on ties), exponential smoothing, and effective order for sentence BLEU.
 *
 * Text is processed as Unicode code points because the reference is Python: whitespace is what
 * str.split() splits on (U+00A0 included), lower-casing is str.lower().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

#include "ngram.h"
#include "unicode.h"

#define ORDER 4

typedef struct cpbuf {
	uint32_t *v;
	size_t n, cap;
} cpbuf;

static int cp_reserve(cpbuf *b, size_t extra)
{
	if (b->n + extra <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->n + extra)
		cap *= 2;
	uint32_t *v = realloc(b->v, cap * sizeof(*v));
	if (!v)
		return LETHE_ENOMEM;
	b->v = v;
	b->cap = cap;
	return 0;
}

static void cp_push(cpbuf *b, uint32_t c)
{
	b->v[b->n++] = c;
}

static int is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* Python's str.replace(pattern, repl): left to right, non-overlapping. pattern is ASCII. */
static int replace(cpbuf *in, cpbuf *out, const char *pattern, const char *repl)
{
	size_t pl = strlen(pattern), rl = strlen(repl);
	out->n = 0;
	if (cp_reserve(out, in->n + 1))
		return LETHE_ENOMEM;
	for (size_t i = 0; i < in->n;) {
		size_t k = 0;
		while (k < pl && i + k < in->n && in->v[i + k] == (unsigned char)pattern[k])
			k++;
		if (k == pl) {
			for (size_t j = 0; j < rl; j++)
				cp_push(out, (unsigned char)repl[j]);
			i += pl;
		} else {
			cp_push(out, in->v[i++]);
		}
	}
	cpbuf t = *in;
	*in = *out;
	*out = t;
	return 0;
}

static int contains(const cpbuf *b, uint32_t c)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i] == c)
			return 1;
	return 0;
}

/* The punctuation class of mteval's first regular expression: [\{-\~\[-\` -\&\(-\+\:-\@\/]. */
static int punct_13a(uint32_t c)
{
	return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
	       (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

/* Tokenizer13a + TokenizerRegexp, then str.split(): tokens are written to tok as spans of
 * cp->v separated by whitespace. in is consumed. */
static int tokenize_13a(cpbuf *in, cpbuf *tmp)
{
	if (replace(in, tmp, "<skipped>", "") || replace(in, tmp, "-\n", "") ||
	    replace(in, tmp, "\n", " "))
		return LETHE_ENOMEM;
	if (contains(in, '&') &&
	    (replace(in, tmp, "&quot;", "\"") || replace(in, tmp, "&amp;", "&") ||
	     replace(in, tmp, "&lt;", "<") || replace(in, tmp, "&gt;", ">")))
		return LETHE_ENOMEM;

	/* f' {line} ' and the punctuation rule. */
	tmp->n = 0;
	if (cp_reserve(tmp, 3 * in->n + 2))
		return LETHE_ENOMEM;
	cp_push(tmp, ' ');
	for (size_t i = 0; i < in->n; i++) {
		if (punct_13a(in->v[i])) {
			cp_push(tmp, ' ');
			cp_push(tmp, in->v[i]);
			cp_push(tmp, ' ');
		} else {
			cp_push(tmp, in->v[i]);
		}
	}
	cp_push(tmp, ' ');

	/* ([^0-9])([\.,]) -> \1 \2 ; re.sub scans left to right without overlap. */
	in->n = 0;
	if (cp_reserve(in, 2 * tmp->n))
		return LETHE_ENOMEM;
	for (size_t i = 0; i < tmp->n;) {
		if (i + 1 < tmp->n && !is_digit(tmp->v[i]) &&
		    (tmp->v[i + 1] == '.' || tmp->v[i + 1] == ',')) {
			cp_push(in, tmp->v[i]);
			cp_push(in, ' ');
			cp_push(in, tmp->v[i + 1]);
			cp_push(in, ' ');
			i += 2;
		} else {
			cp_push(in, tmp->v[i++]);
		}
	}
	/* ([\.,])([^0-9]) -> " \1 \2" */
	tmp->n = 0;
	if (cp_reserve(tmp, 2 * in->n))
		return LETHE_ENOMEM;
	for (size_t i = 0; i < in->n;) {
		if (i + 1 < in->n && (in->v[i] == '.' || in->v[i] == ',') &&
		    !is_digit(in->v[i + 1])) {
			cp_push(tmp, ' ');
			cp_push(tmp, in->v[i]);
			cp_push(tmp, ' ');
			cp_push(tmp, in->v[i + 1]);
			i += 2;
		} else {
			cp_push(tmp, in->v[i++]);
		}
	}
	/* ([0-9])(-) -> "\1 \2 " */
	in->n = 0;
	if (cp_reserve(in, 2 * tmp->n))
		return LETHE_ENOMEM;
	for (size_t i = 0; i < tmp->n;) {
		if (i + 1 < tmp->n && is_digit(tmp->v[i]) && tmp->v[i + 1] == '-') {
			cp_push(in, tmp->v[i]);
			cp_push(in, ' ');
			cp_push(in, '-');
			cp_push(in, ' ');
			i += 2;
		} else {
			cp_push(in, tmp->v[i++]);
		}
	}
	return 0;
}

/* Everything one segment needs, reused across segments. */
typedef struct bleu_work {
	cpbuf text, tmp;
	uint32_t *ids;
	size_t n_ids, cap_ids;
	lethe_interner words;
	lethe_ngrams hyp[ORDER], ref[ORDER], one_ref[ORDER];
} bleu_work;

/* Preprocesses and tokenizes s, leaving token ids in w->ids[0..w->n_ids). */
static int segment_tokens(bleu_work *w, const char *s, const lethe_bleu_options *opt)
{
	uint32_t *cp;
	size_t n;
	if (lethe_utf8_decode(s, strlen(s), &cp, &n))
		return LETHE_ENOMEM;
	if (opt->lowercase) {
		uint32_t *low;
		size_t n_low;
		int rc = lethe_unicode_lower(cp, n, &low, &n_low);
		free(cp);
		if (rc)
			return rc;
		cp = low;
		n = n_low;
	}
	while (n > 0 && lethe_unicode_isspace(cp[n - 1])) /* str.rstrip() */
		n--;
	w->text.n = 0;
	if (cp_reserve(&w->text, n + 1)) {
		free(cp);
		return LETHE_ENOMEM;
	}
	memcpy(w->text.v, cp, n * sizeof(*cp));
	w->text.n = n;
	free(cp);
	if (opt->tokenize == LETHE_BLEU_TOKENIZE_13A && tokenize_13a(&w->text, &w->tmp))
		return LETHE_ENOMEM;

	w->n_ids = 0;
	const uint32_t *v = w->text.v;
	for (size_t i = 0, n_cp = w->text.n; i < n_cp;) {
		while (i < n_cp && lethe_unicode_isspace(v[i]))
			i++;
		size_t start = i;
		while (i < n_cp && !lethe_unicode_isspace(v[i]))
			i++;
		if (i == start)
			break;
		if (lethe_ids_push(&w->ids, &w->cap_ids, &w->n_ids,
		                   lethe_intern(&w->words, v + start, i - start)))
			return LETHE_ENOMEM;
	}
	return 0;
}

/* sacrebleu's compute_bleu() with smooth_method='exp'. */
static void compute(lethe_bleu_score *out, int effective_order)
{
	uint64_t sys_len = out->sys_len, ref_len = out->ref_len;
	if (sys_len < ref_len)
		out->bp = sys_len > 0 ? exp(1.0 - (double)ref_len / (double)sys_len) : 0.0;
	else
		out->bp = 1.0;
	out->ratio = ref_len > 0 ? (double)sys_len / (double)ref_len : 0.0;
	for (int i = 0; i < ORDER; i++)
		out->precisions[i] = 0.0;
	out->score = 0.0;
	int any = 0;
	for (int i = 0; i < ORDER; i++)
		any |= out->counts[i] != 0;
	if (!any)
		return;
	double smooth_mteval = 1.0;
	int eff_order = ORDER;
	for (int n = 1; n <= ORDER; n++) {
		if (out->totals[n - 1] == 0)
			break;
		if (effective_order)
			eff_order = n;
		if (out->counts[n - 1] == 0) {
			smooth_mteval *= 2;
			out->precisions[n - 1] =
			    100.0 / (smooth_mteval * (double)out->totals[n - 1]);
		} else {
			out->precisions[n - 1] =
			    100.0 * (double)out->counts[n - 1] / (double)out->totals[n - 1];
		}
	}
	double sum = 0.0;
	for (int i = 0; i < eff_order; i++)
		sum += out->precisions[i] > 0.0 ? log(out->precisions[i]) : -9999999999.0;
	out->score = out->bp * exp(sum / eff_order);
}

void lethe_bleu_from_stats(lethe_bleu_score *score, int effective_order)
{
	compute(score, effective_order);
}

static void work_free(bleu_work *w)
{
	free(w->text.v);
	free(w->tmp.v);
	free(w->ids);
	lethe_interner_free(&w->words);
	for (int i = 0; i < ORDER; i++) {
		lethe_ngrams_free(&w->hyp[i]);
		lethe_ngrams_free(&w->ref[i]);
		lethe_ngrams_free(&w->one_ref[i]);
	}
}

/* Adds one segment's statistics to out. */
static int segment(bleu_work *w, lethe_bleu_score *out, const char *hyp, const char *const *refs,
                   size_t n_refs, const lethe_bleu_options *opt)
{
	lethe_interner_clear(&w->words);
	for (int i = 0; i < ORDER; i++) {
		lethe_ngrams_clear(&w->hyp[i]);
		lethe_ngrams_clear(&w->ref[i]);
	}
	/* The reference n-grams: for each n-gram, its maximum count over the references. */
	uint64_t closest = 0, best_diff = UINT64_MAX;
	if (segment_tokens(w, hyp, opt))
		return LETHE_ENOMEM;
	uint64_t hyp_len = w->n_ids;
	for (int i = 0; i < ORDER; i++)
		if (lethe_ngrams_add_all(&w->hyp[i], w->ids, w->n_ids))
			return LETHE_ENOMEM;
	for (size_t r = 0; r < n_refs; r++) {
		if (segment_tokens(w, refs[r], opt))
			return LETHE_ENOMEM;
		uint64_t len = w->n_ids;
		uint64_t diff = len > hyp_len ? len - hyp_len : hyp_len - len;
		if (diff < best_diff || (diff == best_diff && len < closest)) {
			best_diff = diff;
			closest = len;
		}
		for (int i = 0; i < ORDER; i++) {
			lethe_ngrams *one = &w->one_ref[i];
			lethe_ngrams_clear(one);
			if (lethe_ngrams_add_all(one, w->ids, w->n_ids))
				return LETHE_ENOMEM;
			for (size_t s = 0; s < one->n_slots; s++)
				if (one->counts[s] &&
				    lethe_ngrams_max(&w->ref[i], one->keys + s * one->order,
				                     one->counts[s]))
					return LETHE_ENOMEM;
		}
	}
	out->sys_len += hyp_len;
	out->ref_len += closest;
	for (int i = 0; i < ORDER; i++) {
		out->totals[i] += w->hyp[i].total;
		out->counts[i] += lethe_ngrams_overlap(&w->hyp[i], &w->ref[i]);
	}
	return 0;
}

int lethe_bleu(lethe_bleu_score *out, const char *const *hyps, const char *const *const *refs,
               const size_t *n_refs, size_t n, const lethe_bleu_options *options)
{
	static const lethe_bleu_options defaults = {LETHE_BLEU_TOKENIZE_13A, 0, 0};
	const lethe_bleu_options *opt = options ? options : &defaults;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (n_refs[i] == 0)
			return LETHE_EINVAL;
	bleu_work w;
	memset(&w, 0, sizeof(w));
	lethe_interner_init(&w.words);
	for (int i = 0; i < ORDER; i++) {
		lethe_ngrams_init(&w.hyp[i], (unsigned)i + 1);
		lethe_ngrams_init(&w.ref[i], (unsigned)i + 1);
		lethe_ngrams_init(&w.one_ref[i], (unsigned)i + 1);
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = segment(&w, out, hyps[i], refs[i], n_refs[i], opt);
	work_free(&w);
	if (rc == 0)
		compute(out, opt->effective_order);
	return rc;
}
