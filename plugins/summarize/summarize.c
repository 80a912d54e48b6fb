/*
 * summarize.c: the `summarize` task plugin, abstractive summarization. The prompt is a template
 * around the document, the target its (first) reference summary; the engine generates greedily.
 * Scored by ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum precision/recall/F (primary: ROUGE-L F),
 * exactly as Google's rouge-score computes them, with its Porter stemmer by default; with several
 * references, each ROUGE type takes the best one (rouge-score's score_multi).
 *
 * Input: JSON lines with configurable document and summary fields, where a document may be a list
 * of sentences (joined with spaces) and a summary a list of references (SciTLDR), or TSV lines
 * document<TAB>summary. Documents longer than max_document_chars are truncated from the end at a
 * word boundary, so that a prompt fits the model's context; the run log says how many were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/plugin.h>

enum format { FORMAT_AUTO, FORMAT_TSV, FORMAT_JSONL };

#define MAX_REFS 256

struct item {
	size_t prompt;    /* offset of the prompt in the pool */
	size_t first_ref; /* offsets of the references in refs[] */
	size_t n_refs;
};

struct split_data {
	struct item *items;
	size_t n, cap;
	size_t *refs; /* pool offsets */
	size_t n_refs, cap_refs;
	size_t truncated;
	lethe_pool pool;
};

struct lethe_task {
	const lethe_host *host;
	int format, stem;
	char *document_field, *summary_field, *template;
	unsigned long max_new_tokens, max_document_chars;
	struct split_data splits[LETHE_SPLIT_COUNT];
};

static const char *const known_options[] = {
    "format",         "document_field",     "summary_field", "template",
    "max_new_tokens", "max_document_chars", "stem",          NULL};
static const char *const format_names[] = {"auto", "tsv", "jsonl", NULL};
static const char *const placeholders[] = {"document", NULL};
#define DEFAULT_TEMPLATE "Summarize in one sentence.\nDocument: {document}\nSummary:"

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	free(s->items);
	free(s->refs);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

static void summarize_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	free(t->document_field);
	free(t->summary_field);
	free(t->template);
	free(t);
}

static int summarize_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                            size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "summarize", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	t->stem = 1;
	t->max_new_tokens = 64;
	t->max_document_chars = 2000;
	const char *doc = "document", *sum = "summary", *template = DEFAULT_TEMPLATE;
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strchr(o->key, '.')) {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "format") == 0)
			rc = K->option_enum(host, o, format_names, &t->format);
		else if (strcmp(o->key, "stem") == 0)
			rc = K->option_bool(host, o, &t->stem);
		else if (strcmp(o->key, "max_new_tokens") == 0)
			rc = K->option_uint(host, o, 1, 4096, &t->max_new_tokens);
		else if (strcmp(o->key, "max_document_chars") == 0)
			rc = K->option_uint(host, o, 0, 1ul << 30, &t->max_document_chars);
		else if (strcmp(o->key, "document_field") == 0)
			doc = o->value;
		else if (strcmp(o->key, "summary_field") == 0)
			sum = o->value;
		else if (strcmp(o->key, "template") == 0) {
			rc = K->template_check(host, o, placeholders);
			template = o->value;
		}
	}
	if (rc == 0 && (!(t->document_field = strdup(doc)) || !(t->summary_field = strdup(sum)) ||
	                !(t->template = strdup(template))))
		rc = LETHE_ENOMEM;
	if (rc) {
		summarize_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* Cuts text to at most max bytes, at the last space before the limit when there is one, never
 * inside a UTF-8 sequence. Returns 1 when it cut. */
static int truncate_text(lethe_buf *text, size_t max)
{
	if (max == 0 || text->n <= max)
		return 0;
	size_t cut = max;
	while (cut > 0 && text->s[cut] != ' ')
		cut--;
	if (cut == 0) {
		cut = max;
		while (cut > 0 && ((unsigned char)text->s[cut] & 0xC0) == 0x80)
			cut--;
	}
	text->n = cut;
	text->s[cut] = '\0';
	return 1;
}

static int add_item(lethe_task *t, struct split_data *s, lethe_buf *doc, const char *const *refs,
                    size_t n_refs)
{
	const lethe_kit_api *K = t->host->kit;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 128;
		struct item *v = realloc(s->items, cap * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		s->items = v;
		s->cap = cap;
	}
	if (s->n_refs + n_refs > s->cap_refs) {
		size_t cap = s->cap_refs ? s->cap_refs : 256;
		while (cap < s->n_refs + n_refs)
			cap *= 2;
		size_t *v = realloc(s->refs, cap * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		s->refs = v;
		s->cap_refs = cap;
	}
	s->truncated += truncate_text(doc, t->max_document_chars);
	lethe_buf prompt = {0};
	const char *values[] = {doc->s};
	struct item *it = &s->items[s->n];
	int rc = K->template_render(&prompt, t->template, placeholders, values);
	if (rc == 0)
		rc = K->pool_add(&s->pool, prompt.s, prompt.n, &it->prompt);
	it->first_ref = s->n_refs;
	for (size_t r = 0; r < n_refs && rc == 0; r++)
		if ((rc = K->pool_add(&s->pool, refs[r], strlen(refs[r]), &s->refs[s->n_refs])) ==
		    0)
			s->n_refs++;
	K->buf_free(&prompt);
	if (rc == 0) {
		it->n_refs = n_refs;
		s->n++;
	}
	return rc;
}

static int bad_utf8(const lethe_host *h, const char *path, size_t lineno, const char *s, size_t n)
{
	const lethe_kit_api *K = h->kit;
	size_t bad = K->utf8_invalid(s, n);
	if (bad == (size_t)-1)
		return 0;
	h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, lineno, bad + 1);
	return LETHE_EPARSE;
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
	lethe_buf doc = {0};
	const char **refs = NULL;
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		lethe_json *rec;
		if ((rc = bad_utf8(h, path, it.lineno, line, n)) ||
		    (rc = K->json_parse(h, path, it.lineno, line, n, &rec)))
			break;
		const lethe_json *dv = K->json_get(rec, t->document_field);
		const lethe_json *sv = K->json_get(rec, t->summary_field);
		size_t n_refs = (K->json_type(sv) == LETHE_JSON_ARRAY) ? K->json_size(sv) : 1;
		free(refs);
		refs = malloc((n_refs + 1) * sizeof(*refs));
		if (!refs) {
			rc = LETHE_ENOMEM;
		} else if (!(K->json_type(rec) == LETHE_JSON_OBJECT) ||
		           K->json_text(dv, " ", &doc) != 0) {
			h->error(
			    h->ctx,
			    "%s:%zu: expected a field '%s' holding a string or a list of strings",
			    path, it.lineno, t->document_field);
			rc = LETHE_EPARSE;
		} else if ((K->json_type(sv) == LETHE_JSON_STRING)) {
			refs[0] = K->json_string(sv);
		} else if ((K->json_type(sv) == LETHE_JSON_ARRAY) && n_refs > MAX_REFS) {
			h->error(h->ctx, "%s:%zu: field '%s': at most %d references", path,
			         it.lineno, t->summary_field, MAX_REFS);
			rc = LETHE_EPARSE;
		} else if ((K->json_type(sv) == LETHE_JSON_ARRAY) && n_refs > 0) {
			size_t k = 0;
			const lethe_json *item;
			for (item = K->json_first(sv); item; item = K->json_next(item)) {
				if (!(K->json_type(item) == LETHE_JSON_STRING))
					break;
				refs[k++] = K->json_string(item);
			}
			if (k != n_refs) {
				h->error(h->ctx,
				         "%s:%zu: field '%s': every reference must be a string",
				         path, it.lineno, t->summary_field);
				rc = LETHE_EPARSE;
			}
		} else {
			h->error(h->ctx,
			         "%s:%zu: expected a field '%s' holding a summary or a non-empty "
			         "list of them",
			         path, it.lineno, t->summary_field);
			rc = LETHE_EPARSE;
		}
		if (rc == 0 && doc.n == 0) {
			h->error(h->ctx, "%s:%zu: empty document", path, it.lineno);
			rc = LETHE_EPARSE;
		}
		if (rc == 0 && refs[0][0] == '\0') {
			h->error(h->ctx, "%s:%zu: empty summary", path, it.lineno);
			rc = LETHE_EPARSE;
		}
		if (rc == 0)
			rc = add_item(t, s, &doc, refs, n_refs);
		K->json_free(rec);
	}
	free(refs);
	K->buf_free(&doc);
	return rc;
}

static int load_tsv(lethe_task *t, struct split_data *s, const char *path, const char *data,
                    size_t len)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line, *f[2];
	size_t n, flen[2];
	int rc = 0;
	lethe_buf doc = {0}, sum = {0};
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		if ((rc = bad_utf8(h, path, it.lineno, line, n)))
			break;
		size_t cols = K->split_tabs(line, n, f, flen, 2);
		if (cols != 2) {
			h->error(h->ctx,
			         "%s:%zu: expected 2 tab-separated columns (document, summary), "
			         "found %zu",
			         path, it.lineno, cols);
			rc = LETHE_EPARSE;
			break;
		}
		const char *d = K->trim(f[0], &flen[0]), *m = K->trim(f[1], &flen[1]);
		if (flen[0] == 0 || flen[1] == 0) {
			h->error(h->ctx, "%s:%zu: empty %s", path, it.lineno,
			         flen[0] ? "summary" : "document");
			rc = LETHE_EPARSE;
			break;
		}
		doc.n = sum.n = 0;
		if ((rc = K->buf_add(&doc, d, flen[0])) || (rc = K->buf_add(&sum, m, flen[1])))
			break;
		const char *refs[] = {sum.s};
		rc = add_item(t, s, &doc, refs, 1);
	}
	K->buf_free(&doc);
	K->buf_free(&sum);
	return rc;
}

static int summarize_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
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
		format = K->ends_with(path, ".tsv") || K->ends_with(path, ".txt") ? FORMAT_TSV
		                                                                  : FORMAT_JSONL;
	rc = format == FORMAT_JSONL ? load_jsonl(t, s, path, data, len)
	                            : load_tsv(t, s, path, data, len);
	K->free_data(data);
	rc = K->load_status(t->host, path, rc, s->n, "no examples");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	if (s->truncated)
		t->host->log(t->host->ctx, LETHE_LOG_INFO,
		             "%s: truncated %zu of %zu documents to %lu characters", path,
		             s->truncated, s->n, t->max_document_chars);
	*n_examples = s->n;
	return 0;
}

static int summarize_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
{
	const struct split_data *s = &t->splits[split];
	if (i >= s->n) {
		t->host->error(t->host->ctx, "example %zu out of range (%zu loaded)", i, s->n);
		return LETHE_EINVAL;
	}
	out->prompt = s->pool.buf + s->items[i].prompt;
	out->prompt_len = strlen(out->prompt);
	out->target = s->pool.buf + s->refs[s->items[i].first_ref];
	out->target_len = strlen(out->target);
	return 0;
}

static int summarize_predict(lethe_task *t, lethe_predict_spec *out)
{
	*out = (lethe_predict_spec){.mode = LETHE_PREDICT_GENERATE,
	                            .max_new_tokens = (unsigned)t->max_new_tokens};
	return 0;
}

static int add_prf(const lethe_host *h, lethe_scores *out, const char *type, const lethe_prf *sum,
                   double n, unsigned primary)
{
	char name[64];
	int rc;
	if ((rc = h->metric(out, type, sum->fmeasure / n, primary)))
		return rc;
	snprintf(name, sizeof(name), "%s/precision", type);
	if ((rc = h->metric(out, name, sum->precision / n, 0)))
		return rc;
	snprintf(name, sizeof(name), "%s/recall", type);
	return h->metric(out, name, sum->recall / n, 0);
}

static void accumulate(lethe_prf *sum, const lethe_prf *s)
{
	sum->precision += s->precision;
	sum->recall += s->recall;
	sum->fmeasure += s->fmeasure;
}

/* score() and primary_stats() in one: out NULL adds no metric; stats (n x LETHE_STATS_MAX),
 * when not NULL, receives each example's ROUGE-L F (the primary metric is their mean). */
static int score_impl(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                      lethe_scores *out, double *per_example, double *stats)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	if (n == 0) {
		h->error(h->ctx, "no predictions to score");
		return LETHE_EINVAL;
	}
	lethe_prf r1 = {0, 0, 0}, r2 = r1, rl = r1, rls = r1;
	const char *refs[MAX_REFS];
	lethe_buf text = {0};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct item *it = &s->items[i];
		size_t k = it->n_refs;
		for (size_t r = 0; r < k; r++)
			refs[r] = s->pool.buf + s->refs[it->first_ref + r];
		text.n = 0;
		if ((rc = K->buf_add(&text, preds[i].text ? preds[i].text : "",
		                     preds[i].text ? preds[i].text_len : 0)))
			break;
		lethe_rouge_score sc;
		if ((rc = h->metrics->rouge(&sc, text.s, refs, k, t->stem)))
			break;
		accumulate(&r1, &sc.rouge1);
		accumulate(&r2, &sc.rouge2);
		accumulate(&rl, &sc.rougeL);
		accumulate(&rls, &sc.rougeLsum);
		if (per_example)
			per_example[i] = sc.rougeL.fmeasure;
		if (stats)
			stats[i * LETHE_STATS_MAX] = sc.rougeL.fmeasure;
	}
	K->buf_free(&text);
	if (rc == 0 && out &&
	    !(rc = add_prf(h, out, "rougeL", &rl, (double)n, LETHE_METRIC_PRIMARY)) &&
	    !(rc = add_prf(h, out, "rouge1", &r1, (double)n, 0)) &&
	    !(rc = add_prf(h, out, "rouge2", &r2, (double)n, 0)))
		rc = add_prf(h, out, "rougeLsum", &rls, (double)n, 0);
	return rc;
}

static int summarize_score(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                           size_t n, lethe_scores *out, double *per_example)
{
	return score_impl(t, split, preds, n, out, per_example, NULL);
}

static int summarize_primary_stats(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                                   size_t n, double *stats, size_t *k, lethe_aggregate *aggregate)
{
	*k = 1;
	*aggregate = LETHE_AGGREGATE_MEAN;
	return score_impl(t, split, preds, n, NULL, NULL, stats);
}

static int summarize_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	const struct split_data *s = &t->splits[split];
	int rc;
	if ((rc = t->host->metric(out, "examples", (double)s->n, LETHE_METRIC_COUNT)) ||
	    (rc = t->host->metric(out, "references", (double)s->n_refs, LETHE_METRIC_COUNT)))
		return rc;
	return t->host->metric(out, "truncated", (double)s->truncated, LETHE_METRIC_COUNT);
}

static int summarize_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->items, sizeof(*s->items), idx, n);
	if (rc == 0)
		s->n = n;
	return rc;
}

static const lethe_plugin summarize_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "summarize",
    .version = "1.0.0",
    .description = "abstractive summarization (JSON lines, TSV); ROUGE-1/2/L/Lsum",
    .ops =
        {
            .create = summarize_create,
            .destroy = summarize_destroy,
            .load = summarize_load,
            .example = summarize_example,
            .predict = summarize_predict,
            .score = summarize_score,
            .stats = summarize_stats,
        },
    .primary_stats = summarize_primary_stats,
    .select = summarize_select,
};

LETHE_PLUGIN_DECLARE(summarize_plugin)
