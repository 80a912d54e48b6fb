/*
 * sentiment.c: the `sentiment` task plugin, text classification by label words. Each example's
 * prompt is a template around the text and its target the label's verbalizer ("positive"); the
 * engine predicts the verbalizer with the highest likelihood. Scored by accuracy (primary),
 * macro-F1 and per-class precision/recall/F1, as scikit-learn computes them.
 *
 * Input: GLUE TSV with a header (sentence<TAB>label, as SST-2), header-less text<TAB>label lines
 * (the UCI review sentences), or JSON lines with configurable text and label fields. Text is
 * trimmed of surrounding blanks (SST-2 and the UCI files end sentences with spaces).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/plugin.h>

enum format { FORMAT_AUTO, FORMAT_TSV, FORMAT_JSONL };
enum header { HEADER_AUTO, HEADER_FALSE, HEADER_TRUE };

#define MAX_LABELS 64

struct split_data {
	size_t *prompt, *target; /* offsets into pool */
	int *label;              /* index into labels */
	size_t n, cap;
	lethe_pool pool;
};

struct lethe_task {
	const lethe_host *host;
	int format, header;
	char *text_column, *label_column; /* TSV: a header name or a 0-based index */
	char *text_field, *label_field;   /* JSON lines */
	char *template;
	int length_normalise;
	lethe_labels *labels;     /* the kit's label map, from the option labels */
	const char *const *keys;  /* label as written in the data; NULL after the last */
	const char *const *words; /* its verbalizer; NULL after the last */
	size_t n_labels;
	struct split_data splits[LETHE_SPLIT_COUNT];
};

static const char *const known_options[] = {
    "format",      "header", "text_column", "label_column",     "text_field",
    "label_field", "labels", "template",    "length_normalise", NULL};
static const char *const format_names[] = {"auto", "tsv", "jsonl", NULL};
static const char *const header_names[] = {"auto", "false", "true", NULL};
static const char *const placeholders[] = {"text", NULL};
#define DEFAULT_TEMPLATE "Review: {text}\nSentiment:"

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	free(s->prompt);
	free(s->target);
	free(s->label);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

static void sentiment_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	K->labels_free(t->labels);
	free(t->text_column);
	free(t->label_column);
	free(t->text_field);
	free(t->label_field);
	free(t->template);
	free(t);
}

static int set_string(char **dst, const char *value)
{
	free(*dst);
	*dst = strdup(value);
	return *dst ? 0 : LETHE_ENOMEM;
}

static int sentiment_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                            size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "sentiment", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	static const char *const default_labels[] = {"0", "negative", "1", "positive", NULL};
	rc = K->labels_from_options(host, &t->labels, "labels", options, n_options, default_labels);
	if (rc == 0) {
		t->keys = K->labels_keys(t->labels);
		t->words = K->labels_words(t->labels);
		t->n_labels = K->labels_count(t->labels);
	}
	if (rc == 0 && t->n_labels > MAX_LABELS) {
		host->error(host->ctx, "%s: option 'labels': at most %d labels", options[0].where,
		            MAX_LABELS);
		rc = LETHE_EINVAL;
	}
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strncmp(o->key, "labels", 6) == 0 && (o->key[6] == '.' || !o->key[6]))
			continue; /* the label map, read above */
		else if (strchr(o->key, '.')) {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "format") == 0)
			rc = K->option_enum(host, o, format_names, &t->format);
		else if (strcmp(o->key, "header") == 0)
			rc = K->option_enum(host, o, header_names, &t->header);
		else if (strcmp(o->key, "length_normalise") == 0)
			rc = K->option_bool(host, o, &t->length_normalise);
		else if (strcmp(o->key, "template") == 0) {
			if (!(rc = K->template_check(host, o, placeholders)))
				rc = set_string(&t->template, o->value);
		} else if (strcmp(o->key, "text_column") == 0)
			rc = set_string(&t->text_column, o->value);
		else if (strcmp(o->key, "label_column") == 0)
			rc = set_string(&t->label_column, o->value);
		else if (strcmp(o->key, "text_field") == 0)
			rc = set_string(&t->text_field, o->value);
		else if (strcmp(o->key, "label_field") == 0)
			rc = set_string(&t->label_field, o->value);
	}
	if (rc == 0 && !t->template)
		rc = set_string(&t->template, DEFAULT_TEMPLATE);
	if (rc == 0 && !t->text_field)
		rc = set_string(&t->text_field, "text");
	if (rc == 0 && !t->label_field)
		rc = set_string(&t->label_field, "label");
	if (rc) {
		sentiment_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int add_example(lethe_task *t, struct split_data *s, const char *text, size_t n, int label)
{
	const lethe_kit_api *K = t->host->kit;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		size_t *p = realloc(s->prompt, cap * sizeof(*p));
		if (!p)
			return LETHE_ENOMEM;
		s->prompt = p;
		size_t *g = realloc(s->target, cap * sizeof(*g));
		if (!g)
			return LETHE_ENOMEM;
		s->target = g;
		int *l = realloc(s->label, cap * sizeof(*l));
		if (!l)
			return LETHE_ENOMEM;
		s->label = l;
		s->cap = cap;
	}
	lethe_buf text_buf = {0}, prompt = {0};
	int rc = K->buf_add(&text_buf, text, n);
	const char *values[] = {text_buf.s};
	if (rc == 0)
		rc = K->template_render(&prompt, t->template, placeholders, values);
	if (rc == 0)
		rc = K->pool_add(&s->pool, prompt.s, prompt.n, &s->prompt[s->n]);
	if (rc == 0)
		rc = K->pool_add(&s->pool, t->words[label], strlen(t->words[label]),
		                 &s->target[s->n]);
	if (rc == 0)
		s->label[s->n++] = label;
	K->buf_free(&text_buf);
	K->buf_free(&prompt);
	return rc;
}

/* The index of the header field equal to name (blanks trimmed), or -1. */
static long name_index(const lethe_kit_api *K, const char *const *f, const size_t *flen,
                       size_t cols, const char *name)
{
	for (size_t i = 0; i < cols; i++) {
		size_t k = flen[i];
		const char *v = K->trim(f[i], &k);
		if (strlen(name) == k && memcmp(v, name, k) == 0)
			return (long)i;
	}
	return -1;
}

/* A 0-based column index (negative counts from the end), or -1 when spec is not a number. */
static long number_index(const char *spec, size_t cols)
{
	char *end;
	long v = strtol(spec, &end, 10);
	if (!*spec || *end)
		return -1;
	if (v < 0)
		v += (long)cols;
	return v >= 0 && (size_t)v < cols ? v : (long)cols; /* cols: out of range */
}

/* Resolves a column option against the first line; -1 with an error when it does not fit. */
static long resolve(lethe_task *t, const char *option, const char *spec, const char *const *f,
                    const size_t *flen, size_t cols, int header, const char *path)
{
	const lethe_kit_api *K = t->host->kit;
	long idx = number_index(spec, cols);
	if (idx == (long)cols) {
		t->host->error(t->host->ctx,
		               "%s:1: option '%s': column %s is out of range (%zu columns)", path,
		               option, spec, cols);
		return -1;
	}
	if (idx >= 0)
		return idx;
	if (header && (idx = name_index(K, f, flen, cols, spec)) >= 0)
		return idx;
	t->host->error(t->host->ctx, "%s:1: option '%s': no column named '%s'%s", path, option,
	               spec, header ? " in the header" : " (the file has no header)");
	return -1;
}

#define MAX_COLS 64

static int load_tsv(lethe_task *t, struct split_data *s, const char *path, const char *data,
                    size_t len)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line, *f[MAX_COLS];
	size_t n, flen[MAX_COLS], n_cols = 0;
	long text_col = -1, label_col = -1;
	int rc = 0, first = 1;
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		size_t bad = K->utf8_invalid(line, n);
		if (bad != (size_t)-1) {
			h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, it.lineno, bad + 1);
			return LETHE_EPARSE;
		}
		size_t cols = K->split_tabs(line, n, f, flen, MAX_COLS);
		if (first) {
			first = 0;
			n_cols = cols;
			if (cols < 2 || cols > MAX_COLS) {
				h->error(h->ctx,
				         "%s:%zu: expected tab-separated text and label columns, "
				         "found %zu column%s",
				         path, it.lineno, cols, cols == 1 ? "" : "s");
				return LETHE_EPARSE;
			}
			/* Without an explicit header option, the first line is a header when the
			 * label column (named only in headers, else by index, else the last) holds
			 * no label. */
			int header = t->header == HEADER_TRUE;
			if (t->header == HEADER_AUTO) {
				long lc = t->label_column ? number_index(t->label_column, cols)
				                          : (long)cols - 1;
				size_t m = lc >= 0 && (size_t)lc < cols ? flen[lc] : 0;
				const char *v = m ? K->trim(f[lc], &m) : "";
				header = lc < 0 || (size_t)lc >= cols ||
				         K->labels_find(t->labels, v, m) < 0;
			}
			if (t->text_column)
				text_col = resolve(t, "text_column", t->text_column, f, flen, cols,
				                   header, path);
			else if (!header ||
			         ((text_col = name_index(K, f, flen, cols, "sentence")) < 0 &&
			          (text_col = name_index(K, f, flen, cols, "text")) < 0))
				text_col = 0;
			if (t->label_column)
				label_col = resolve(t, "label_column", t->label_column, f, flen,
				                    cols, header, path);
			else if (!header || (label_col = name_index(K, f, flen, cols, "label")) < 0)
				label_col = (long)cols - 1;
			if (text_col < 0 || label_col < 0)
				return LETHE_EINVAL;
			if (text_col == label_col) {
				h->error(h->ctx,
				         "%s:1: the text and label columns are both column %ld",
				         path, text_col);
				return LETHE_EINVAL;
			}
			if (header)
				continue;
		}
		if (cols != n_cols) {
			h->error(h->ctx, "%s:%zu: expected %zu tab-separated columns, found %zu",
			         path, it.lineno, n_cols, cols);
			return LETHE_EPARSE;
		}
		size_t tl = flen[text_col], ll = flen[label_col];
		const char *text = K->trim(f[text_col], &tl), *lab = K->trim(f[label_col], &ll);
		if (tl == 0) {
			h->error(h->ctx, "%s:%zu: empty text", path, it.lineno);
			return LETHE_EPARSE;
		}
		long label = K->labels_find(t->labels, lab, ll);
		if (label < 0)
			return K->labels_unknown(h, t->labels, path, it.lineno, lab, ll);
		rc = add_example(t, s, text, tl, (int)label);
	}
	return rc;
}

static int load_jsonl(lethe_task *t, struct split_data *s, const char *path, const char *data,
                      size_t len)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line;
	size_t n;
	int rc = 0;
	lethe_buf text = {0};
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		lethe_json *rec;
		if ((rc = K->json_parse(h, path, it.lineno, line, n, &rec)))
			break;
		const lethe_json *tv = K->json_get(rec, t->text_field);
		const lethe_json *lv = K->json_get(rec, t->label_field);
		char num[64];
		double x;
		const char *lab = NULL;
		if ((K->json_type(lv) == LETHE_JSON_STRING))
			lab = K->json_string(lv);
		else if (K->json_number(lv, &x) == 0 && x == floor(x) && fabs(x) < 1e15) {
			snprintf(num, sizeof(num), "%.0f", x);
			lab = num;
		} else if (K->json_bool(lv) >= 0) {
			lab = K->json_bool(lv) ? "true" : "false";
		}
		if (!(K->json_type(rec) == LETHE_JSON_OBJECT) ||
		    K->json_text(tv, " ", &text) != 0) {
			h->error(h->ctx, "%s:%zu: expected a string field '%s'", path, it.lineno,
			         t->text_field);
			rc = LETHE_EPARSE;
		} else if (!lab) {
			h->error(h->ctx,
			         "%s:%zu: expected a label field '%s' (a string or an integer)",
			         path, it.lineno, t->label_field);
			rc = LETHE_EPARSE;
		} else if (K->utf8_invalid(text.s, text.n) != (size_t)-1) {
			h->error(h->ctx, "%s:%zu: invalid UTF-8 in field '%s'", path, it.lineno,
			         t->text_field);
			rc = LETHE_EPARSE;
		} else {
			size_t tl = text.n;
			const char *tx = K->trim(text.s, &tl);
			long label = K->labels_find(t->labels, lab, strlen(lab));
			if (tl == 0) {
				h->error(h->ctx, "%s:%zu: empty text", path, it.lineno);
				rc = LETHE_EPARSE;
			} else if (label < 0)
				rc = K->labels_unknown(h, t->labels, path, it.lineno, lab,
				                       strlen(lab));
			else
				rc = add_example(t, s, tx, tl, (int)label);
		}
		K->json_free(rec);
	}
	K->buf_free(&text);
	return rc;
}

static int sentiment_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	split_clear(K, s);
	char *data;
	size_t len;
	int rc = K->read_file(t->host, path, &data, &len);
	if (rc)
		return rc;
	int format = t->format;
	if (format == FORMAT_AUTO)
		format = K->ends_with(path, ".jsonl") || K->ends_with(path, ".json") ? FORMAT_JSONL
		                                                                     : FORMAT_TSV;
	rc = format == FORMAT_JSONL ? load_jsonl(t, s, path, data, len)
	                            : load_tsv(t, s, path, data, len);
	K->free_data(data);
	rc = K->load_status(t->host, path, rc, s->n, "no examples");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	*n_examples = s->n;
	return 0;
}

static int sentiment_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
{
	const struct split_data *s = &t->splits[split];
	if (i >= s->n) {
		t->host->error(t->host->ctx, "example %zu out of range (%zu loaded)", i, s->n);
		return LETHE_EINVAL;
	}
	out->prompt = s->pool.buf + s->prompt[i];
	out->prompt_len = strlen(out->prompt);
	out->target = s->pool.buf + s->target[i];
	out->target_len = strlen(out->target);
	return 0;
}

static int sentiment_predict(lethe_task *t, lethe_predict_spec *out)
{
	*out = (lethe_predict_spec){
	    .mode = LETHE_PREDICT_CHOICE,
	    .choices = t->words,
	    .n_choices = t->n_labels,
	    .length_normalise = t->length_normalise,
	};
	return 0;
}

static int sentiment_score(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                           size_t n, lethe_scores *out, double *per_example)
{
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	if (n == 0) {
		h->error(h->ctx, "no predictions to score");
		return LETHE_EINVAL;
	}
	const char **gold = malloc(n * sizeof(*gold)), **pred = malloc(n * sizeof(*pred));
	int rc = gold && pred ? 0 : LETHE_ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (preds[i].choice >= t->n_labels) {
			h->error(h->ctx, "prediction %zu: choice %zu out of range (%zu labels)", i,
			         preds[i].choice, t->n_labels);
			rc = LETHE_EINVAL;
			break;
		}
		gold[i] = t->words[s->label[i]];
		pred[i] = t->words[preds[i].choice];
		if (per_example)
			per_example[i] = (size_t)s->label[i] == preds[i].choice ? 1.0 : 0.0;
	}
	lethe_classify_result *r = NULL;
	if (rc == 0)
		rc = h->metrics->classify(&r, gold, pred, n, 0);
	if (rc == 0 && !(rc = h->metric(out, "accuracy", r->accuracy, LETHE_METRIC_PRIMARY)))
		rc = h->metric(out, "macro_f1", r->macro_f1, 0);
	for (size_t c = 0; rc == 0 && c < r->n_classes; c++) {
		char name[256];
		const lethe_class_score *cs = &r->classes[c];
		snprintf(name, sizeof(name), "precision/%s", cs->label);
		if ((rc = h->metric(out, name, cs->precision, 0)))
			break;
		snprintf(name, sizeof(name), "recall/%s", cs->label);
		if ((rc = h->metric(out, name, cs->recall, 0)))
			break;
		snprintf(name, sizeof(name), "f1/%s", cs->label);
		rc = h->metric(out, name, cs->f1, 0);
	}
	if (r)
		h->metrics->classify_free(r);
	free(gold);
	free(pred);
	return rc;
}

/* Accuracy is the mean of per-example correctness. */
static int sentiment_primary_stats(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                                   size_t n, double *stats, size_t *k, lethe_aggregate *aggregate)
{
	const struct split_data *s = &t->splits[split];
	for (size_t i = 0; i < n; i++) {
		if (preds[i].choice >= t->n_labels) {
			t->host->error(t->host->ctx,
			               "prediction %zu: choice %zu out of range (%zu labels)", i,
			               preds[i].choice, t->n_labels);
			return LETHE_EINVAL;
		}
		stats[i * LETHE_STATS_MAX] = (size_t)s->label[i] == preds[i].choice ? 1.0 : 0.0;
	}
	*k = 1;
	*aggregate = LETHE_AGGREGATE_MEAN;
	return 0;
}

static int sentiment_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	const struct split_data *s = &t->splits[split];
	int rc = t->host->metric(out, "examples", (double)s->n, LETHE_METRIC_COUNT);
	for (size_t l = 0; rc == 0 && l < t->n_labels; l++) {
		size_t count = 0;
		for (size_t i = 0; i < s->n; i++)
			count += (size_t)s->label[i] == l;
		char name[256];
		snprintf(name, sizeof(name), "label/%s", t->words[l]);
		rc = t->host->metric(out, name, (double)count, LETHE_METRIC_COUNT);
	}
	return rc;
}

static int sentiment_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->prompt, sizeof(*s->prompt), idx, n);
	if (rc == 0)
		rc = K->select(s->target, sizeof(*s->target), idx, n);
	if (rc == 0)
		rc = K->select(s->label, sizeof(*s->label), idx, n);
	if (rc == 0)
		s->n = n;
	return rc;
}

static const lethe_plugin sentiment_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "sentiment",
    .version = "1.0.0",
    .description = "text classification by label words (GLUE TSV, TSV, JSON lines); accuracy, F1",
    .ops =
        {
            .create = sentiment_create,
            .destroy = sentiment_destroy,
            .load = sentiment_load,
            .example = sentiment_example,
            .predict = sentiment_predict,
            .score = sentiment_score,
            .stats = sentiment_stats,
        },
    .primary_stats = sentiment_primary_stats,
    .select = sentiment_select,
};

LETHE_PLUGIN_DECLARE(sentiment_plugin)
