/*
 * lethe/metrics.h: the metrics library: corpus and sentence BLEU, chrF and chrF++ (as sacrebleu
 * 2.x computes them), ROUGE-1/2/L/Lsum (as Google's rouge-score, with nltk's Porter stemmer),
 * entity-level precision/recall/F1 (as seqeval's default mode and conlleval), and classification
 * metrics (as scikit-learn). liblethe exports the functions; plugins reach the same functions
 * through lethe_host.metrics, so they need not link against liblethe.
 *
 * Text is UTF-8, NUL-terminated. Functions return 0, LETHE_ENOMEM or LETHE_EINVAL.
 */
#ifndef LETHE_METRICS_H
#define LETHE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BLEU ------------------------------------------------------------------------------------ */

typedef enum lethe_bleu_tokenize {
	LETHE_BLEU_TOKENIZE_13A = 0, /* sacrebleu's default, mteval-v13a */
	LETHE_BLEU_TOKENIZE_NONE = 1
} lethe_bleu_tokenize;

typedef struct lethe_bleu_options {
	lethe_bleu_tokenize tokenize;
	int lowercase;
	int effective_order; /* 1 for sentence BLEU, as sacrebleu's sentence_bleu() */
} lethe_bleu_options;

typedef struct lethe_bleu_score {
	double score;         /* 0..100 */
	uint64_t counts[4];   /* matching n-grams, n = 1..4 */
	uint64_t totals[4];   /* hypothesis n-grams */
	double precisions[4]; /* 0..100, smoothed as sacrebleu reports them */
	double bp;            /* brevity penalty */
	uint64_t sys_len, ref_len;
	double ratio; /* sys_len / ref_len, 0 when ref_len is 0 */
} lethe_bleu_score;

/* Corpus BLEU with exponential smoothing over n segments; segment i has n_refs[i] >= 1
 * references refs[i][0..n_refs[i]). Sentence BLEU is n = 1 with effective_order set. */
LETHE_EXPORT int lethe_bleu(lethe_bleu_score *out, const char *const *hyps,
                            const char *const *const *refs, const size_t *n_refs, size_t n,
                            const lethe_bleu_options *options);

/* ---- chrF ------------------------------------------------------------------------------------ */

typedef struct lethe_chrf_options {
	unsigned char_order; /* 6 */
	unsigned word_order; /* 0: chrF; 2: chrF++ */
	double beta;         /* 2 */
	int lowercase;
	int whitespace; /* keep whitespace inside character n-grams */
} lethe_chrf_options;

/* Corpus chrF (0..100) into *score and, when sentence_scores is not NULL, each segment's. With
 * several references a segment uses the one with the best sentence score. */
LETHE_EXPORT int lethe_chrf(double *score, double *sentence_scores, const char *const *hyps,
                            const char *const *const *refs, const size_t *n_refs, size_t n,
                            const lethe_chrf_options *options);

/* ---- ROUGE ----------------------------------------------------------------------------------- */

typedef struct lethe_prf {
	double precision, recall, fmeasure;
} lethe_prf;

typedef struct lethe_rouge_score {
	lethe_prf rouge1, rouge2, rougeL, rougeLsum;
} lethe_rouge_score;

/* ROUGE of one prediction against its references; with several, each ROUGE type takes the
 * reference with the highest F (rouge-score's score_multi). rougeLsum splits on '\n'. */
LETHE_EXPORT int lethe_rouge(lethe_rouge_score *out, const char *prediction,
                             const char *const *refs, size_t n_refs, int stem);
/* Porter stemmer (nltk's NLTK_EXTENSIONS mode) of a lower-case ASCII word, in place; returns
 * the new length (never longer). */
LETHE_EXPORT size_t lethe_porter_stem(char *word, size_t len);

/* ---- entity F1 (seqeval default mode, conlleval) --------------------------------------------- */

typedef struct lethe_entity_score {
	const char *type;            /* NULL for the micro average */
	uint64_t tp, n_pred, n_true; /* n_true is the support */
	double precision, recall, f1;
} lethe_entity_score;

typedef struct lethe_seqeval_result {
	lethe_entity_score micro;
	lethe_entity_score *types; /* sorted by type name */
	size_t n_types;
} lethe_seqeval_result;

/* Entities of n sentences: gold[i] and pred[i] hold lens[i] tags each ("O", "B-PER", "I-PER",
 * also E-/S-). Sentences are joined with an "O" between them, as seqeval does. Free the result
 * with lethe_seqeval_free(). */
LETHE_EXPORT int lethe_seqeval(lethe_seqeval_result **out, const char *const *const *gold,
                               const char *const *const *pred, const size_t *lens, size_t n);
LETHE_EXPORT void lethe_seqeval_free(lethe_seqeval_result *result);

/* ---- classification (scikit-learn) ----------------------------------------------------------- */

typedef struct lethe_class_score {
	const char *label;
	double precision, recall, f1;
	uint64_t support;
} lethe_class_score;

typedef struct lethe_classify_result {
	double accuracy;
	double macro_f1;
	double macro_precision, macro_recall;
	lethe_class_score *classes; /* every label of gold or pred, sorted as sklearn sorts them */
	size_t n_classes;
} lethe_classify_result;

/* Accuracy, per-class precision/recall/F1 and their macro averages over n pairs. numeric: the
 * labels are numbers (sorted by value, as sklearn sorts ints); else strings (by code point).
 * LETHE_EINVAL when numeric is set and a label is not a number. */
LETHE_EXPORT int lethe_classify(lethe_classify_result **out, const char *const *gold,
                                const char *const *pred, size_t n, int numeric);
LETHE_EXPORT void lethe_classify_free(lethe_classify_result *result);

/* ---- the table handed to plugins (lethe_host.metrics) ---------------------------------------- */

typedef struct lethe_metrics_api {
	uint32_t struct_size; /* grows only at the end */
	int (*bleu)(lethe_bleu_score *, const char *const *, const char *const *const *,
	            const size_t *, size_t, const lethe_bleu_options *);
	int (*chrf)(double *, double *, const char *const *, const char *const *const *,
	            const size_t *, size_t, const lethe_chrf_options *);
	int (*rouge)(lethe_rouge_score *, const char *, const char *const *, size_t, int);
	int (*seqeval)(lethe_seqeval_result **, const char *const *const *,
	               const char *const *const *, const size_t *, size_t);
	void (*seqeval_free)(lethe_seqeval_result *);
	int (*classify)(lethe_classify_result **, const char *const *, const char *const *, size_t,
	                int);
	void (*classify_free)(lethe_classify_result *);
} lethe_metrics_api;

/* sacrebleu's compute_bleu() (exponential smoothing) over the statistics already in score
 * (counts, totals, sys_len, ref_len, e.g. sentence statistics summed over a bootstrap resample):
 * fills score, precisions, bp and ratio. */
LETHE_EXPORT void lethe_bleu_from_stats(lethe_bleu_score *score, int effective_order);

/* ---- uncertainty: bootstrap resampling, percentiles, Welch's t-test ------------------------- */

/* The indices of a paired bootstrap: resamples rows of n indices in [0, n), drawn with
 * replacement. Deterministic for (n, resamples, seed) on every machine: SplitMix64 (Steele et
 * al. 2014) seeded with seed, each index by Lemire's unbiased multiply-and-reject (2019).
 * Every row of a run is resampled with the same indices, so differences between rows are
 * paired. *out (resamples x n) is malloc'd. */
LETHE_EXPORT int lethe_bootstrap_indices(uint32_t **out, size_t n, size_t resamples, uint64_t seed);

/* The p-th percentile (0 <= p <= 100) of values[0..n), n >= 1, by linear interpolation between
 * order statistics (numpy.percentile's default). values is sorted in place; NaNs are not allowed.
 */
LETHE_EXPORT double lethe_percentile(double *values, size_t n, double p);

/* The percentile interval at level (0.95: [2.5, 97.5]) of the mean of x[0..n) over resamples
 * (rows of idx from lethe_bootstrap_indices): NaN entries of x (undefined scores) are left out of
 * each mean. ci[0] <= ci[1]; both NaN when x has no number. */
LETHE_EXPORT int lethe_bootstrap_mean_ci(double ci[2], const double *x, size_t n,
                                         const uint32_t *idx, size_t resamples, double level);

/* Welch's unequal-variance t-test of the means of a[0..na) and b[0..nb), two-sided, as
 * scipy.stats.ttest_ind(a, b, equal_var=False): t, degrees of freedom and p. LETHE_EINVAL (all
 * NaN) when a sample has fewer than 2 values; p is NaN when both variances are 0. */
LETHE_EXPORT int lethe_welch_t_test(double *t, double *df, double *p, const double *a, size_t na,
                                    const double *b, size_t nb);

/* The p-quantile (0 < p < 1) of Student's t distribution with df > 0 degrees of freedom, as
 * scipy.stats.t.ppf(p, df) (to about 1e-12 relative); NaN outside the domain. For intervals over
 * seeds: mean +- t_quantile(0.975, n - 1) * sd / sqrt(n). */
LETHE_EXPORT double lethe_t_quantile(double p, double df);

/* The table liblethe hands to plugins. */
LETHE_EXPORT const lethe_metrics_api *lethe_metrics(void);

#ifdef __cplusplus
}
#endif

#endif
