/*
 * rouge.c: ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum exactly as Google's rouge-score computes
 * them: its tokenizer (lower-case, every run of characters outside [a-z0-9] becomes a space,
 * optional Porter stemming of tokens longer than 3 characters), n-gram overlap with
 * max(count, 1) denominators, LCS, and the summary-level union LCS of ROUGE-Lsum over lines
 * (with the counts that keep a token from being matched twice), and score_multi() for several
 * references: per ROUGE type, the reference with the highest F (the first on ties).
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

#include "ngram.h"
#include "unicode.h"

typedef struct tokens {
	uint32_t *ids;
	size_t n, cap;
} tokens;

static int tokens_push(tokens *t, uint32_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 32;
		uint32_t *ids = realloc(t->ids, cap * sizeof(*ids));
		if (!ids)
			return LETHE_ENOMEM;
		t->ids = ids;
		t->cap = cap;
	}
	t->ids[t->n++] = id;
	return 0;
}

static int alnum(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* rouge-score's tokenize.tokenize(): tokens of text[0..len) appended to out as interned ids. */
static int tokenize(lethe_interner *in, const char *text, size_t len, int stem, tokens *out)
{
	uint32_t *cp, *low;
	size_t n, n_low;
	int rc = lethe_utf8_decode(text, len, &cp, &n);
	if (rc)
		return rc;
	rc = lethe_unicode_lower(cp, n, &low, &n_low);
	free(cp);
	if (rc)
		return rc;
	char word[256];
	uint32_t key[256];
	for (size_t i = 0; i < n_low && rc == 0;) {
		while (i < n_low && !alnum(low[i]))
			i++;
		size_t a = i;
		while (i < n_low && alnum(low[i]))
			i++;
		if (i == a)
			break;
		size_t k = 0;
		/* Tokens longer than the buffer are kept whole by interning the code points
		 * directly; they are never stemmed (no English word is that long). */
		if (i - a < sizeof(word)) {
			for (size_t j = a; j < i; j++)
				word[k++] = (char)low[j];
			if (stem && k > 3)
				k = lethe_porter_stem(word, k);
			for (size_t j = 0; j < k; j++)
				key[j] = (unsigned char)word[j];
			long id = lethe_intern(in, key, k);
			rc = id < 0 ? LETHE_ENOMEM : tokens_push(out, (uint32_t)id);
		} else {
			long id = lethe_intern(in, low + a, i - a);
			rc = id < 0 ? LETHE_ENOMEM : tokens_push(out, (uint32_t)id);
		}
	}
	free(low);
	return rc;
}

static double fmeasure(double p, double r)
{
	return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static lethe_prf prf(double p, double r)
{
	return (lethe_prf){p, r, fmeasure(p, r)};
}

static int score_ngrams(lethe_prf *out, const tokens *target, const tokens *pred, unsigned n)
{
	lethe_ngrams t, p;
	lethe_ngrams_init(&t, n);
	lethe_ngrams_init(&p, n);
	int rc = lethe_ngrams_add_all(&t, target->ids, target->n);
	if (rc == 0)
		rc = lethe_ngrams_add_all(&p, pred->ids, pred->n);
	if (rc == 0) {
		double overlap = (double)lethe_ngrams_overlap(&t, &p);
		double p_count = (double)p.total, t_count = (double)t.total;
		*out = prf(overlap / (p_count > 1 ? p_count : 1),
		           overlap / (t_count > 1 ? t_count : 1));
	}
	lethe_ngrams_free(&t);
	lethe_ngrams_free(&p);
	return rc;
}

/* The LCS table of a (rows) and b (columns): (na + 1) * (nb + 1) entries. */
static uint32_t *lcs_table(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t cols = nb + 1;
	uint32_t *t = calloc((na + 1) * cols, sizeof(*t));
	if (!t)
		return NULL;
	for (size_t i = 1; i <= na; i++)
		for (size_t j = 1; j <= nb; j++) {
			if (a[i - 1] == b[j - 1])
				t[i * cols + j] = t[(i - 1) * cols + j - 1] + 1;
			else {
				uint32_t up = t[(i - 1) * cols + j], left = t[i * cols + j - 1];
				t[i * cols + j] = up > left ? up : left;
			}
		}
	return t;
}

static int score_lcs(lethe_prf *out, const tokens *target, const tokens *pred)
{
	if (target->n == 0 || pred->n == 0) {
		*out = (lethe_prf){0, 0, 0};
		return 0;
	}
	uint32_t *t = lcs_table(target->ids, target->n, pred->ids, pred->n);
	if (!t)
		return LETHE_ENOMEM;
	double lcs = t[target->n * (pred->n + 1) + pred->n];
	free(t);
	*out = prf(lcs / (double)pred->n, lcs / (double)target->n);
	return 0;
}

/* A summary split into lines ("\n"), each tokenized; empty lines are dropped before tokenizing,
 * lines that tokenize to nothing are kept, as rouge-score does. */
typedef struct summary {
	tokens *lines;
	size_t n;
} summary;

static void summary_free(summary *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i].ids);
	free(s->lines);
}

static int split_summary(lethe_interner *in, const char *text, int stem, summary *out)
{
	memset(out, 0, sizeof(*out));
	size_t cap = 0;
	for (const char *p = text;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0) {
			if (out->n == cap) {
				cap = cap ? 2 * cap : 8;
				tokens *lines = realloc(out->lines, cap * sizeof(*lines));
				if (!lines)
					return LETHE_ENOMEM;
				out->lines = lines;
			}
			out->lines[out->n] = (tokens){0};
			int rc = tokenize(in, p, len, stem, &out->lines[out->n++]);
			if (rc)
				return rc;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

/* The indices of ref's tokens on its LCS with can, by rouge-score's _backtrack_norec(). */
static int lcs_indices(const tokens *ref, const tokens *can, uint8_t *mark)
{
	uint32_t *t = lcs_table(ref->ids, ref->n, can->ids, can->n);
	if (!t)
		return LETHE_ENOMEM;
	size_t cols = can->n + 1, i = ref->n, j = can->n;
	while (i > 0 && j > 0) {
		if (ref->ids[i - 1] == can->ids[j - 1]) {
			mark[i - 1] = 1;
			i--;
			j--;
		} else if (t[i * cols + j - 1] > t[(i - 1) * cols + j]) {
			j--;
		} else {
			i--;
		}
	}
	free(t);
	return 0;
}

/* ROUGE-Lsum: union LCS per reference line, each token matched at most as often as it occurs. */
static int score_lsum(lethe_prf *out, const summary *ref, const summary *can, size_t n_ids)
{
	*out = (lethe_prf){0, 0, 0};
	if (ref->n == 0 || can->n == 0)
		return 0;
	size_t m = 0, n = 0;
	for (size_t i = 0; i < ref->n; i++)
		m += ref->lines[i].n;
	for (size_t i = 0; i < can->n; i++)
		n += can->lines[i].n;
	if (m == 0 || n == 0)
		return 0;
	int64_t *cnt_r = calloc(n_ids, sizeof(*cnt_r)), *cnt_c = calloc(n_ids, sizeof(*cnt_c));
	uint8_t *mark = NULL;
	int rc = LETHE_ENOMEM;
	if (!cnt_r || !cnt_c)
		goto done;
	for (size_t i = 0; i < ref->n; i++)
		for (size_t k = 0; k < ref->lines[i].n; k++)
			cnt_r[ref->lines[i].ids[k]]++;
	for (size_t i = 0; i < can->n; i++)
		for (size_t k = 0; k < can->lines[i].n; k++)
			cnt_c[can->lines[i].ids[k]]++;
	size_t hits = 0;
	for (size_t r = 0; r < ref->n; r++) {
		const tokens *line = &ref->lines[r];
		free(mark);
		if (!(mark = calloc(line->n + 1, 1)))
			goto done;
		/* The union of the LCS positions against every candidate line, in ref order. */
		for (size_t c = 0; c < can->n; c++)
			if ((rc = lcs_indices(line, &can->lines[c], mark)))
				goto done;
		for (size_t k = 0; k < line->n; k++) {
			uint32_t id = line->ids[k];
			if (mark[k] && cnt_c[id] > 0 && cnt_r[id] > 0) {
				hits++;
				cnt_c[id]--;
				cnt_r[id]--;
			}
		}
	}
	*out = prf((double)hits / (double)n, (double)hits / (double)m);
	rc = 0;
done:
	free(mark);
	free(cnt_r);
	free(cnt_c);
	return rc;
}

/* All four scores of prediction against one target. */
static int score_one(lethe_rouge_score *out, const char *prediction, const char *target, int stem)
{
	lethe_interner in;
	lethe_interner_init(&in);
	tokens t = {0}, p = {0};
	summary ts = {0}, ps = {0};
	int rc;
	if ((rc = tokenize(&in, target, strlen(target), stem, &t)) ||
	    (rc = tokenize(&in, prediction, strlen(prediction), stem, &p)) ||
	    (rc = score_ngrams(&out->rouge1, &t, &p, 1)) ||
	    (rc = score_ngrams(&out->rouge2, &t, &p, 2)) ||
	    (rc = score_lcs(&out->rougeL, &t, &p)) ||
	    (rc = split_summary(&in, target, stem, &ts)) ||
	    (rc = split_summary(&in, prediction, stem, &ps)))
		goto done;
	rc = score_lsum(&out->rougeLsum, &ts, &ps, in.n);
done:
	free(t.ids);
	free(p.ids);
	summary_free(&ts);
	summary_free(&ps);
	lethe_interner_free(&in);
	return rc;
}

int lethe_rouge(lethe_rouge_score *out, const char *prediction, const char *const *refs,
                size_t n_refs, int stem)
{
	if (n_refs == 0)
		return LETHE_EINVAL;
	int rc = score_one(out, prediction, refs[0], stem);
	for (size_t r = 1; r < n_refs && rc == 0; r++) {
		lethe_rouge_score s;
		if ((rc = score_one(&s, prediction, refs[r], stem)))
			break;
		/* np.argmax over F: a later reference wins only when strictly better. */
		if (s.rouge1.fmeasure > out->rouge1.fmeasure)
			out->rouge1 = s.rouge1;
		if (s.rouge2.fmeasure > out->rouge2.fmeasure)
			out->rouge2 = s.rouge2;
		if (s.rougeL.fmeasure > out->rougeL.fmeasure)
			out->rougeL = s.rougeL;
		if (s.rougeLsum.fmeasure > out->rougeLsum.fmeasure)
			out->rougeLsum = s.rougeLsum;
	}
	return rc;
}
