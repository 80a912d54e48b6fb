/*
 * cmd_score.c: `lethe score METRIC FILE`, the metrics library on the command line, like
 * sacrebleu's: JSON lines in, one JSON object out whose field names follow the reference tools.
 * Malformed input is refused with the file and line (and column for JSON and UTF-8 errors).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* The plugin kit's readers, so that `lethe score` reads JSON lines exactly as plugins do (a NUL
 * byte, a \u0000 escape and invalid UTF-8 are refused naming the line). */
#define K (lethe_kit())

/* One input file: its records (parsed JSON objects) with their line numbers, and the message of
 * its last failure: the error sink of the plugin helpers that read it (host.ctx is the input). */
typedef struct input {
	const char *path;
	lethe_json **recs;
	size_t *lines;
	size_t n;
	lethe_host host;
	char errmsg[2048];
} input;

static void input_free(input *in)
{
	for (size_t i = 0; i < in->n; i++)
		K->json_free(in->recs[i]);
	free(in->recs);
	free(in->lines);
}

static void input_error(void *ctx, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void input_error(void *ctx, const char *fmt, ...)
{
	input *in = ctx;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->errmsg, sizeof(in->errmsg), fmt, ap);
	va_end(ap);
}

/* Standard input is held to what a file is (the kit's read_file()): text without NUL bytes, at
 * most STDIN_MAX bytes, so `lethe score bleu - </dev/zero` stops at once instead of growing
 * to gigabytes. got bytes have just been read after the first len. */
#define STDIN_MAX ((size_t)1 << 31)
static int stdin_refused(const char *data, size_t len, size_t got)
{
	const char *nul = got ? memchr(data + len, '\0', got) : NULL;
	if (nul) {
		size_t at = (size_t)(nul - data), line = 1, col = 1;
		for (size_t i = 0; i < at; i++, col++)
			if (data[i] == '\n')
				line++, col = 0;
		lethe_cli_error("<stdin>:%zu:%zu: a NUL byte: a text file cannot hold one (is this "
		                "a binary file?)",
		                line, col);
		return 1;
	}
	if (len + got >= STDIN_MAX) {
		lethe_cli_error("<stdin>: larger than 2 GiB: not a data file lethe reads");
		return 1;
	}
	return 0;
}

/* Reads FILE ("-": standard input) as JSON lines; blank lines are skipped. */
static int read_input(input *in, const char *path)
{
	memset(in, 0, sizeof(*in));
	in->path = path;
	in->host = (lethe_host){.abi_version = LETHE_PLUGIN_ABI_VERSION,
	                        .struct_size = sizeof(lethe_host),
	                        .ctx = in,
	                        .error = input_error,
	                        .kit = lethe_kit()};
	char *data = NULL;
	size_t len = 0;
	if (strcmp(path, "-") == 0) {
		size_t cap = 0;
		for (;;) {
			if (len + 65536 > cap) {
				char *p = realloc(data, cap = cap ? 2 * cap : 1 << 17);
				if (!p) {
					free(data);
					lethe_cli_error("out of memory");
					return LETHE_EXIT_FAILED;
				}
				data = p;
			}
			size_t got = fread(data + len, 1, cap - len - 1, stdin);
			if (stdin_refused(data, len, got)) {
				free(data);
				return LETHE_EXIT_USAGE;
			}
			len += got;
			if (got == 0)
				break;
		}
		if (len == 0) {
			free(data);
			lethe_cli_error("-: file is empty");
			return LETHE_EXIT_USAGE;
		}
		in->path = "<stdin>";
	} else if (K->read_file(&in->host, path, &data, &len)) {
		lethe_cli_error("%s", in->errmsg);
		return LETHE_EXIT_USAGE;
	}
	lethe_lines it;
	K->lines_init(&it, data, len);
	const char *line;
	size_t n, cap = 0;
	int status = LETHE_EXIT_OK;
	while (K->lines_next(&it, &line, &n)) {
		if (K->blank(line, n))
			continue;
		size_t bad = K->utf8_invalid(line, n);
		if (bad != (size_t)-1) {
			lethe_cli_error("%s:%zu:%zu: invalid UTF-8", in->path, it.lineno, bad + 1);
			status = LETHE_EXIT_USAGE;
			break;
		}
		lethe_json *rec;
		if (K->json_parse(&in->host, in->path, it.lineno, line, n, &rec)) {
			lethe_cli_error("%s", in->errmsg);
			status = LETHE_EXIT_USAGE;
			break;
		}
		if (!(K->json_type(rec) == LETHE_JSON_OBJECT)) {
			K->json_free(rec);
			lethe_cli_error("%s:%zu: expected a JSON object", in->path, it.lineno);
			status = LETHE_EXIT_USAGE;
			break;
		}
		if (in->n == cap) {
			cap = cap ? 2 * cap : 1024;
			lethe_json **recs = realloc(in->recs, cap * sizeof(*recs));
			size_t *lines = recs ? realloc(in->lines, cap * sizeof(*lines)) : NULL;
			if (recs)
				in->recs = recs;
			if (!lines) {
				K->json_free(rec);
				lethe_cli_error("out of memory");
				status = LETHE_EXIT_FAILED;
				break;
			}
			in->lines = lines;
		}
		in->recs[in->n] = rec;
		in->lines[in->n++] = it.lineno;
	}
	free(data);
	if (status == LETHE_EXIT_OK && in->n == 0) {
		lethe_cli_error("%s: no records", in->path);
		status = LETHE_EXIT_USAGE;
	}
	return status;
}

/* The string field key of record i, or an error naming the line. */
static const char *string_field(const input *in, size_t i, const char *key)
{
	const lethe_json *v = K->json_get(in->recs[i], key);
	if ((K->json_type(v) == LETHE_JSON_STRING))
		return K->json_string(v);
	lethe_cli_error("%s:%zu: field '%s' %s", in->path, in->lines[i], key,
	                v ? "must be a string" : "is missing");
	return NULL;
}

/* A list of strings (or, where allowed, a single string) as an array of pointers into the record.
 */
static const char **string_list(const input *in, size_t i, const char *key, int allow_string,
                                size_t *n)
{
	const lethe_json *v = K->json_get(in->recs[i], key);
	const char **list = NULL;
	if (allow_string && (K->json_type(v) == LETHE_JSON_STRING)) {
		list = malloc(sizeof(*list));
		if (list) {
			list[0] = K->json_string(v);
			*n = 1;
		}
		return list;
	}
	if (!(K->json_type(v) == LETHE_JSON_ARRAY)) {
		lethe_cli_error("%s:%zu: field '%s' %s", in->path, in->lines[i], key,
		                v ? "must be a list of strings" : "is missing");
		return NULL;
	}
	*n = K->json_size(v);
	list = malloc((*n + 1) * sizeof(*list));
	if (!list)
		return NULL;
	size_t k = 0;
	const lethe_json *item;
	for (item = K->json_first(v); item; item = K->json_next(item)) {
		if (!(K->json_type(item) == LETHE_JSON_STRING)) {
			lethe_cli_error("%s:%zu: field '%s': item %zu must be a string", in->path,
			                in->lines[i], key, k);
			free(list);
			return NULL;
		}
		list[k++] = K->json_string(item);
	}
	return list;
}

static int print_json(cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	if (!text) {
		lethe_cli_error("out of memory");
		return LETHE_EXIT_FAILED;
	}
	puts(text);
	free(text);
	return LETHE_EXIT_OK;
}

static cJSON *numbers(const double *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
	return a;
}

static cJSON *counts(const uint64_t *v, size_t n)
{
	double d[8];
	for (size_t i = 0; i < n; i++)
		d[i] = (double)v[i];
	return numbers(d, n);
}

static cJSON *bleu_json(const lethe_bleu_score *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "score", s->score);
	cJSON_AddItemToObject(o, "counts", counts(s->counts, 4));
	cJSON_AddItemToObject(o, "totals", counts(s->totals, 4));
	cJSON_AddItemToObject(o, "precisions", numbers(s->precisions, 4));
	cJSON_AddNumberToObject(o, "bp", s->bp);
	cJSON_AddNumberToObject(o, "sys_len", (double)s->sys_len);
	cJSON_AddNumberToObject(o, "ref_len", (double)s->ref_len);
	cJSON_AddNumberToObject(o, "ratio", s->ratio);
	return o;
}

/* Gathers the hyp/refs pairs of every record for BLEU and chrF. */
typedef struct pairs {
	const char **hyps;
	const char ***refs;
	size_t *n_refs;
	size_t n;
	size_t nrefs_min, nrefs_max;
} pairs;

static void pairs_free(pairs *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->refs[i]);
	free(p->hyps);
	free(p->refs);
	free(p->n_refs);
}

static int read_pairs(const input *in, pairs *p)
{
	memset(p, 0, sizeof(*p));
	p->hyps = calloc(in->n, sizeof(*p->hyps));
	p->refs = calloc(in->n, sizeof(*p->refs));
	p->n_refs = calloc(in->n, sizeof(*p->n_refs));
	if (!p->hyps || !p->refs || !p->n_refs) {
		lethe_cli_error("out of memory");
		return LETHE_EXIT_FAILED;
	}
	for (size_t i = 0; i < in->n; i++, p->n++) {
		if (!(p->hyps[i] = string_field(in, i, "hyp")) ||
		    !(p->refs[i] = string_list(in, i, "refs", 0, &p->n_refs[i])))
			return LETHE_EXIT_USAGE;
		if (p->n_refs[i] == 0) {
			lethe_cli_error("%s:%zu: field 'refs' must hold at least one reference",
			                in->path, in->lines[i]);
			p->n++; /* pairs_free() frees this record's (empty) list too */
			return LETHE_EXIT_USAGE;
		}
		if (i == 0 || p->n_refs[i] < p->nrefs_min)
			p->nrefs_min = p->n_refs[i];
		if (p->n_refs[i] > p->nrefs_max)
			p->nrefs_max = p->n_refs[i];
	}
	return LETHE_EXIT_OK;
}

static void nrefs_text(const pairs *p, char *buf, size_t size)
{
	if (p->nrefs_min == p->nrefs_max)
		snprintf(buf, size, "%zu", p->nrefs_min);
	else
		snprintf(buf, size, "var");
}

static int score_bleu(const input *in, const lethe_bleu_options *opt, int sentence)
{
	pairs p;
	int status = read_pairs(in, &p);
	if (status) {
		pairs_free(&p);
		return status;
	}
	lethe_bleu_score corpus;
	cJSON *o = NULL;
	if (lethe_bleu(&corpus, p.hyps, (const char *const *const *)p.refs, p.n_refs, p.n, opt)) {
		lethe_cli_error("out of memory");
		pairs_free(&p);
		return LETHE_EXIT_FAILED;
	}
	o = bleu_json(&corpus);
	char nrefs[32], sig[160];
	nrefs_text(&p, nrefs, sizeof(nrefs));
	snprintf(sig, sizeof(sig), "nrefs:%s|case:%s|eff:no|tok:%s|smooth:exp|version:2.6.0", nrefs,
	         opt->lowercase ? "lc" : "mixed",
	         opt->tokenize == LETHE_BLEU_TOKENIZE_NONE ? "none" : "13a");
	cJSON_AddStringToObject(o, "signature", sig);
	if (sentence) {
		lethe_bleu_options sopt = *opt;
		sopt.effective_order = 1;
		cJSON *list = cJSON_AddArrayToObject(o, "sentences");
		for (size_t i = 0; i < p.n && list; i++) {
			lethe_bleu_score s;
			if (lethe_bleu(&s, &p.hyps[i], (const char *const *const *)&p.refs[i],
			               &p.n_refs[i], 1, &sopt)) {
				lethe_cli_error("out of memory");
				status = LETHE_EXIT_FAILED;
				break;
			}
			cJSON_AddItemToArray(list, bleu_json(&s));
		}
	}
	if (status == LETHE_EXIT_OK)
		status = print_json(o);
	cJSON_Delete(o);
	pairs_free(&p);
	return status;
}

static int score_chrf(const input *in, const lethe_chrf_options *opt)
{
	pairs p;
	int status = read_pairs(in, &p);
	double score = 0, *sent = status ? NULL : malloc(p.n * sizeof(*sent));
	if (status == LETHE_EXIT_OK && !sent)
		status = LETHE_EXIT_FAILED;
	if (status == LETHE_EXIT_OK &&
	    lethe_chrf(&score, sent, p.hyps, (const char *const *const *)p.refs, p.n_refs, p.n,
	               opt)) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
	}
	if (status == LETHE_EXIT_OK) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "score", score);
		cJSON_AddItemToObject(o, "sentence_scores", numbers(sent, p.n));
		char nrefs[32], sig[160];
		nrefs_text(&p, nrefs, sizeof(nrefs));
		snprintf(sig, sizeof(sig),
		         "nrefs:%s|case:%s|eff:yes|nc:%u|nw:%u|space:%s|version:2.6.0", nrefs,
		         opt->lowercase ? "lc" : "mixed", opt->char_order, opt->word_order,
		         opt->whitespace ? "yes" : "no");
		cJSON_AddStringToObject(o, "signature", sig);
		status = print_json(o);
		cJSON_Delete(o);
	}
	free(sent);
	pairs_free(&p);
	return status;
}

static cJSON *prf_json(const lethe_prf *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "precision", s->precision);
	cJSON_AddNumberToObject(o, "recall", s->recall);
	cJSON_AddNumberToObject(o, "fmeasure", s->fmeasure);
	return o;
}

static cJSON *rouge_json(const lethe_rouge_score *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "rouge1", prf_json(&s->rouge1));
	cJSON_AddItemToObject(o, "rouge2", prf_json(&s->rouge2));
	cJSON_AddItemToObject(o, "rougeL", prf_json(&s->rougeL));
	cJSON_AddItemToObject(o, "rougeLsum", prf_json(&s->rougeLsum));
	return o;
}

static void prf_add(lethe_prf *sum, const lethe_prf *s)
{
	sum->precision += s->precision;
	sum->recall += s->recall;
	sum->fmeasure += s->fmeasure;
}

static void prf_div(lethe_prf *s, double n)
{
	s->precision /= n;
	s->recall /= n;
	s->fmeasure /= n;
}

/* A record giving both "ref" and "refs" is ambiguous (one used to be ignored silently). */
static int rouge_both_refs(const input *in, size_t i)
{
	if (!K->json_get(in->recs[i], "ref") || !K->json_get(in->recs[i], "refs"))
		return 0;
	lethe_cli_error("%s:%zu: give either 'ref' or 'refs', not both", in->path, in->lines[i]);
	return 1;
}

static int score_rouge(const input *in, int stem)
{
	cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "per_example");
	lethe_rouge_score mean;
	memset(&mean, 0, sizeof(mean));
	int status = LETHE_EXIT_OK;
	for (size_t i = 0; i < in->n && status == LETHE_EXIT_OK; i++) {
		const char *hyp = string_field(in, i, "hyp");
		const char *key = K->json_get(in->recs[i], "refs") ? "refs" : "ref";
		if (hyp && rouge_both_refs(in, i)) {
			status = LETHE_EXIT_USAGE;
			break;
		}
		size_t n_refs = 0;
		const char **refs = hyp ? string_list(in, i, key, 1, &n_refs) : NULL;
		if (!hyp || !refs) {
			status = LETHE_EXIT_USAGE;
			break;
		}
		lethe_rouge_score s;
		if (n_refs == 0) {
			lethe_cli_error("%s:%zu: field '%s' must hold at least one reference",
			                in->path, in->lines[i], key);
			status = LETHE_EXIT_USAGE;
		} else if (lethe_rouge(&s, hyp, refs, n_refs, stem)) {
			lethe_cli_error("out of memory");
			status = LETHE_EXIT_FAILED;
		} else {
			cJSON_AddItemToArray(list, rouge_json(&s));
			prf_add(&mean.rouge1, &s.rouge1);
			prf_add(&mean.rouge2, &s.rouge2);
			prf_add(&mean.rougeL, &s.rougeL);
			prf_add(&mean.rougeLsum, &s.rougeLsum);
		}
		free(refs);
	}
	if (status == LETHE_EXIT_OK) {
		prf_div(&mean.rouge1, (double)in->n);
		prf_div(&mean.rouge2, (double)in->n);
		prf_div(&mean.rougeL, (double)in->n);
		prf_div(&mean.rougeLsum, (double)in->n);
		cJSON_AddItemToObject(o, "mean", rouge_json(&mean));
		status = print_json(o);
	}
	cJSON_Delete(o);
	return status;
}

static cJSON *entity_json(const lethe_entity_score *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "precision", s->precision);
	cJSON_AddNumberToObject(o, "recall", s->recall);
	cJSON_AddNumberToObject(o, "f1", s->f1);
	cJSON_AddNumberToObject(o, "support", (double)s->n_true);
	cJSON_AddNumberToObject(o, "tp", (double)s->tp);
	cJSON_AddNumberToObject(o, "n_pred", (double)s->n_pred);
	cJSON_AddNumberToObject(o, "n_true", (double)s->n_true);
	return o;
}

static int score_seqeval(const input *in)
{
	const char ***gold = calloc(in->n, sizeof(*gold)), ***pred = calloc(in->n, sizeof(*pred));
	size_t *lens = calloc(in->n, sizeof(*lens));
	int status = gold && pred && lens ? LETHE_EXIT_OK : LETHE_EXIT_FAILED;
	for (size_t i = 0; i < in->n && status == LETHE_EXIT_OK; i++) {
		size_t ng = 0, np = 0;
		if (!(gold[i] = string_list(in, i, "gold", 0, &ng)) ||
		    !(pred[i] = string_list(in, i, "pred", 0, &np)))
			status = LETHE_EXIT_USAGE;
		else if (ng != np) {
			lethe_cli_error("%s:%zu: 'gold' has %zu tags but 'pred' has %zu", in->path,
			                in->lines[i], ng, np);
			status = LETHE_EXIT_USAGE;
		}
		lens[i] = ng;
	}
	lethe_seqeval_result *r = NULL;
	if (status == LETHE_EXIT_OK &&
	    lethe_seqeval(&r, (const char *const *const *)gold, (const char *const *const *)pred,
	                  lens, in->n)) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
	}
	if (status == LETHE_EXIT_OK) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "micro", entity_json(&r->micro));
		cJSON *types = cJSON_AddObjectToObject(o, "per_type");
		for (size_t t = 0; t < r->n_types; t++)
			cJSON_AddItemToObject(types, r->types[t].type, entity_json(&r->types[t]));
		status = print_json(o);
		cJSON_Delete(o);
	}
	lethe_seqeval_free(r);
	for (size_t i = 0; gold && pred && i < in->n; i++) {
		free(gold[i]);
		free(pred[i]);
	}
	free(gold);
	free(pred);
	free(lens);
	return status;
}

/* A label field as text; *kind is 1 for a number, 2 for a string. */
static char *label_field(const input *in, size_t i, const char *key, int *kind)
{
	const lethe_json *v = K->json_get(in->recs[i], key);
	double x;
	if (K->json_string(v)) {
		*kind = 2;
		return strdup(K->json_string(v));
	}
	if (K->json_number(v, &x) == 0) {
		/* Printed as cJSON prints a number, as before the kit read the records. */
		*kind = 1;
		cJSON *c = cJSON_CreateNumber(x);
		char *text = c ? cJSON_PrintUnformatted(c) : NULL;
		cJSON_Delete(c);
		return text;
	}
	lethe_cli_error("%s:%zu: field '%s' %s", in->path, in->lines[i], key,
	                v ? "must be a string or a number" : "is missing");
	return NULL;
}

static int score_classify(const input *in)
{
	char **gold = calloc(in->n, sizeof(*gold)), **pred = calloc(in->n, sizeof(*pred));
	int status = gold && pred ? LETHE_EXIT_OK : LETHE_EXIT_FAILED, kinds = 0;
	for (size_t i = 0; i < in->n && status == LETHE_EXIT_OK; i++) {
		int kg = 0, kp = 0;
		if (!(gold[i] = label_field(in, i, "gold", &kg)) ||
		    !(pred[i] = label_field(in, i, "pred", &kp))) {
			status = LETHE_EXIT_USAGE;
			break;
		}
		kinds |= kg | kp;
		if (kinds == 3) {
			/* scikit-learn refuses this too ("Mix of label input types"). */
			lethe_cli_error("%s:%zu: labels mix numbers and strings", in->path,
			                in->lines[i]);
			status = LETHE_EXIT_USAGE;
		}
	}
	lethe_classify_result *r = NULL;
	if (status == LETHE_EXIT_OK &&
	    lethe_classify(&r, (const char *const *)gold, (const char *const *)pred, in->n,
	                   kinds == 1)) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
	}
	if (status == LETHE_EXIT_OK) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
		cJSON_AddNumberToObject(o, "macro_f1", r->macro_f1);
		cJSON_AddNumberToObject(o, "macro_precision", r->macro_precision);
		cJSON_AddNumberToObject(o, "macro_recall", r->macro_recall);
		cJSON *per = cJSON_AddObjectToObject(o, "per_class");
		for (size_t c = 0; c < r->n_classes; c++) {
			cJSON *s = cJSON_CreateObject();
			cJSON_AddNumberToObject(s, "precision", r->classes[c].precision);
			cJSON_AddNumberToObject(s, "recall", r->classes[c].recall);
			cJSON_AddNumberToObject(s, "f1", r->classes[c].f1);
			cJSON_AddNumberToObject(s, "support", (double)r->classes[c].support);
			cJSON_AddItemToObject(per, r->classes[c].label, s);
		}
		status = print_json(o);
		cJSON_Delete(o);
	}
	lethe_classify_free(r);
	for (size_t i = 0; gold && pred && i < in->n; i++) {
		free(gold[i]);
		free(pred[i]);
	}
	free(gold);
	free(pred);
	return status;
}

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe score METRIC [OPTIONS] FILE\n\n"
	    "Scores JSON lines (FILE, or - for standard input) and prints one JSON object.\n\n"
	    "Metrics and their input lines:\n"
	    "  bleu      {\"hyp\": \"...\", \"refs\": [\"...\", ...]}   sacrebleu 2.x corpus BLEU\n"
	    "            --sentence (also per-line sentence BLEU), --lowercase, --tokenize "
	    "13a|none\n"
	    "  chrf      {\"hyp\": \"...\", \"refs\": [\"...\", ...]}   chrF2; --word-order 2 for "
	    "chrF++\n"
	    "            --char-order N (6), --beta B (2), --lowercase, --whitespace\n"
	    "  rouge     {\"hyp\": \"...\", \"ref\": \"...\"} or \"refs\": [...]   rouge-score; "
	    "--stem\n"
	    "  seqeval   {\"gold\": [tags], \"pred\": [tags]}           seqeval default mode / "
	    "conlleval\n"
	    "  classify  {\"gold\": label, \"pred\": label}             scikit-learn\n\n"
	    "Malformed input is reported with its file and line, and the exit status is 2.\n");
}

int lethe_cmd_score(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sentence", no_argument, NULL, 's'},
	    {"lowercase", no_argument, NULL, 'l'},
	    {"tokenize", required_argument, NULL, 't'},
	    {"word-order", required_argument, NULL, 'w'},
	    {"char-order", required_argument, NULL, 'c'},
	    {"beta", required_argument, NULL, 'b'},
	    {"whitespace", no_argument, NULL, 'W'},
	    {"stem", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const metrics[] = {"bleu", "chrf", "rouge", "seqeval", "classify", NULL};
	lethe_bleu_options bopt = {LETHE_BLEU_TOKENIZE_13A, 0, 0};
	lethe_chrf_options copt = {6, 0, 2.0, 0, 0};
	int sentence = 0, stem = 0, c;
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		help(stdout);
		return LETHE_EXIT_OK;
	}
	if (argc < 2) {
		lethe_cli_error("score: expected a metric: bleu, chrf, rouge, seqeval or classify");
		return LETHE_EXIT_USAGE;
	}
	const char *metric = argv[1];
	int which = -1;
	for (int i = 0; metrics[i]; i++)
		if (strcmp(metric, metrics[i]) == 0)
			which = i;
	if (which < 0) {
		const char *near = K->suggest(metric, metrics);
		if (near)
			lethe_cli_error("score: unknown metric '%s' (did you mean '%s'?)", metric,
			                near);
		else
			lethe_cli_error("score: unknown metric '%s': expected bleu, chrf, rouge, "
			                "seqeval or classify",
			                metric);
		return LETHE_EXIT_USAGE;
	}
	opterr = 0;
	optind = 1;
	argc--, argv++;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's': sentence = 1; break;
		case 'l': bopt.lowercase = copt.lowercase = 1; break;
		case 'W': copt.whitespace = 1; break;
		case 'S': stem = 1; break;
		case 't':
			if (strcmp(optarg, "13a") == 0)
				bopt.tokenize = LETHE_BLEU_TOKENIZE_13A;
			else if (strcmp(optarg, "none") == 0)
				bopt.tokenize = LETHE_BLEU_TOKENIZE_NONE;
			else {
				lethe_cli_error(
				    "score: --tokenize: expected '13a' or 'none', got '%s'",
				    optarg);
				return LETHE_EXIT_USAGE;
			}
			break;
		case 'w':
		case 'c': {
			long v = strtol(optarg, &end, 10);
			long lo = c == 'w' ? 0 : 1;
			if (*end || !*optarg || v < lo || v > 8) {
				lethe_cli_error(
				    "score: --%s: expected an integer from %ld to 8, got '%s'",
				    c == 'w' ? "word-order" : "char-order", lo, optarg);
				return LETHE_EXIT_USAGE;
			}
			if (c == 'w')
				copt.word_order = (unsigned)v;
			else
				copt.char_order = (unsigned)v;
			break;
		}
		case 'b':
			copt.beta = strtod(optarg, &end);
			if (*end || !*optarg || !(copt.beta > 0)) {
				lethe_cli_error(
				    "score: --beta: expected a positive number, got '%s'", optarg);
				return LETHE_EXIT_USAGE;
			}
			break;
		case 'h': help(stdout); return LETHE_EXIT_OK;
		case ':':
			lethe_cli_error("score: option '%s' needs a value", argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		default:
			lethe_cli_error("score: unknown option '%s' (try 'lethe score --help')",
			                argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		lethe_cli_error("score: expected one input FILE (or -)");
		return LETHE_EXIT_USAGE;
	}
	input in;
	int status = read_input(&in, argv[optind]);
	if (status == LETHE_EXIT_OK) {
		switch (which) {
		case 0: status = score_bleu(&in, &bopt, sentence); break;
		case 1: status = score_chrf(&in, &copt); break;
		case 2: status = score_rouge(&in, stem); break;
		case 3: status = score_seqeval(&in); break;
		default: status = score_classify(&in); break;
		}
	}
	input_free(&in);
	return status;
}
