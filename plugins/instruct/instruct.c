/*
 * instruct.c: the `instruct` task plugin, instruction following in the formats instruction tuning
 * uses (docs/plugins/instruct.md):
 *   alpaca    {"instruction", "input", "output"} (field names configurable, as axolotl's custom
 *             formats are), rendered through Alpaca's prompt template (one with {input}, one
 *             without, for records whose input is absent or empty);
 *   sharegpt  {"conversations": [{"from": "human"|"gpt"|"system", "value": ...}, ...]};
 *   messages  {"messages": [{"role": "user"|"assistant"|"system", "content": ...}, ...]}.
 * JSON lines, or one JSON array of records (as alpaca_data.json is shipped). The format is given
 * or detected per record (conversations, messages, else alpaca).
 *
 * Conversations become one example per assistant turn (turns: all, the default) or per
 * conversation's last assistant turn (turns: last): the prompt is the conversation so far in the
 * chat template, ending with the assistant tag, the target that turn. The engine puts the loss on
 * the target only, so training covers the assistant turns and nothing the user said. The chat
 * template is lethe's documented default (system_tag, user_tag, assistant_tag, each followed by
 * the turn and a blank line); a model's own Jinja chat template is not rendered.
 *
 * Scored by generation: ROUGE-L F (primary; rouge-score's, Porter stemmer by default), its
 * precision and recall, and exact match (prediction and reference equal once leading and trailing
 * whitespace is removed). The engine adds the target NLL for every task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/plugin.h>

enum format { FORMAT_AUTO, FORMAT_ALPACA, FORMAT_SHAREGPT, FORMAT_MESSAGES };
enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

struct item {
	size_t prompt, target; /* offsets in the pool */
};

struct split_data {
	struct item *items;
	size_t n, cap;
	size_t records, per_format[4];
	lethe_pool pool;
};

struct lethe_task {
	const lethe_host *host;
	int format, stem, last_only;
	char *instruction_field, *input_field, *output_field, *conversations_field, *messages_field;
	char *template, *template_no_input;
	char *tag[3]; /* system, user, assistant */
	unsigned long max_new_tokens;
	struct split_data splits[LETHE_SPLIT_COUNT];
};

static const char *const known_options[] = {"format",
                                            "instruction_field",
                                            "input_field",
                                            "output_field",
                                            "conversations_field",
                                            "messages_field",
                                            "template",
                                            "template_no_input",
                                            "system_tag",
                                            "user_tag",
                                            "assistant_tag",
                                            "turns",
                                            "max_new_tokens",
                                            "stem",
                                            NULL};
static const char *const format_names[] = {"auto", "alpaca", "sharegpt", "messages", NULL};
static const char *const turn_names[] = {"all", "last", NULL};
static const char *const alpaca_placeholders[] = {"instruction", "input", NULL};
static const char *const alpaca_placeholders_no_input[] = {"instruction", NULL};

/* Alpaca's own templates (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT). */
#define ALPACA_TEMPLATE                                                                            \
	"Below is an instruction that describes a task, paired with an input that provides "       \
	"further context. Write a response that appropriately completes the request.\n\n"          \
	"### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
#define ALPACA_TEMPLATE_NO_INPUT                                                                   \
	"Below is an instruction that describes a task. Write a response that appropriately "      \
	"completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"

static void split_clear(const lethe_kit_api *K, struct split_data *s)
{
	free(s->items);
	K->pool_free(&s->pool);
	memset(s, 0, sizeof(*s));
}

static void instruct_destroy(lethe_task *t)
{
	if (!t)
		return;
	const lethe_kit_api *K = t->host->kit;
	for (int i = 0; i < LETHE_SPLIT_COUNT; i++)
		split_clear(K, &t->splits[i]);
	free(t->instruction_field);
	free(t->input_field);
	free(t->output_field);
	free(t->conversations_field);
	free(t->messages_field);
	free(t->template);
	free(t->template_no_input);
	for (int i = 0; i < 3; i++)
		free(t->tag[i]);
	free(t);
}

static int instruct_create(lethe_task **out, const lethe_host *host, const lethe_option *options,
                           size_t n_options)
{
	const lethe_kit_api *K = host->kit;
	*out = NULL;
	int rc = K->check_options(host, "instruct", options, n_options, known_options);
	if (rc)
		return rc;
	lethe_task *t = calloc(1, sizeof(*t));
	if (!t)
		return LETHE_ENOMEM;
	t->host = host;
	t->stem = 1;
	t->max_new_tokens = 128;
	const char *instruction = "instruction", *input = "input", *output = "output",
	           *conversations = "conversations", *messages = "messages",
	           *template = ALPACA_TEMPLATE, *template_no_input = ALPACA_TEMPLATE_NO_INPUT;
	const char *tag[3] = {"### System:\n", "### User:\n", "### Assistant:\n"};
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strchr(o->key, '.')) {
			host->error(host->ctx, "%s: option '%s' takes a single value", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "format") == 0)
			rc = K->option_enum(host, o, format_names, &t->format);
		else if (strcmp(o->key, "turns") == 0)
			rc = K->option_enum(host, o, turn_names, &t->last_only);
		else if (strcmp(o->key, "stem") == 0)
			rc = K->option_bool(host, o, &t->stem);
		else if (strcmp(o->key, "max_new_tokens") == 0)
			rc = K->option_uint(host, o, 1, 4096, &t->max_new_tokens);
		else if (strcmp(o->key, "template") == 0) {
			rc = K->template_check(host, o, alpaca_placeholders);
			template = o->value;
		} else if (strcmp(o->key, "template_no_input") == 0) {
			rc = K->template_check(host, o, alpaca_placeholders_no_input);
			template_no_input = o->value;
		} else if (o->value[0] == '\0' && strstr(o->key, "_field")) {
			host->error(host->ctx, "%s: option '%s' needs a field name", o->where,
			            o->key);
			rc = LETHE_EINVAL;
		} else if (strcmp(o->key, "instruction_field") == 0)
			instruction = o->value;
		else if (strcmp(o->key, "input_field") == 0)
			input = o->value;
		else if (strcmp(o->key, "output_field") == 0)
			output = o->value;
		else if (strcmp(o->key, "conversations_field") == 0)
			conversations = o->value;
		else if (strcmp(o->key, "messages_field") == 0)
			messages = o->value;
		else if (strcmp(o->key, "system_tag") == 0)
			tag[ROLE_SYSTEM] = o->value;
		else if (strcmp(o->key, "user_tag") == 0)
			tag[ROLE_USER] = o->value;
		else if (strcmp(o->key, "assistant_tag") == 0)
			tag[ROLE_ASSISTANT] = o->value;
	}
	if (rc == 0 &&
	    (!(t->instruction_field = strdup(instruction)) || !(t->input_field = strdup(input)) ||
	     !(t->output_field = strdup(output)) ||
	     !(t->conversations_field = strdup(conversations)) ||
	     !(t->messages_field = strdup(messages)) || !(t->template = strdup(template)) ||
	     !(t->template_no_input = strdup(template_no_input)) || !(t->tag[0] = strdup(tag[0])) ||
	     !(t->tag[1] = strdup(tag[1])) || !(t->tag[2] = strdup(tag[2]))))
		rc = LETHE_ENOMEM;
	if (rc) {
		instruct_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int add_item(const lethe_kit_api *K, struct split_data *s, const char *prompt,
                    size_t prompt_len, const char *target)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 128;
		struct item *v = realloc(s->items, cap * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		s->items = v;
		s->cap = cap;
	}
	struct item *it = &s->items[s->n];
	int rc = K->pool_add(&s->pool, prompt, prompt_len, &it->prompt);
	if (rc == 0)
		rc = K->pool_add(&s->pool, target, strlen(target), &it->target);
	if (rc == 0)
		s->n++;
	return rc;
}

/* A string field of rec: NULL when absent; *bad set when present but not a string. */
static const char *string_field(const lethe_kit_api *K, const lethe_json *rec, const char *name,
                                int *bad)
{
	const lethe_json *v = K->json_get(rec, name);
	if (!v || (K->json_type(v) == LETHE_JSON_NULL))
		return NULL;
	if (!(K->json_type(v) == LETHE_JSON_STRING)) {
		*bad = 1;
		return NULL;
	}
	return K->json_string(v);
}

static int alpaca_record(lethe_task *t, struct split_data *s, const char *where,
                         const lethe_json *rec)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	int bad = 0;
	const char *ins = string_field(K, rec, t->instruction_field, &bad);
	if (!ins || !*ins) {
		h->error(h->ctx, "%s: expected a field '%s' holding a non-empty string", where,
		         t->instruction_field);
		return LETHE_EPARSE;
	}
	const char *in = string_field(K, rec, t->input_field, &bad);
	if (bad) {
		h->error(h->ctx, "%s: field '%s' must be a string", where, t->input_field);
		return LETHE_EPARSE;
	}
	const char *outp = string_field(K, rec, t->output_field, &bad);
	if (!outp || !*outp) {
		h->error(h->ctx, "%s: expected a field '%s' holding a non-empty string", where,
		         t->output_field);
		return LETHE_EPARSE;
	}
	lethe_buf prompt = {0};
	int rc;
	if (in && *in) {
		const char *values[] = {ins, in};
		rc = K->template_render(&prompt, t->template, alpaca_placeholders, values);
	} else {
		const char *values[] = {ins};
		rc = K->template_render(&prompt, t->template_no_input, alpaca_placeholders_no_input,
		                        values);
	}
	if (rc == 0)
		rc = add_item(K, s, prompt.s, prompt.n, outp);
	K->buf_free(&prompt);
	s->per_format[FORMAT_ALPACA] += rc == 0;
	return rc;
}

/* The role of a turn: ShareGPT's from (human, gpt, system; user and assistant accepted too) or
 * chat messages' role (user, assistant, system). -1 when unknown. */
static int role_of(const char *name, int sharegpt)
{
	static const char *const share[] = {"system", "human", "gpt", "user", "assistant", NULL};
	static const int share_role[] = {ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_USER,
	                                 ROLE_ASSISTANT};
	static const char *const chat[] = {"system", "user", "assistant", NULL};
	const char *const *names = sharegpt ? share : chat;
	for (int i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return sharegpt ? share_role[i] : i;
	return -1;
}

static int chat_record(lethe_task *t, struct split_data *s, const char *where,
                       const lethe_json *rec, int sharegpt)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	const char *field = sharegpt ? t->conversations_field : t->messages_field;
	const char *role_key = sharegpt ? "from" : "role",
	           *text_key = sharegpt ? "value" : "content";
	const lethe_json *turns = K->json_get(rec, field);
	if (!(K->json_type(turns) == LETHE_JSON_ARRAY) || K->json_size(turns) == 0) {
		h->error(h->ctx, "%s: expected a field '%s' holding a non-empty list of turns",
		         where, field);
		return LETHE_EPARSE;
	}
	/* The last assistant turn, for turns: last. */
	int last = -1, k = 0, rc = 0;
	const lethe_json *turn;
	for (turn = K->json_first(turns); turn; turn = K->json_next(turn)) {
		const lethe_json *r = K->json_get(turn, role_key);
		const lethe_json *c = K->json_get(turn, text_key);
		int role = (K->json_type(r) == LETHE_JSON_STRING)
		               ? role_of(K->json_string(r), sharegpt)
		               : -1;
		if (!(K->json_type(turn) == LETHE_JSON_OBJECT) ||
		    !(K->json_type(r) == LETHE_JSON_STRING) ||
		    !(K->json_type(c) == LETHE_JSON_STRING)) {
			h->error(h->ctx,
			         "%s: turn %d of '%s': expected {\"%s\": ..., \"%s\": ...} "
			         "with string values",
			         where, k + 1, field, role_key, text_key);
			return LETHE_EPARSE;
		}
		if (role < 0) {
			h->error(h->ctx, "%s: turn %d of '%s': unknown %s '%s' (expected %s)",
			         where, k + 1, field, role_key, K->json_string(r),
			         sharegpt ? "'human', 'gpt' or 'system'"
			                  : "'user', 'assistant' or 'system'");
			return LETHE_EPARSE;
		}
		if (role == ROLE_ASSISTANT)
			last = k;
		k++;
	}
	if (last < 0) {
		h->error(h->ctx, "%s: '%s' has no %s turn to learn", where, field,
		         sharegpt ? "'gpt'" : "'assistant'");
		return LETHE_EPARSE;
	}
	lethe_buf prompt = {0};
	k = 0;
	for (turn = K->json_first(turns); turn; turn = K->json_next(turn)) {
		if (k > last || rc)
			break;
		const char *text = K->json_string(K->json_get(turn, text_key));
		int role = role_of(K->json_string(K->json_get(turn, role_key)), sharegpt);
		if (role == ROLE_ASSISTANT && (k == last || !t->last_only)) {
			if (!*text) {
				h->error(h->ctx, "%s: turn %d of '%s' is empty", where, k + 1,
				         field);
				rc = LETHE_EPARSE;
				break;
			}
			size_t mark = prompt.n;
			if ((rc = K->buf_str(&prompt, t->tag[ROLE_ASSISTANT])) ||
			    (rc = add_item(K, s, prompt.s, prompt.n, text)))
				break;
			prompt.n = mark;
		}
		if ((rc = K->buf_str(&prompt, t->tag[role])) || (rc = K->buf_str(&prompt, text)) ||
		    (rc = K->buf_str(&prompt, "\n\n")))
			break;
		k++;
	}
	K->buf_free(&prompt);
	s->per_format[sharegpt ? FORMAT_SHAREGPT : FORMAT_MESSAGES] += rc == 0;
	return rc;
}

static int record(lethe_task *t, struct split_data *s, const char *where, const lethe_json *rec)
{
	const lethe_kit_api *K = t->host->kit;
	if (!(K->json_type(rec) == LETHE_JSON_OBJECT)) {
		t->host->error(t->host->ctx, "%s: expected a JSON object", where);
		return LETHE_EPARSE;
	}
	int format = t->format;
	if (format == FORMAT_AUTO)
		format = K->json_get(rec, t->conversations_field) ? FORMAT_SHAREGPT
		         : K->json_get(rec, t->messages_field)    ? FORMAT_MESSAGES
		                                                  : FORMAT_ALPACA;
	s->records++;
	return format == FORMAT_ALPACA ? alpaca_record(t, s, where, rec)
	                               : chat_record(t, s, where, rec, format == FORMAT_SHAREGPT);
}

static int load_text(lethe_task *t, struct split_data *s, const char *path, const char *data,
                     size_t len)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	size_t bad = K->utf8_invalid(data, len);
	if (bad != (size_t)-1) {
		size_t line = 1, col = 1;
		for (size_t i = 0; i < bad; i++, col++)
			if (data[i] == '\n')
				line++, col = 0;
		h->error(h->ctx, "%s:%zu:%zu: invalid UTF-8", path, line, col);
		return LETHE_EPARSE;
	}
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	char where[600];
	if (i < len && data[i] == '[') {
		/* One JSON array of records, as alpaca_data.json is shipped. */
		lethe_json *all;
		int rc = K->json_parse(h, path, 1, data, len, &all);
		if (rc)
			return rc;
		size_t k = 0;
		const lethe_json *rec;
		for (rec = K->json_first(all); rec; rec = K->json_next(rec)) {
			snprintf(where, sizeof(where), "%s: record %zu", path, ++k);
			if ((rc = record(t, s, where, rec)))
				break;
		}
		K->json_free(all);
		return rc;
	}
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line;
	size_t n;
	int rc = 0;
	while (rc == 0 && K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		lethe_json *rec;
		if ((rc = K->json_parse(h, path, it.lineno, line, n, &rec)))
			break;
		snprintf(where, sizeof(where), "%s:%zu", path, it.lineno);
		rc = record(t, s, where, rec);
		K->json_free(rec);
	}
	return rc;
}

static int instruct_load(lethe_task *t, lethe_split split, const char *path, size_t *n_examples)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	split_clear(K, s);
	char *data;
	size_t len;
	int rc = K->read_file(t->host, path, &data, &len);
	if (rc)
		return rc;
	rc = load_text(t, s, path, data, len);
	K->free_data(data);
	rc = K->load_status(t->host, path, rc, s->n, "no examples");
	if (rc) {
		split_clear(K, s);
		return rc;
	}
	if (s->n != s->records)
		t->host->log(t->host->ctx, LETHE_LOG_INFO,
		             "%s: %zu examples from %zu records (one per assistant turn)", path,
		             s->n, s->records);
	*n_examples = s->n;
	return 0;
}

static int instruct_example(lethe_task *t, lethe_split split, size_t i, lethe_example *out)
{
	const struct split_data *s = &t->splits[split];
	if (i >= s->n) {
		t->host->error(t->host->ctx, "example %zu out of range (%zu loaded)", i, s->n);
		return LETHE_EINVAL;
	}
	out->prompt = s->pool.buf + s->items[i].prompt;
	out->prompt_len = strlen(out->prompt);
	out->target = s->pool.buf + s->items[i].target;
	out->target_len = strlen(out->target);
	return 0;
}

static int instruct_predict(lethe_task *t, lethe_predict_spec *out)
{
	*out = (lethe_predict_spec){.mode = LETHE_PREDICT_GENERATE,
	                            .max_new_tokens = (unsigned)t->max_new_tokens};
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Equal once leading and trailing whitespace is removed. */
static int exact(const char *a, size_t na, const char *b, size_t nb)
{
	while (na && is_space(*a))
		a++, na--;
	while (na && is_space(a[na - 1]))
		na--;
	while (nb && is_space(*b))
		b++, nb--;
	while (nb && is_space(b[nb - 1]))
		nb--;
	return na == nb && memcmp(a, b, na) == 0;
}

static int instruct_score(lethe_task *t, lethe_split split, const lethe_prediction *preds, size_t n,
                          lethe_scores *out, double *per_example)
{
	const lethe_kit_api *K = t->host->kit;
	const lethe_host *h = t->host;
	const struct split_data *s = &t->splits[split];
	if (n == 0) {
		h->error(h->ctx, "no predictions to score");
		return LETHE_EINVAL;
	}
	double p = 0, r = 0, f = 0, em = 0;
	lethe_buf text = {0};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *ref = s->pool.buf + s->items[i].target;
		text.n = 0;
		if ((rc = K->buf_add(&text, preds[i].text ? preds[i].text : "",
		                     preds[i].text ? preds[i].text_len : 0)))
			break;
		lethe_rouge_score sc;
		if ((rc = h->metrics->rouge(&sc, text.s ? text.s : "", &ref, 1, t->stem)))
			break;
		p += sc.rougeL.precision;
		r += sc.rougeL.recall;
		f += sc.rougeL.fmeasure;
		em += exact(text.s ? text.s : "", text.n, ref, strlen(ref));
		if (per_example)
			per_example[i] = sc.rougeL.fmeasure;
	}
	K->buf_free(&text);
	double dn = (double)n;
	if (rc == 0 && !(rc = h->metric(out, "rougeL", f / dn, LETHE_METRIC_PRIMARY)) &&
	    !(rc = h->metric(out, "rougeL/precision", p / dn, 0)) &&
	    !(rc = h->metric(out, "rougeL/recall", r / dn, 0)))
		rc = h->metric(out, "exact_match", em / dn, 0);
	return rc;
}

/* The primary metric's per-example statistic, for the bootstrap: ROUGE-L F, averaged. */
static int instruct_primary_stats(lethe_task *t, lethe_split split, const lethe_prediction *preds,
                                  size_t n, double *stats, size_t *k, lethe_aggregate *aggregate)
{
	const lethe_kit_api *K = t->host->kit;
	const struct split_data *s = &t->splits[split];
	*k = 1;
	*aggregate = LETHE_AGGREGATE_MEAN;
	lethe_buf text = {0};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *ref = s->pool.buf + s->items[i].target;
		text.n = 0;
		if ((rc = K->buf_add(&text, preds[i].text ? preds[i].text : "",
		                     preds[i].text ? preds[i].text_len : 0)))
			break;
		lethe_rouge_score sc;
		if ((rc = t->host->metrics->rouge(&sc, text.s ? text.s : "", &ref, 1, t->stem)))
			break;
		stats[i * LETHE_STATS_MAX] = sc.rougeL.fmeasure;
	}
	K->buf_free(&text);
	return rc;
}

static int instruct_stats(lethe_task *t, lethe_split split, lethe_scores *out)
{
	const struct split_data *s = &t->splits[split];
	static const char *const names[4] = {NULL, "alpaca_records", "sharegpt_records",
	                                     "messages_records"};
	int rc;
	if ((rc = t->host->metric(out, "examples", (double)s->n, LETHE_METRIC_COUNT)) ||
	    (rc = t->host->metric(out, "records", (double)s->records, LETHE_METRIC_COUNT)))
		return rc;
	for (int k = 1; k < 4 && rc == 0; k++)
		if (s->per_format[k])
			rc = t->host->metric(out, names[k], (double)s->per_format[k],
			                     LETHE_METRIC_COUNT);
	return rc;
}

static int instruct_select(lethe_task *t, lethe_split split, const size_t *idx, size_t n)
{
	const lethe_kit_api *K = t->host->kit;
	struct split_data *s = &t->splits[split];
	int rc = K->select(s->items, sizeof(*s->items), idx, n);
	if (rc == 0)
		s->n = n;
	return rc;
}

static const lethe_plugin instruct_plugin = {
    LETHE_PLUGIN_HEADER,
    .name = "instruct",
    .version = "1.0.0",
    .description = "instruction following (Alpaca, ShareGPT, chat messages JSON lines); "
                   "ROUGE-L, exact match",
    .ops =
        {
            .create = instruct_create,
            .destroy = instruct_destroy,
            .load = instruct_load,
            .example = instruct_example,
            .predict = instruct_predict,
            .score = instruct_score,
            .stats = instruct_stats,
        },
    .primary_stats = instruct_primary_stats,
    .select = instruct_select,
};

LETHE_PLUGIN_DECLARE(instruct_plugin)
