/*
 * ner.c: the `ner` task plugin, named-entity recognition as tag generation. The prompt lists a
 * sentence's tokens; the target is their IOB2 tags, one per token, separated by spaces
 * ("B-PER I-PER O B-LOC"). Any generated text decodes into exactly one tag per token: the i-th
 * whitespace-separated word if it is a well-formed tag, else O; missing tags are O. Scored by
 * entity-level micro precision/recall/F1 (primary F1) and per type, as seqeval's default mode and
 * conlleval compute them.
 *
 * Input: CoNLL column files: the token in the first column, the tag in a configurable column
 * (default: the last), columns separated by tabs when the line has a tab, else by spaces;
 * -DOCSTART- lines skipped; sentences separated by lines that are empty or whitespace-only (WNUT-17
 * uses a lone tab). IOB2 and IOB1 tags are accepted and normalised to IOB2 for the targets, which
 * does not change the entities (an I- tag after O or after another type starts an entity).
 * Or Hugging Face's token-classification exports as JSON lines: {"tokens": [...], "ner_tags":
 * [...]} per sentence, tags as strings or as integers named by the tag_names option (the
 * dataset's ClassLabel names, in order).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/plugin.h>

struct sentence {
	size_t prompt, target; /* offsets into the pool */
	size_t first_tag;      /* into the split's tag list */
	size_t n_tokens;
};

struct split_data {
	struct sentence *sent;
	size_t n, cap;
	char **tags; /* IOB2, one per token, owned (interned in types? no: small strings) */
	size_t n_tags, cap_tags;
	size_t documents;
	lethe_pool pool;
};

enum ner_format { FORMAT_AUTO, FORMAT_CONLL, FORMAT_JSONL };

struct lethe_task {
	const lethe_host *host;
	enum ner_format format;
	char **tag_names; /* tag_names.0, .1, ...: the names of integer tags */
	size_t n_tag_names;
	char *tokens_field, *tags_field;
	long tag_column; /* 0-based; negative counts from the end */
	char *template;
	unsigned long max_new_tokens;
	struct split_data splits[LETHE_SPLIT_COUNT];
	lethe_buf scratch;
};

static const char *const known_options[] = {"tag_column", "template",  "max_new_tokens",
                                            "format",     "tag_names", "tokens_field",
                                            "tags_field", NULL};
static const char *const formats[] = {"auto", "conll", "jsonl", NULL};
static const char *const placeholders[] = {"tokens", NULL};
#define DEFAULT_TEMPLATE "Tag each token with its named-entity tag (IOB2).\nTokens: {tokens}\nTags:"

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	for (size_t i = 0; i < s->n_tags; i++)
		free(s->tags[i]);
	free(s->tags);
	free(s->sent);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

/* Whether tag is O, B-TYPE or I-TYPE with a non-empty TYPE. */
static int valid_tag(const char *tag, size_t n)
{
	if (n == 1 && tag[0] == 'O')
		return 1;
	return n > 2 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-';
}

static void ner_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	K->buf_free(&t->scratch);
	free(t->template);
	for (size_t i = 0; i < t->n_tag_names; i++)
		free(t->tag_names[i]);
	free(t->tag_names);
	free(t->tokens_field);
	free(t->tags_field);
	free(t);
}

/* tag_names.N: the name of integer tag N (a YAML list arrives as .0, .1, ... in order). */
static int add_tag_name(lethe_task *t, const lethe_option *o)
{
	const lethe_host *h = t->host;
	char *end;
	unsigned long k = strtoul(o->key + strlen("tag_names."), &end, 10);
	if (*end || k != t->n_tag_names || k >= 4096) {
		h->error(h->ctx,
		         "%s: option 'tag_names': expected a list of tags, in the order of their "
		         "integer ids",
		         o->where);
		return LETHE_EINVAL;
	}
	if (!valid_tag(o->value, strlen(o->value))) {
		h->error(h->ctx, "%s: option 'tag_names': tag '%s' is not O, B-TYPE or I-TYPE",
		         o->where, o->value);
		return LETHE_EINVAL;
	}
	char **v = realloc(t->tag_names, (t->n_tag_names + 1) * sizeof(*v));
	if (!v)
		return LETHE_ENOMEM;
	t->tag_names = v;
	if (!(v[t->n_tag_names] = strdup(o->value)))
		return LETHE_ENOMEM;
	t->n_tag_names++;
	return 0;
}

static int ner_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                      size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "ner", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	t->tag_column = -1;
	t->max_new_tokens = 128;
	const char *template = DEFAULT_TEMPLATE;
	const char *tokens_field = "tokens", *tags_field = "ner_tags";
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strncmp(o->key, "tag_names.", 10) == 0)
			rc = add_tag_name(t, o);
		else if (strcmp(o->key, "tag_names") == 0) {
			host->error(
			    host->ctx,
			    "%s: option 'tag_names': expected a list such as [O, B-PER, I-PER]",
			    o->where);
			rc = LETHE_EINVAL;
		} else if (strchr(o->key, '.')) {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "tag_column") == 0) {
			char *end;
			long v = strtol(o->value, &end, 10);
			if (!*o->value || *end || v < -64 || v > 64 || v == 0) {
				host->error(host->ctx,
				            "%s: option 'tag_column': expected a column index from "
				            "1 to 64 (the token is "
				            "column 0) or -1 for the last, got '%s'",
				            o->where, o->value);
				rc = LETHE_EINVAL;
			}
			t->tag_column = v;
		} else if (strcmp(o->key, "max_new_tokens") == 0)
			rc = K->option_uint(host, o, 1, 4096, &t->max_new_tokens);
		else if (strcmp(o->key, "format") == 0) {
			int f;
			if (!(rc = K->option_enum(host, o, formats, &f)))
				t->format = (enum ner_format)f;
		} else if (strcmp(o->key, "tokens_field") == 0)
			tokens_field = o->value;
		else if (strcmp(o->key, "tags_field") == 0)
			tags_field = o->value;
		else if (strcmp(o->key, "template") == 0) {
			rc = K->template_check(host, o, placeholders);
			template = o->value;
		}
	}
	if (rc == 0 &&
	    (!(t->template = strdup(template)) || !(t->tokens_field = strdup(tokens_field)) ||
	     !(t->tags_field = strdup(tags_field))))
		rc = LETHE_ENOMEM;
	if (rc) {
		ner_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

struct pending {
	const char **tok;
	size_t *tok_len;
	char **tag;
	size_t n, cap;
};

static void pending_clear(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tag[i]);
	p->n = 0;
}

/* Turns the pending tokens into one example, with IOB1 tags rewritten as IOB2. */
static int flush(lethe_task *t, struct split_data *s, struct pending *p)
{
	const lethe_kit_api *K = t->host->kit;
	if (p->n == 0)
		return 0;
	/* I-X after O or after another type begins an entity: make it B-X. */
	for (size_t i = 0; i < p->n; i++) {
		char *tag = p->tag[i];
		if (tag[0] != 'I')
			continue;
		const char *prev = i ? p->tag[i - 1] : "O";
		if (prev[0] == 'O' || strcmp(prev + 2, tag + 2) != 0)
			tag[0] = 'B';
	}
	lethe_buf *b = &t->scratch;
	b->n = 0;
	int rc = 0;
	for (size_t i = 0; i < p->n && rc == 0; i++)
		if (!(rc = K->buf_add(b, " ", i ? 1 : 0)))
			rc = K->buf_add(b, p->tok[i], p->tok_len[i]);
	lethe_buf prompt = {0};
	const char *values[] = {b->s};
	if (rc == 0)
		rc = K->template_render(&prompt, t->template, placeholders, values);
	if (s->n == s->cap && rc == 0) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct sentence *v = realloc(s->sent, cap * sizeof(*v));
		if (!v)
			rc = LETHE_ENOMEM;
		else {
			s->sent = v;
			s->cap = cap;
		}
	}
	if (s->n_tags + p->n > s->cap_tags && rc == 0) {
		size_t cap = s->cap_tags ? s->cap_tags : 1024;
		while (cap < s->n_tags + p->n)
			cap *= 2;
		char **v = realloc(s->tags, cap * sizeof(*v));
		if (!v)
			rc = LETHE_ENOMEM;
		else {
			s->tags = v;
			s->cap_tags = cap;
		}
	}
	struct sentence *sent = rc == 0 ? &s->sent[s->n] : NULL;
	if (rc == 0 && !(rc = K->pool_add(&s->pool, prompt.s, prompt.n, &sent->prompt))) {
		b->n = 0;
		for (size_t i = 0; i < p->n && rc == 0; i++)
			if (!(rc = K->buf_add(b, " ", i ? 1 : 0)))
				rc = K->buf_str(b, p->tag[i]);
		if (rc == 0)
			rc = K->pool_add(&s->pool, b->s, b->n, &sent->target);
	}
	if (rc == 0) {
		sent->first_tag = s->n_tags;
		sent->n_tokens = p->n;
		for (size_t i = 0; i < p->n; i++) {
			s->tags[s->n_tags++] = p->tag[i];
			p->tag[i] = NULL;
		}
		s->n++;
		p->n = 0;
	}
	K->buf_free(&prompt);
	return rc;
}

static int push_token(struct pending *p, const char *tok, size_t tok_len, const char *tag,
                      size_t tag_len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		const char **a = realloc(p->tok, cap * sizeof(*a));
		if (!a)
			return LETHE_ENOMEM;
		p->tok = a;
		size_t *b = realloc(p->tok_len, cap * sizeof(*b));
		if (!b)
			return LETHE_ENOMEM;
		p->tok_len = b;
		char **c = realloc(p->tag, cap * sizeof(*c));
		if (!c)
			return LETHE_ENOMEM;
		p->tag = c;
		p->cap = cap;
	}
	char *copy = malloc(tag_len + 1);
	if (!copy)
		return LETHE_ENOMEM;
	memcpy(copy, tag, tag_len);
	copy[tag_len] = '\0';
	p->tok[p->n] = tok;
	p->tok_len[p->n] = tok_len;
	p->tag[p->n++] = copy;
	return 0;
}

#define MAX_COLS 65

/* Splits a CoNLL line into columns: by tabs when it has one, else by runs of spaces. */
static size_t split_columns(const lethe_kit_api *K, const char *line, size_t n, const char **f,
                            size_t *flen)
{
	if (memchr(line, '\t', n)) {
		size_t cols = K->split_tabs(line, n, f, flen, MAX_COLS);
		for (size_t i = 0; i < cols && i < MAX_COLS; i++)
			f[i] = K->trim(f[i], &flen[i]);
		return cols;
	}
	size_t cols = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && (line[i] == ' ' || line[i] == '\r'))
			i++;
		size_t a = i;
		while (i < n && line[i] != ' ' && line[i] != '\r')
			i++;
		if (i > a) {
			if (cols < MAX_COLS) {
				f[cols] = line + a;
				flen[cols] = i - a;
			}
			cols++;
		}
	}
	return cols;
}

/* One JSON line of a Hugging Face token-classification export: its tokens and tags. */
static int jsonl_sentence(lethe_task *t, struct split_data *s, struct pending *p, const char *path,
                          size_t lineno, const char *line, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	lethe_json *j;
	int rc = K->json_parse(h, path, lineno, line, n, &j);
	if (rc)
		return rc;
	const lethe_json *toks = K->json_get(j, t->tokens_field);
	const lethe_json *tags = K->json_get(j, t->tags_field);
	if (!(K->json_type(toks) == LETHE_JSON_ARRAY) ||
	    !(K->json_type(tags) == LETHE_JSON_ARRAY)) {
		h->error(h->ctx, "%s:%zu: expected an object with arrays '%s' and '%s'", path,
		         lineno, t->tokens_field, t->tags_field);
		rc = LETHE_EPARSE;
	} else if (K->json_size(toks) != K->json_size(tags)) {
		h->error(h->ctx, "%s:%zu: %zu tokens but %zu tags", path, lineno,
		         K->json_size(toks), K->json_size(tags));
		rc = LETHE_EPARSE;
	}
	const lethe_json *tok = rc ? NULL : K->json_first(toks);
	const lethe_json *tag = rc ? NULL : K->json_first(tags);
	for (size_t i = 1; rc == 0 && tok; tok = K->json_next(tok), tag = K->json_next(tag), i++) {
		const char *name;
		double num;
		if (!(K->json_type(tok) == LETHE_JSON_STRING) || !K->json_string(tok)[0] ||
		    K->json_string(tok)[strcspn(K->json_string(tok), " \t\r\n")]) {
			h->error(h->ctx,
			         "%s:%zu: token %zu: expected a non-empty string without spaces",
			         path, lineno, i);
			rc = LETHE_EPARSE;
			break;
		}
		if (K->utf8_invalid(K->json_string(tok), strlen(K->json_string(tok))) !=
		    (size_t)-1) {
			h->error(h->ctx, "%s:%zu: token %zu: invalid UTF-8", path, lineno, i);
			rc = LETHE_EPARSE;
			break;
		}
		if ((K->json_type(tag) == LETHE_JSON_STRING))
			name = K->json_string(tag);
		else if (K->json_number(tag, &num) == 0 && num >= 0 &&
		         num < (double)t->n_tag_names && num == (double)(size_t)num)
			name = t->tag_names[(size_t)num];
		else {
			if ((K->json_type(tag) == LETHE_JSON_NUMBER) && !t->n_tag_names)
				h->error(
				    h->ctx,
				    "%s:%zu: tag %zu is a number: give the tag names with the "
				    "option tag_names (the dataset's ClassLabel names, in order)",
				    path, lineno, i);
			else
				h->error(
				    h->ctx,
				    "%s:%zu: tag %zu: expected a tag or an integer from 0 to %zu",
				    path, lineno, i, t->n_tag_names ? t->n_tag_names - 1 : 0);
			rc = LETHE_EPARSE;
			break;
		}
		if (!valid_tag(name, strlen(name))) {
			h->error(h->ctx, "%s:%zu: tag '%.64s' is not O, B-TYPE or I-TYPE", path,
			         lineno, name);
			rc = LETHE_EPARSE;
			break;
		}
		rc = push_token(p, K->json_string(tok), strlen(K->json_string(tok)), name,
		                strlen(name));
	}
	/* The sentence is rendered (and its tokens copied) before the JSON is freed. */
	if (rc == 0)
		rc = flush(t, s, p);
	pending_clear(p);
	K->json_free(j);
	return rc;
}

static int ner_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	struct split_data *s = &t->splits[split];
	split_clear(K, s);
	char *data;
	size_t len;
	int rc = K->read_file(h, path, &data, &len);
	if (rc)
		return rc;
	enum ner_format format = t->format;
	if (format == FORMAT_AUTO) {
		size_t k = strspn(data, " \t\r\n");
		format = data[k] == '{' ? FORMAT_JSONL : FORMAT_CONLL;
	}
	struct pending p = {0};
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line, *f[MAX_COLS];
	size_t n, flen[MAX_COLS];
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (format == FORMAT_JSONL) {
			if (!K->blank(line, n))
				rc = jsonl_sentence(t, s, &p, path, it.lineno, line, n);
			continue;
		}
		if (K->blank(line, n)) {
			rc = flush(t, s, &p);
			continue;
		}
		size_t bad = K->utf8_invalid(line, n);
		if (bad != (size_t)-1) {
			h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, it.lineno, bad + 1);
			rc = LETHE_EPARSE;
			break;
		}
		size_t cols = split_columns(K, line, n, f, flen);
		if (cols > 0 && flen[0] == 10 && memcmp(f[0], "-DOCSTART-", 10) == 0) {
			rc = flush(t, s, &p);
			s->documents++;
			continue;
		}
		long tc = t->tag_column < 0 ? (long)cols + t->tag_column : t->tag_column;
		if (cols < 2 || tc <= 0 || (size_t)tc >= cols || cols > MAX_COLS) {
			char where[64];
			if (t->tag_column == -1)
				snprintf(where, sizeof(where), "the last column");
			else if (t->tag_column < 0)
				snprintf(where, sizeof(where), "column %ld from the end",
				         -t->tag_column);
			else
				snprintf(where, sizeof(where), "column %ld", t->tag_column);
			h->error(h->ctx,
			         "%s:%zu: expected a token followed by its tag in %s, found %zu "
			         "column%s",
			         path, it.lineno, where, cols, cols == 1 ? "" : "s");
			rc = LETHE_EPARSE;
			break;
		}
		if (!valid_tag(f[tc], flen[tc])) {
			h->error(h->ctx, "%s:%zu: tag '%.*s' is not O, B-TYPE or I-TYPE", path,
			         it.lineno, (int)(flen[tc] > 64 ? 64 : flen[tc]), f[tc]);
			rc = LETHE_EPARSE;
			break;
		}
		rc = push_token(&p, f[0], flen[0], f[tc], flen[tc]);
	}
	if (rc == 0)
		rc = flush(t, s, &p);
	pending_clear(&p);
	free(p.tok);
	free(p.tok_len);
	free(p.tag);
	K->free_data(data);
	rc = K->load_status(h, path, rc, s->n, "no sentences");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	*n_examples = s->n;
	return 0;
}

static int ner_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
{
	const struct split_data *s = &t->splits[split];
	if (i >= s->n) {
		t->host->error(t->host->ctx, "example %zu out of range (%zu loaded)", i, s->n);
		return LETHE_EINVAL;
	}
	out->prompt = s->pool.buf + s->sent[i].prompt;
	out->prompt_len = strlen(out->prompt);
	out->target = s->pool.buf + s->sent[i].target;
	out->target_len = strlen(out->target);
	return 0;
}

static int ner_predict(lethe_task *t, lethe_predict_spec *out)
{
	*out = (lethe_predict_spec){.mode = LETHE_PREDICT_GENERATE,
	                            .max_new_tokens = (unsigned)t->max_new_tokens};
	return 0;
}

/* Decodes generated text into n tags (pointers into text, or "O"), lengths in lens. */
static void decode(const char *text, size_t len, size_t n, const char **tags, char *store,
                   size_t *used)
{
	size_t i = 0, k = 0;
	while (k < n) {
		while (i < len && strchr(" \t\r\n", text[i]) && text[i])
			i++;
		if (i >= len)
			break;
		size_t a = i;
		while (i < len && !strchr(" \t\r\n", text[i]))
			i++;
		if (valid_tag(text + a, i - a)) {
			memcpy(store + *used, text + a, i - a);
			store[*used + i - a] = '\0';
			tags[k++] = store + *used;
			*used += i - a + 1;
		} else {
			tags[k++] = "O";
		}
	}
	for (; k < n; k++)
		tags[k] = "O";
}

/* The metric name for kind ("f1") and type ("PER"): "f1/PER". */
static int add_typed(const lethe_host *h, lethe_scores *out, const char *kind, const char *type,
                     double v)
{
	char name[256];
	snprintf(name, sizeof(name), "%s/%s", kind, type);
	return h->metric(out, name, v, 0);
}

/* score() and primary_stats() in one: out NULL adds no metric; stats (n x LETHE_STATS_MAX),
 * when not NULL, receives each sentence's entity counts (tp, predicted, true): sentences are
 * joined with an "O" between them, so the corpus counts are their sums. */
static int score_impl(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                      lethe_scores *out, double *per_example, double *stats)
{
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	size_t total_tokens = 0, total_text = 0;
	for (size_t i = 0; i < n; i++) {
		total_tokens += s->sent[i].n_tokens;
		total_text += (preds[i].text ? preds[i].text_len : 0) + 1;
	}
	const char ***gold = calloc(n ? n : 1, sizeof(*gold)),
	           ***pred = calloc(n ? n : 1, sizeof(*pred));
	const char **pred_tags = malloc((total_tokens + 1) * sizeof(*pred_tags));
	size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
	char *store = malloc(total_text + 1);
	int rc = gold && pred && pred_tags && lens && store ? 0 : LETHE_ENOMEM;
	size_t used = 0, off = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct sentence *sent = &s->sent[i];
		gold[i] = (const char **)(s->tags + sent->first_tag);
		pred[i] = pred_tags + off;
		lens[i] = sent->n_tokens;
		decode(preds[i].text ? preds[i].text : "", preds[i].text ? preds[i].text_len : 0,
		       sent->n_tokens, pred_tags + off, store, &used);
		off += sent->n_tokens;
	}
	lethe_seqeval_result *r = NULL;
	if (rc == 0 && out)
		rc = h->metrics->seqeval(&r, (const char *const *const *)gold,
		                         (const char *const *const *)pred, lens, n);
	if (rc == 0 && r && !(rc = h->metric(out, "f1", r->micro.f1, LETHE_METRIC_PRIMARY)) &&
	    !(rc = h->metric(out, "precision", r->micro.precision, 0)))
		rc = h->metric(out, "recall", r->micro.recall, 0);
	for (size_t k = 0; rc == 0 && r && k < r->n_types; k++) {
		const lethe_entity_score *e = &r->types[k];
		if (!(rc = add_typed(h, out, "f1", e->type, e->f1)) &&
		    !(rc = add_typed(h, out, "precision", e->type, e->precision)))
			rc = add_typed(h, out, "recall", e->type, e->recall);
	}
	if (r)
		h->metrics->seqeval_free(r);
	/* Per sentence: its own entity F1, NaN when neither side has an entity. */
	for (size_t i = 0; rc == 0 && (per_example || stats) && i < n; i++) {
		lethe_seqeval_result *one = NULL;
		if ((rc = h->metrics->seqeval(&one, (const char *const *const *)&gold[i],
		                              (const char *const *const *)&pred[i], &lens[i], 1)))
			break;
		if (per_example)
			per_example[i] =
			    one->micro.n_true || one->micro.n_pred ? one->micro.f1 : NAN;
		if (stats) {
			stats[i * LETHE_STATS_MAX] = (double)one->micro.tp;
			stats[i * LETHE_STATS_MAX + 1] = (double)one->micro.n_pred;
			stats[i * LETHE_STATS_MAX + 2] = (double)one->micro.n_true;
		}
		h->metrics->seqeval_free(one);
	}
	free(gold);
	free(pred);
	free(pred_tags);
	free(lens);
	free(store);
	return rc;
}

static int ner_score(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                     lethe_scores *out, double *per_example)
{
	return score_impl(t, split, preds, n, out, per_example, NULL);
}

static int ner_primary_stats(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                             size_t n, double *stats, size_t *k, lethe_aggregate *aggregate)
{
	*k = 3;
	*aggregate = LETHE_AGGREGATE_F1;
	return score_impl(t, split, preds, n, NULL, NULL, stats);
}

static int ner_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	/* Entities of the normalised IOB2 tags: each B- starts one. Count per type. */
	char *types[256];
	size_t counts[256], n_types = 0, entities = 0;
	int rc = 0;
	for (size_t i = 0; i < s->n_tags && rc == 0; i++) {
		const char *tag = s->tags[i];
		if (tag[0] != 'B')
			continue;
		entities++;
		size_t k;
		for (k = 0; k < n_types && strcmp(types[k], tag + 2) != 0; k++)
			;
		if (k == n_types && n_types < 256) {
			types[n_types] = (char *)(tag + 2);
			counts[n_types++] = 0;
		}
		if (k < n_types)
			counts[k]++;
	}
	if ((rc = h->metric(out, "examples", (double)s->n, LETHE_METRIC_COUNT)) ||
	    (rc = h->metric(out, "tokens", (double)s->n_tags, LETHE_METRIC_COUNT)) ||
	    (rc = h->metric(out, "documents", (double)s->documents, LETHE_METRIC_COUNT)) ||
	    (rc = h->metric(out, "entities", (double)entities, LETHE_METRIC_COUNT)))
		return rc;
	/* Sorted by type name so that the listing is stable. */
	for (size_t a = 0; a < n_types; a++)
		for (size_t b = a + 1; b < n_types; b++)
			if (strcmp(types[b], types[a]) < 0) {
				char *x = types[a];
				types[a] = types[b];
				types[b] = x;
				size_t c = counts[a];
				counts[a] = counts[b];
				counts[b] = c;
			}
	for (size_t k = 0; k < n_types && rc == 0; k++) {
		char name[256];
		snprintf(name, sizeof(name), "entities/%s", types[k]);
		rc = h->metric(out, name, (double)counts[k], LETHE_METRIC_COUNT);
	}
	return rc;
}

static int ner_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->sent, sizeof(*s->sent), idx, n);
	if (rc == 0)
		s->n = n;
	return rc;
}

static const lethe_plugin ner_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "ner",
    .version = "1.0.0",
    .description = "named-entity recognition as IOB2 tag generation (CoNLL columns); entity F1",
    .ops =
        {
            .create = ner_create,
            .destroy = ner_destroy,
            .load = ner_load,
            .example = ner_example,
            .predict = ner_predict,
            .score = ner_score,
            .stats = ner_stats,
        },
    .primary_stats = ner_primary_stats,
    .select = ner_select,
};

LETHE_PLUGIN_DECLARE(ner_plugin)
