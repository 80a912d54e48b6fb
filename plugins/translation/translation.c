/*
 * translation.c: the `translation` task plugin. The prompt is a template around the source
 * sentence, the target its translation; the engine generates greedily. Scored by corpus BLEU
 * (primary) exactly as sacrebleu 2.x computes it by default (13a tokenizer, exponential
 * smoothing), chrF2 and chrF++ as sacrebleu computes them; each example's own score is its
 * sentence BLEU.
 *
 * Input, for a split path P and the options source (e.g. en) and target (e.g. de):
 *   - line-aligned file pairs P.en and P.de (Multi30k), when P itself is not a file;
 *   - P a file of source<TAB>target lines;
 *   - P a .jsonl file of {"translation": {"en": ..., "de": ...}} records (Hugging Face style).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lethe/plugin.h>

enum format { FORMAT_AUTO, FORMAT_PAIR, FORMAT_TSV, FORMAT_JSONL };

struct split_data {
	size_t *prompt, *target; /* pool offsets */
	size_t n, cap;
	lethe_pool pool;
};

struct lethe_task {
	const lethe_host *host;
	int format;
	char *source, *target, *field, *template;
	unsigned long max_new_tokens;
	struct split_data splits[LETHE_SPLIT_COUNT];
};

static const char *const known_options[] = {"source",   "target",         "format", "field",
                                            "template", "max_new_tokens", NULL};
static const char *const format_names[] = {"auto", "pair", "tsv", "jsonl", NULL};
static const char *const placeholders[] = {"source", "source_language", "target_language", NULL};
#define DEFAULT_TEMPLATE                                                                           \
	"Translate from {source_language} to {target_language}.\n{source_language}: "              \
	"{source}\n{target_language}:"

static const char *language_name(const char *code)
{
	static const char *const names[][2] = {
	    {"en", "English"}, {"de", "German"},  {"fr", "French"},     {"cs", "Czech"},
	    {"es", "Spanish"}, {"it", "Italian"}, {"pt", "Portuguese"}, {"nl", "Dutch"},
	    {"ru", "Russian"}, {"zh", "Chinese"}, {"ja", "Japanese"},   {"ro", "Romanian"},
	    {"fi", "Finnish"}, {"tr", "Turkish"}, {"et", "Estonian"},   {"lv", "Latvian"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(code, names[i][0]) == 0)
			return names[i][1];
	return code;
}

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	free(s->prompt);
	free(s->target);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

static void translation_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	free(t->source);
	free(t->target);
	free(t->field);
	free(t->template);
	free(t);
}

static int valid_code(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int translation_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                              size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "translation", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	t->max_new_tokens = 128;
	const char *source = "en", *target = "de", *field = "translation",
	           *template = DEFAULT_TEMPLATE;
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strchr(o->key, '.')) {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "format") == 0)
			rc = K->option_enum(host, o, format_names, &t->format);
		else if (strcmp(o->key, "max_new_tokens") == 0)
			rc = K->option_uint(host, o, 1, 4096, &t->max_new_tokens);
		else if (strcmp(o->key, "source") == 0 || strcmp(o->key, "target") == 0) {
			if (!valid_code(o->value)) {
				host->error(host->ctx,
				            "%s: option '%s': expected a language code such as "
				            "'en', got '%s'",
				            o->where, o->key, o->value);
				rc = LETHE_EINVAL;
			}
			*(o->key[0] == 's' ? &source : &target) = o->value;
		} else if (strcmp(o->key, "field") == 0)
			field = o->value;
		else if (strcmp(o->key, "template") == 0) {
			rc = K->template_check(host, o, placeholders);
			template = o->value;
		}
	}
	if (rc == 0 && strcmp(source, target) == 0) {
		host->error(host->ctx, "%s: the source and target languages are both '%s'",
		            n_options ? options[0].where : "options", source);
		rc = LETHE_EINVAL;
	}
	if (rc == 0 && (!(t->source = strdup(source)) || !(t->target = strdup(target)) ||
	                !(t->field = strdup(field)) || !(t->template = strdup(template))))
		rc = LETHE_ENOMEM;
	if (rc) {
		translation_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int add_pair(lethe_task *t, struct split_data *s, const char *src, size_t src_len,
                    const char *tgt, size_t tgt_len)
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
		s->cap = cap;
	}
	lethe_buf sbuf = {0}, prompt = {0};
	int rc = K->buf_add(&sbuf, src, src_len);
	const char *values[] = {sbuf.s, language_name(t->source), language_name(t->target)};
	if (rc == 0)
		rc = K->template_render(&prompt, t->template, placeholders, values);
	if (rc == 0)
		rc = K->pool_add(&s->pool, prompt.s, prompt.n, &s->prompt[s->n]);
	if (rc == 0)
		rc = K->pool_add(&s->pool, tgt, tgt_len, &s->target[s->n]);
	if (rc == 0)
		s->n++;
	K->buf_free(&sbuf);
	K->buf_free(&prompt);
	return rc;
}

static int check_line(const lethe_host *h, const char *path, size_t lineno, const char *s, size_t n)
{
	const lethe_kit_api *K = h->kit;
	size_t bad = K->utf8_invalid(s, n);
	if (bad != (size_t)-1) {
		h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, lineno, bad + 1);
		return LETHE_EPARSE;
	}
	if (K->blank(s, n)) {
		h->error(h->ctx, "%s:%zu: empty sentence", path, lineno);
		return LETHE_EPARSE;
	}
	return 0;
}

static size_t count_lines(const char *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	return n + (len > 0 && data[len - 1] != '\n');
}

static int load_pair(lethe_task *t, struct split_data *s, const char *prefix)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	size_t plen = strlen(prefix);
	char *src_path = malloc(plen + strlen(t->source) + 2),
	     *tgt_path = malloc(plen + strlen(t->target) + 2);
	char *src = NULL, *tgt = NULL;
	size_t src_len, tgt_len;
	int rc = src_path && tgt_path ? 0 : LETHE_ENOMEM;
	if (rc == 0) {
		sprintf(src_path, "%s.%s", prefix, t->source);
		sprintf(tgt_path, "%s.%s", prefix, t->target);
		if ((rc = K->read_file(h, src_path, &src, &src_len)) == 0)
			rc = K->read_file(h, tgt_path, &tgt, &tgt_len);
	}
	if (rc == 0) {
		size_t ns = count_lines(src, src_len), nt = count_lines(tgt, tgt_len);
		if (ns != nt) {
			h->error(h->ctx,
			         "%s has %zu lines but %s has %zu: the files must be line-aligned",
			         src_path, ns, tgt_path, nt);
			rc = LETHE_EPARSE;
		}
	}
	lethe_lines a, b;
	if (rc == 0) {
		K->lines_init(&a, src, src_len);
		K->lines_init(&b, tgt, tgt_len);
	}
	const char *ls, *lt;
	size_t ns, nt;
	while (rc == 0 && K->lines_next(&a, &ls, &ns) && K->lines_next(&b, &lt, &nt)) {
		if ((rc = check_line(h, src_path, a.lineno, ls, ns)) ||
		    (rc = check_line(h, tgt_path, b.lineno, lt, nt)))
			break;
		const char *x = K->trim(ls, &ns), *y = K->trim(lt, &nt);
		rc = add_pair(t, s, x, ns, y, nt);
	}
	K->free_data(src);
	K->free_data(tgt);
	free(src_path);
	free(tgt_path);
	return rc;
}

static int load_file(lethe_task *t, struct split_data *s, const char *path, int format)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	char *data;
	size_t len;
	int rc = K->read_file(h, path, &data, &len);
	if (rc)
		return rc;
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line, *f[2];
	size_t n, flen[2];
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		size_t bad = K->utf8_invalid(line, n);
		if (bad != (size_t)-1) {
			h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, it.lineno, bad + 1);
			rc = LETHE_EPARSE;
			break;
		}
		if (format == FORMAT_TSV) {
			size_t cols = K->split_tabs(line, n, f, flen, 2);
			if (cols != 2) {
				h->error(
				    h->ctx,
				    "%s:%zu: expected 2 tab-separated columns (%s, %s), found %zu",
				    path, it.lineno, t->source, t->target, cols);
				rc = LETHE_EPARSE;
				break;
			}
			const char *x = K->trim(f[0], &flen[0]), *y = K->trim(f[1], &flen[1]);
			if (flen[0] == 0 || flen[1] == 0) {
				h->error(h->ctx, "%s:%zu: empty sentence", path, it.lineno);
				rc = LETHE_EPARSE;
				break;
			}
			rc = add_pair(t, s, x, flen[0], y, flen[1]);
			continue;
		}
		lethe_json *rec;
		if ((rc = K->json_parse(h, path, it.lineno, line, n, &rec)))
			break;
		const lethe_json *tr = K->json_get(rec, t->field);
		const lethe_json *x = K->json_get(tr, t->source);
		const lethe_json *y = K->json_get(tr, t->target);
		if (!(K->json_type(tr) == LETHE_JSON_OBJECT) ||
		    !(K->json_type(x) == LETHE_JSON_STRING) ||
		    !(K->json_type(y) == LETHE_JSON_STRING)) {
			h->error(h->ctx,
			         "%s:%zu: expected {\"%s\": {\"%s\": \"...\", \"%s\": \"...\"}}",
			         path, it.lineno, t->field, t->source, t->target);
			rc = LETHE_EPARSE;
		} else if (!*K->json_string(x) || !*K->json_string(y)) {
			h->error(h->ctx, "%s:%zu: empty sentence", path, it.lineno);
			rc = LETHE_EPARSE;
		} else {
			rc = add_pair(t, s, K->json_string(x), strlen(K->json_string(x)),
			              K->json_string(y), strlen(K->json_string(y)));
		}
		K->json_free(rec);
	}
	K->free_data(data);
	return rc;
}

/* Whether PREFIX.source exists: a pair of files is meant (errno is left from the failed stat). */
static int pair_exists(const lethe_task *t, const char *prefix)
{
	int saved = errno;
	char p[4096];
	struct stat st;
	int yes = (size_t)snprintf(p, sizeof(p), "%s.%s", prefix, t->source) < sizeof(p) &&
	          stat(p, &st) == 0;
	errno = saved;
	return yes;
}

static int translation_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	split_clear(K, s);
	int format = t->format;
	if (format == FORMAT_AUTO) {
		struct stat st;
		int found = stat(path, &st) == 0;
		if (!found || !S_ISREG(st.st_mode)) {
			format = FORMAT_PAIR;
			if (!pair_exists(t, path)) { /* name what the user wrote, not PATH.en */
				t->host->error(
				    t->host->ctx,
				    "%s: cannot open: %s (nor %s.%s + %s.%s, a line-aligned "
				    "pair)",
				    path, found ? "not a regular file" : strerror(errno), path,
				    t->source, path, t->target);
				return LETHE_ENOTFOUND;
			}
		} else
			format = K->ends_with(path, ".jsonl") || K->ends_with(path, ".json")
			             ? FORMAT_JSONL
			             : FORMAT_TSV;
	}
	int rc = format == FORMAT_PAIR ? load_pair(t, s, path) : load_file(t, s, path, format);
	rc = K->load_status(t->host, path, rc, s->n, "no sentence pairs");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	*n_examples = s->n;
	return 0;
}

static int translation_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
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

static int translation_predict(lethe_task *t, lethe_predict_spec *out)
{
	*out = (lethe_predict_spec){.mode = LETHE_PREDICT_GENERATE,
	                            .max_new_tokens = (unsigned)t->max_new_tokens};
	return 0;
}

/* score() and primary_stats() in one: out NULL adds no metric (and skips the corpus scores);
 * stats (n x LETHE_STATS_MAX), when not NULL, receives each segment's BLEU statistics. */
static int score_impl(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                      lethe_scores *out, double *per_example, double *stats)
{
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	if (n == 0) {
		h->error(h->ctx, "no predictions to score");
		return LETHE_EINVAL;
	}
	char **hyps = calloc(n, sizeof(*hyps));
	const char **refs = malloc(n * sizeof(*refs));
	const char *const **ref_lists = malloc(n * sizeof(*ref_lists));
	size_t *n_refs = malloc(n * sizeof(*n_refs));
	int rc = hyps && refs && ref_lists && n_refs ? 0 : LETHE_ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t len = preds[i].text ? preds[i].text_len : 0;
		if (!(hyps[i] = malloc(len + 1))) {
			rc = LETHE_ENOMEM;
			break;
		}
		if (len)
			memcpy(hyps[i], preds[i].text, len);
		hyps[i][len] = '\0';
		refs[i] = s->pool.buf + s->target[i];
		ref_lists[i] = &refs[i];
		n_refs[i] = 1;
	}
	lethe_bleu_options bo = {LETHE_BLEU_TOKENIZE_13A, 0, 0};
	lethe_chrf_options co = {6, 0, 2.0, 0, 0}, cpp = {6, 2, 2.0, 0, 0};
	lethe_bleu_score bleu;
	double chrf = 0, chrf_pp = 0;
	if (rc == 0 && out)
		rc = h->metrics->bleu(&bleu, (const char *const *)hyps, ref_lists, n_refs, n, &bo);
	if (rc == 0 && out)
		rc = h->metrics->chrf(&chrf, NULL, (const char *const *)hyps, ref_lists, n_refs, n,
		                      &co);
	if (rc == 0 && out)
		rc = h->metrics->chrf(&chrf_pp, NULL, (const char *const *)hyps, ref_lists, n_refs,
		                      n, &cpp);
	if (rc == 0 && out &&
	    !(rc = h->metric(out, "bleu", bleu.score,
	                     LETHE_METRIC_PRIMARY | LETHE_METRIC_PERCENT)) &&
	    !(rc = h->metric(out, "chrf", chrf, LETHE_METRIC_PERCENT)) &&
	    !(rc = h->metric(out, "chrf_pp", chrf_pp, LETHE_METRIC_PERCENT)))
		rc = h->metric(out, "bleu/bp", bleu.bp, 0);
	lethe_bleu_options sentence = {LETHE_BLEU_TOKENIZE_13A, 0, 1};
	for (size_t i = 0; rc == 0 && (per_example || stats) && i < n; i++) {
		lethe_bleu_score one;
		if ((rc = h->metrics->bleu(&one, (const char *const *)&hyps[i], &ref_lists[i],
		                           &n_refs[i], 1, &sentence)))
			break;
		if (per_example)
			per_example[i] = one.score;
		/* The counts do not depend on effective_order, only the sentence score does. */
		for (int g = 0; stats && g < 4; g++) {
			stats[i * LETHE_STATS_MAX + g] = (double)one.counts[g];
			stats[i * LETHE_STATS_MAX + 4 + g] = (double)one.totals[g];
		}
		if (stats) {
			stats[i * LETHE_STATS_MAX + 8] = (double)one.sys_len;
			stats[i * LETHE_STATS_MAX + 9] = (double)one.ref_len;
		}
	}
	for (size_t i = 0; hyps && i < n; i++)
		free(hyps[i]);
	free(hyps);
	free(refs);
	free(ref_lists);
	free(n_refs);
	return rc;
}

static int translation_score(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                             size_t n, lethe_scores *out, double *per_example)
{
	return score_impl(t, split, preds, n, out, per_example, NULL);
}

static int translation_primary_stats(lethe_task *t, lethe_split split,
                                     const lethe_prediction *preds, size_t n, double *stats,
                                     size_t *k, lethe_aggregate *aggregate)
{
	*k = 10;
	*aggregate = LETHE_AGGREGATE_BLEU;
	return score_impl(t, split, preds, n, NULL, NULL, stats);
}

static int translation_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	return t->host->metric(out, "examples", (double)t->splits[split].n, LETHE_METRIC_COUNT);
}

static int translation_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->prompt, sizeof(*s->prompt), idx, n);
	if (rc == 0)
		rc = K->select(s->target, sizeof(*s->target), idx, n);
	if (rc == 0)
		s->n = n;
	return rc;
}

static const lethe_plugin translation_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "translation",
    .version = "1.0.0",
    .description = "machine translation (file pairs, TSV, JSON lines); BLEU, chrF, chrF++",
    .ops =
        {
            .create = translation_create,
            .destroy = translation_destroy,
            .load = translation_load,
            .example = translation_example,
            .predict = translation_predict,
            .score = translation_score,
            .stats = translation_stats,
        },
    .primary_stats = translation_primary_stats,
    .select = translation_select,
};

LETHE_PLUGIN_DECLARE(translation_plugin)
