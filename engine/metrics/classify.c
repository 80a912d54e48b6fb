/*
 * classify.c: classification metrics as scikit-learn 1.2 computes them: accuracy_score and
 * precision_recall_fscore_support(average=None) over the sorted union of the gold and predicted
 * labels, with 0 for every zero division; macro F1 is the mean of the per-class F1 (a class that
 * is never predicted has F1 0 and still counts).
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

typedef struct label {
	const char *text;
	double value;
	int numeric; /* compare by value (the same in every label of one call) */
} label;

static int by_label(const void *a, const void *b)
{
	const label *x = a, *y = b;
	if (x->numeric)
		return x->value < y->value ? -1 : x->value > y->value;
	return strcmp(x->text, y->text);
}

static int parse_number(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return *s && !*end;
}

void lethe_classify_free(lethe_classify_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_classes; i++)
		free((char *)r->classes[i].label);
	free(r->classes);
	free(r);
}

/* Index of s among the sorted unique labels. */
static size_t find(const label *labels, size_t n, const char *s, int numeric)
{
	label key = {s, 0, numeric};
	if (numeric)
		parse_number(s, &key.value);
	const label *hit = bsearch(&key, labels, n, sizeof(*labels), by_label);
	return (size_t)(hit - labels);
}

int lethe_classify(lethe_classify_result **out, const char *const *gold, const char *const *pred,
                   size_t n, int numeric)
{
	*out = NULL;
	if (n == 0)
		return LETHE_EINVAL;
	label *all = malloc(2 * n * sizeof(*all));
	lethe_classify_result *r = calloc(1, sizeof(*r));
	uint64_t *tp = NULL, *n_pred = NULL, *n_true = NULL;
	int rc = LETHE_ENOMEM;
	if (!all || !r)
		goto done;
	for (size_t i = 0; i < n; i++) {
		all[2 * i] = (label){gold[i], 0, numeric};
		all[2 * i + 1] = (label){pred[i], 0, numeric};
	}
	if (numeric)
		for (size_t i = 0; i < 2 * n; i++)
			if (!parse_number(all[i].text, &all[i].value)) {
				rc = LETHE_EINVAL;
				goto done;
			}
	qsort(all, 2 * n, sizeof(*all), by_label);
	size_t k = 0;
	for (size_t i = 0; i < 2 * n; i++)
		if (k == 0 || by_label(&all[k - 1], &all[i]) != 0)
			all[k++] = all[i];
	tp = calloc(k, sizeof(*tp));
	n_pred = calloc(k, sizeof(*n_pred));
	n_true = calloc(k, sizeof(*n_true));
	r->classes = calloc(k, sizeof(*r->classes));
	if (!tp || !n_pred || !n_true || !r->classes)
		goto done;
	uint64_t correct = 0;
	for (size_t i = 0; i < n; i++) {
		size_t g = find(all, k, gold[i], numeric), p = find(all, k, pred[i], numeric);
		n_true[g]++;
		n_pred[p]++;
		if (g == p) {
			tp[g]++;
			correct++;
		}
	}
	r->accuracy = (double)correct / (double)n;
	double sum_f = 0, sum_p = 0, sum_r = 0;
	for (size_t c = 0; c < k; c++) {
		lethe_class_score *s = &r->classes[c];
		if (!(s->label = strdup(all[c].text)))
			goto done;
		r->n_classes++;
		s->precision = n_pred[c] ? (double)tp[c] / (double)n_pred[c] : 0.0;
		s->recall = n_true[c] ? (double)tp[c] / (double)n_true[c] : 0.0;
		double denom = s->precision + s->recall;
		s->f1 = denom > 0 ? 2 * s->precision * s->recall / denom : 0.0;
		s->support = n_true[c];
		sum_f += s->f1;
		sum_p += s->precision;
		sum_r += s->recall;
	}
	r->macro_f1 = sum_f / (double)k;
	r->macro_precision = sum_p / (double)k;
	r->macro_recall = sum_r / (double)k;
	*out = r;
	r = NULL;
	rc = 0;
done:
	lethe_classify_free(r);
	free(all);
	free(tp);
	free(n_pred);
	free(n_true);
	return rc;
}
