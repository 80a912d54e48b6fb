/*
 * text.c: the `text` task plugin, plain-text language modelling. Each example has an empty prompt
 * and a piece of text as its target, so training on it is ordinary next-token prediction and its
 * evaluation is the perplexity of held-out text. It is the "general text" or "domain text" stage of
 * a curriculum. It is also the worked example of docs/plugin-guide.md: keep it plain.
 *
 * Input: a UTF-8 text file split into lines, blank-line separated paragraphs or one document, or
 * a JSON lines file with the text in a field (a string, or a list of strings joined by '\n').
 * Invalid UTF-8 is rejected with its line and column, as is a JSON record without the field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/plugin.h>

enum format { FORMAT_AUTO, FORMAT_TEXT, FORMAT_JSONL };
enum unit { UNIT_LINE, UNIT_PARAGRAPH, UNIT_DOCUMENT };

struct split_data {
	size_t *offsets; /* into pool: the text of each example */
	size_t *lengths;
	size_t n, cap;
	size_t bytes;
	lethe_pool pool;
};

struct lethe_task {
	const lethe_host *host;
	int format;
	int unit;
	char *field;
	size_t max_chars;
	struct split_data splits[LETHE_SPLIT_COUNT];
};

static const char *const known_options[] = {"format", "field", "unit", "max_chars", NULL};
static const char *const format_names[] = {"auto", "text", "jsonl", NULL};
static const char *const unit_names[] = {"line", "paragraph", "document", NULL};

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	free(s->offsets);
	free(s->lengths);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

static void text_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	free(t->field);
	free(t);
}

static int text_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                       size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "text", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	t->format = FORMAT_AUTO;
	t->unit = UNIT_PARAGRAPH;
	t->max_chars = 2000;
	const char *field = "text";
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		unsigned long v;
		if (strcmp(o->key, "format") == 0)
			rc = K->option_enum(host, o, format_names, &t->format);
		else if (strcmp(o->key, "unit") == 0)
			rc = K->option_enum(host, o, unit_names, &t->unit);
		else if (strcmp(o->key, "field") == 0)
			field = o->value;
		else if (strcmp(o->key, "max_chars") == 0) {
			if ((rc = K->option_uint(host, o, 0, 1ul << 30, &v)) == 0)
				t->max_chars = v;
		} else {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		}
	}
	if (rc == 0 && !(t->field = strdup(field)))
		rc = LETHE_ENOMEM;
	if (rc) {
		text_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int add_example(const lethe_kit_api *K, struct split_data *s, const char *text, size_t n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		size_t *o = realloc(s->offsets, cap * sizeof(*o));
		if (!o)
			return LETHE_ENOMEM;
		s->offsets = o;
		size_t *l = realloc(s->lengths, cap * sizeof(*l));
		if (!l)
			return LETHE_ENOMEM;
		s->lengths = l;
		s->cap = cap;
	}
	int rc = K->pool_add(&s->pool, text, n, &s->offsets[s->n]);
	if (rc)
		return rc;
	s->lengths[s->n++] = n;
	s->bytes += n;
	return 0;
}

/* Adds text as one or more examples of at most max_chars bytes, cut at the last space or newline
 * before the limit (or at the limit, backed off to a UTF-8 boundary, when there is none). */
static int add_chunked(lethe_task *t, struct split_data *s, const char *text, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	while (n > 0 && strchr(" \t\r\n", text[0]))
		text++, n--;
	while (n > 0 && strchr(" \t\r\n", text[n - 1]))
		n--;
	while (n > 0) {
		size_t take = n;
		if (t->max_chars && n > t->max_chars) {
			take = t->max_chars;
			size_t cut = take;
			while (cut > 0 && text[cut] != ' ' && text[cut] != '\n')
				cut--;
			if (cut > 0)
				take = cut;
			else
				while (take > 1 && ((unsigned char)text[take] & 0xC0) == 0x80)
					take--;
		}
		int rc = add_example(K, s, text, take);
		if (rc)
			return rc;
		text += take;
		n -= take;
		while (n > 0 && strchr(" \t\r\n", text[0]))
			text++, n--;
	}
	return 0;
}

static int check_utf8(lethe_task *t, const char *path, size_t lineno, const char *line, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	size_t bad = K->utf8_invalid(line, n);
	if (bad == (size_t)-1)
		return 0;
	t->host->error(t->host->ctx, "%s:%zu:%zu: invalid UTF-8 (byte 0x%02x)", path, lineno,
	               bad + 1, (unsigned char)line[bad]);
	return LETHE_EPARSE;
}

static int load_text(lethe_task *t, struct split_data *s, const char *path, const char *data,
                     size_t len)
{
	const lethe_kit_api *K = t->host->kit;
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line, *para = NULL;
	size_t n, para_end = 0;
	int rc = 0;
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if ((rc = check_utf8(t, path, it.lineno, line, n)))
			break;
		if (t->unit == UNIT_LINE) {
			if (!K->blank(line, n))
				rc = add_chunked(t, s, line, n);
		} else if (t->unit == UNIT_PARAGRAPH && K->blank(line, n)) {
			if (para)
				rc = add_chunked(t, s, para, para_end - (size_t)(para - data));
			para = NULL;
		} else {
			if (!para)
				para = line;
			para_end = (size_t)(line - data) + n;
		}
	}
	if (rc == 0 && para)
		rc = add_chunked(t, s, para, para_end - (size_t)(para - data));
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
	char *joined = NULL;
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		lethe_json *rec;
		if ((rc = check_utf8(t, path, it.lineno, line, n)) ||
		    (rc = K->json_parse(h, path, it.lineno, line, n, &rec)))
			break;
		const lethe_json *v =
		    (K->json_type(rec) == LETHE_JSON_OBJECT) ? K->json_get(rec, t->field) : NULL;
		if ((K->json_type(v) == LETHE_JSON_STRING)) {
			rc = add_chunked(t, s, K->json_string(v), strlen(K->json_string(v)));
		} else if ((K->json_type(v) == LETHE_JSON_ARRAY)) {
			size_t total = 0;
			const lethe_json *item;
			for (item = K->json_first(v); item; item = K->json_next(item)) {
				if (!(K->json_type(item) == LETHE_JSON_STRING)) {
					h->error(h->ctx, "%s:%zu: field '%s' must hold strings",
					         path, it.lineno, t->field);
					rc = LETHE_EPARSE;
					break;
				}
				total += strlen(K->json_string(item)) + 1;
			}
			if (rc == 0 && !(joined = malloc(total + 1)))
				rc = LETHE_ENOMEM;
			if (rc == 0) {
				size_t used = 0;
				for (item = K->json_first(v); item; item = K->json_next(item)) {
					size_t k = strlen(K->json_string(item));
					if (used)
						joined[used++] = '\n';
					memcpy(joined + used, K->json_string(item), k);
					used += k;
				}
				rc = add_chunked(t, s, joined, used);
			}
			free(joined);
			joined = NULL;
		} else {
			h->error(h->ctx, "%s:%zu: expected an object with a string field '%s'",
			         path, it.lineno, t->field);
			rc = LETHE_EPARSE;
		}
		K->json_free(rec);
	}
	return rc;
}

static int text_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
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
		                                                                     : FORMAT_TEXT;
	rc = format == FORMAT_JSONL ? load_jsonl(t, s, path, data, len)
	                            : load_text(t, s, path, data, len);
	K->free_data(data);
	rc = K->load_status(t->host, path, rc, s->n, "no text found");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	*n_examples = s->n;
	return 0;
}

static int text_example(lethe_task *t, lethe_split split, size_t index, lethe_example *out)
{
	const struct split_data *s = &t->splits[split];
	if (index >= s->n) {
		t->host->error(t->host->ctx, "example %zu out of range (%zu loaded)", index, s->n);
		return LETHE_EINVAL;
	}
	*out = (lethe_example){
	    .prompt = "",
	    .prompt_len = 0,
	    .target = s->pool.buf + s->offsets[index],
	    .target_len = s->lengths[index],
	};
	return 0;
}

static int text_predict(lethe_task *t, lethe_predict_spec *out)
{
	(void)t;
	*out = (lethe_predict_spec){.mode = LETHE_PREDICT_LIKELIHOOD};
	return 0;
}

/* Perplexity from sufficient statistics: each example's summed NLL and its token count. */
static int text_primary_stats(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                              size_t n, double *stats, size_t *k, lethe_aggregate *aggregate)
{
	(void)t;
	(void)split;
	for (size_t i = 0; i < n; i++) {
		stats[i * LETHE_STATS_MAX] = preds[i].nll;
		stats[i * LETHE_STATS_MAX + 1] = (double)preds[i].n_tokens;
	}
	*k = 2;
	*aggregate = LETHE_AGGREGATE_EXP_RATIO;
	return 0;
}

/* Corpus perplexity is exp(total NLL / total tokens), token-weighted like every LM evaluation;
 * bits per byte divides by bytes instead, so it compares across tokenizers. */
static int text_score(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                      lethe_scores *out, double *per_example)
{
	(void)split;
	const lethe_host *h = t->host;
	double nll = 0;
	size_t tokens = 0, bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(preds[i].nll) || preds[i].nll < 0) {
			h->error(
			    h->ctx,
			    "prediction %zu: the target NLL is %g; expected a finite value >= 0", i,
			    preds[i].nll);
			return LETHE_ENUMERIC;
		}
		nll += preds[i].nll;
		tokens += preds[i].n_tokens;
		bytes += preds[i].n_bytes;
		if (per_example)
			per_example[i] =
			    preds[i].n_tokens ? preds[i].nll / (double)preds[i].n_tokens : NAN;
	}
	double per_token = tokens ? nll / (double)tokens : NAN;
	int rc;
	if ((rc = h->metric(out, "perplexity", exp(per_token),
	                    LETHE_METRIC_LOWER | LETHE_METRIC_PRIMARY)) ||
	    (rc = h->metric(out, "nll_per_token", per_token, LETHE_METRIC_LOWER)) ||
	    (rc = h->metric(out, "bits_per_byte", bytes ? nll / (log(2.0) * (double)bytes) : NAN,
	                    LETHE_METRIC_LOWER)))
		return rc;
	return 0;
}

static int text_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	const struct split_data *s = &t->splits[split];
	int rc;
	if ((rc = t->host->metric(out, "examples", (double)s->n, LETHE_METRIC_COUNT)) ||
	    (rc = t->host->metric(out, "bytes", (double)s->bytes, LETHE_METRIC_COUNT)))
		return rc;
	return 0;
}

static int text_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->offsets, sizeof(*s->offsets), idx, n);
	if (rc == 0)
		rc = K->select(s->lengths, sizeof(*s->lengths), idx, n);
	if (rc == 0) {
		s->n = n;
		s->bytes = 0;
		for (size_t i = 0; i < n; i++)
			s->bytes += s->lengths[i];
	}
	return rc;
}

static const lethe_plugin text_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "text",
    .version = "1.0.0",
    .description = "plain-text language modelling (text or JSON lines); metric: perplexity",
    .ops =
        {
            .create = text_create,
            .destroy = text_destroy,
            .load = text_load,
            .example = text_example,
            .predict = text_predict,
            .score = text_score,
            .stats = text_stats,
        },
    .primary_stats = text_primary_stats,
    .select = text_select,
};

LETHE_PLUGIN_DECLARE(text_plugin)
