/*
 * hf_tokenizer.c: Hugging Face byte-level BPE (see hf_tokenizer.h). The behaviour follows the
 * `tokenizers` library: tokenizer.rs (added tokens split first), pre_tokenizers/{split,digits,
 * byte_level}.rs, models/bpe/word.rs (merges applied lowest rank first, leftmost first among
 * equals), decoders/byte_level.rs (a token whose characters are not all byte characters is
 * emitted as its own bytes). tokenizer.json is parsed with cJSON, patterns compiled by PCRE2.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <lethe/common.h>

#include "hf_tokenizer.h"
#include "util/errbuf.h"

/* GPT-2's pre-tokenizer pattern (ByteLevel with use_regex). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

enum step_kind { STEP_SPLIT, STEP_DIGITS };

typedef struct step {
	enum step_kind kind;
	pcre2_code *re; /* STEP_SPLIT */
	int remove;     /* Split behaviour Removed (else Isolated) */
	int individual; /* STEP_DIGITS */
} step;

typedef struct added {
	char *content;
	size_t len;
	int32_t id;
} added;

/* Open-addressing table from strings to ids. */
typedef struct strmap {
	const char **keys;
	int32_t *vals;
	size_t cap;
} strmap;

/* Open-addressing table from a pair of ids to the merge's rank and result. */
typedef struct pairmap {
	uint64_t *keys; /* a << 32 | b, plus one so that 0 is empty */
	int32_t *rank, *id;
	size_t cap;
} pairmap;

struct lethe_hf_tokenizer {
	char *path;
	char **str; /* id -> text (byte characters for the model's tokens) */
	unsigned char *is_added;
	size_t n_ids;
	size_t id_limit; /* ids are below the number of tokens the file lists (see set_token) */
	strmap vocab;    /* model tokens and added tokens */
	pairmap merges;
	int32_t byte_id[256];
	int ignore_merges;
	int add_prefix_space;
	step *steps;
	size_t n_steps;
	added *added;
	size_t n_added;
	pcre2_match_data *md;
	lethe_errbuf err;
};

static uint16_t byte_cp[256]; /* GPT-2's bytes_to_unicode */
static int16_t cp_byte[324];

static void init_bytes(void)
{
	if (byte_cp['!'] == '!')
		return;
	int n = 0;
	for (int b = 0; b < 256; b++) {
		int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
		byte_cp[b] = (uint16_t)(printable ? b : 256 + n++);
	}
	for (int c = 0; c < 324; c++)
		cp_byte[c] = -1;
	for (int b = 0; b < 256; b++)
		cp_byte[byte_cp[b]] = (int16_t)b;
}

#define fail(t, code, ...)                                                                         \
	lethe_errbuf__set_at(&(t)->err, code, (t)->path ? (t)->path : "tokenizer", __VA_ARGS__)

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static int strmap_init(strmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < 2 * n + 16)
		m->cap *= 2;
	m->keys = calloc(m->cap, sizeof *m->keys);
	m->vals = calloc(m->cap, sizeof *m->vals);
	return m->keys && m->vals ? 0 : LETHE_ENOMEM;
}

static int32_t strmap_get(const strmap *m, const char *key)
{
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

/* Returns 1 when key was already present (the value is then left as it was). */
static int strmap_put(strmap *m, const char *key, int32_t val)
{
	size_t i = hash_str(key) & (m->cap - 1);
	for (; m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->keys[i], key) == 0)
			return 1;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

static int pairmap_init(pairmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < 2 * n + 16)
		m->cap *= 2;
	m->keys = calloc(m->cap, sizeof *m->keys);
	m->rank = malloc(m->cap * sizeof *m->rank);
	m->id = malloc(m->cap * sizeof *m->id);
	return m->keys && m->rank && m->id ? 0 : LETHE_ENOMEM;
}

static size_t pair_slot(const pairmap *m, uint64_t key)
{
	size_t i = hash_u64(key) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static uint64_t pair_key(int32_t a, int32_t b)
{
	return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

/* Appends the UTF-8 of code point c (< 0x800 here) to out. */
static size_t put_cp(char *out, unsigned c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = (char)(0xc0 | c >> 6);
	out[1] = (char)(0x80 | (c & 0x3f));
	return 2;
}

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, min = 0x10000, c &= 0x07;
		} else
			return i;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return i;
			c = c << 6 | (s[i + j] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return i;
		i += k + 1;
	}
	return n;
}

/* ---- loading ------------------------------------------------------------------------------ */

static char *read_file(lethe_hf_tokenizer *t, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fail(t, LETHE_EIO, "cannot open: %s", strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf) {
		fail(t, LETHE_ENOMEM, "out of memory");
		return NULL;
	}
	if (bad) {
		free(buf);
		fail(t, LETHE_EIO, "read error");
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static const char *type_of(const cJSON *o)
{
	const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
	return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

/* A boolean option that must have the given value when present. */
static int want_bool(lethe_hf_tokenizer *t, const cJSON *o, const char *where, const char *key,
                     int want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v) || cJSON_IsTrue(v) != want)
		return fail(t, LETHE_EUNSUPPORTED, "%s: '%s' must be %s: not supported", where, key,
		            want ? "true" : "false");
	return 0;
}

static int compile(lethe_hf_tokenizer *t, step *s, const char *pattern, const char *where)
{
	int code;
	PCRE2_SIZE at;
	s->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
	                      &code, &at, NULL);
	if (!s->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof msg);
		return fail(t, LETHE_EPARSE, "%s: pattern does not compile at offset %zu: %s",
		            where, (size_t)at, (const char *)msg);
	}
	pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE); /* an interpreter fallback is fine */
	return 0;
}

static int add_step(lethe_hf_tokenizer *t, step s)
{
	step *n = realloc(t->steps, (t->n_steps + 1) * sizeof *n);
	if (!n) {
		if (s.re)
			pcre2_code_free(s.re);
		return fail(t, LETHE_ENOMEM, "out of memory");
	}
	t->steps = n;
	t->steps[t->n_steps++] = s;
	return 0;
}

static int pre_tokenizer(lethe_hf_tokenizer *t, const cJSON *p, int *seen_byte_level, int last)
{
	const char *ty = type_of(p);
	if (!ty)
		return fail(t, LETHE_EPARSE, "'pre_tokenizer': missing 'type'");
	if (*seen_byte_level)
		return fail(t, LETHE_EUNSUPPORTED,
		            "'pre_tokenizer': '%s' after ByteLevel: ByteLevel must come last", ty);
	int rc;
	if (strcmp(ty, "Sequence") == 0) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
		if (!cJSON_IsArray(list))
			return fail(t, LETHE_EPARSE,
			            "'pre_tokenizer': Sequence without 'pretokenizers'");
		int n = cJSON_GetArraySize(list), i = 0;
		for (const cJSON *c = list->child; c; c = c->next, i++)
			if ((rc = pre_tokenizer(t, c, seen_byte_level, last && i == n - 1)))
				return rc;
		return 0;
	}
	if (strcmp(ty, "ByteLevel") == 0) {
		if (!last)
			return fail(t, LETHE_EUNSUPPORTED,
			            "'pre_tokenizer': ByteLevel must be the last pre-tokenizer");
		*seen_byte_level = 1;
		const cJSON *aps = cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space");
		t->add_prefix_space = cJSON_IsTrue(aps);
		const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
		if (!ur || cJSON_IsTrue(ur)) { /* the default is true */
			step s = {.kind = STEP_SPLIT};
			if ((rc = compile(t, &s, gpt2_pattern, "'pre_tokenizer' ByteLevel")))
				return rc;
			return add_step(t, s);
		}
		return 0;
	}
	if (strcmp(ty, "Split") == 0) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
		const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
		const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
		if ((rc = want_bool(t, p, "'pre_tokenizer' Split", "invert", 0)))
			return rc;
		step s = {.kind = STEP_SPLIT};
		if (!cJSON_IsString(beh) ||
		    (strcmp(beh->valuestring, "Isolated") && strcmp(beh->valuestring, "Removed")))
			return fail(
			    t, LETHE_EUNSUPPORTED,
			    "'pre_tokenizer' Split: behavior '%s' not supported (expected Isolated "
			    "or Removed)",
			    cJSON_IsString(beh) ? beh->valuestring : "?");
		s.remove = strcmp(beh->valuestring, "Removed") == 0;
		if (cJSON_IsString(re)) {
			if ((rc = compile(t, &s, re->valuestring, "'pre_tokenizer' Split")))
				return rc;
		} else if (cJSON_IsString(str)) {
			/* A literal: quote it for PCRE2. */
			size_t l = strlen(str->valuestring);
			char *q = malloc(l + 5);
			if (!q)
				return fail(t, LETHE_ENOMEM, "out of memory");
			snprintf(q, l + 5, "\\Q%s\\E", str->valuestring);
			rc = strstr(str->valuestring, "\\E")
			         ? fail(t, LETHE_EUNSUPPORTED,
			                "'pre_tokenizer' Split: string with \\E")
			         : compile(t, &s, q, "'pre_tokenizer' Split");
			free(q);
			if (rc)
				return rc;
		} else
			return fail(t, LETHE_EPARSE,
			            "'pre_tokenizer' Split: expected 'pattern' {\"Regex\": ...} or "
			            "{\"String\": ...}");
		return add_step(t, s);
	}
	if (strcmp(ty, "Digits") == 0) {
		step s = {.kind = STEP_DIGITS};
		s.individual =
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "individual_digits"));
		return add_step(t, s);
	}
	return fail(t, LETHE_EUNSUPPORTED,
	            "'pre_tokenizer': type '%s' not supported (expected Sequence, Split, Digits or "
	            "ByteLevel)",
	            ty);
}

static int set_token(lethe_hf_tokenizer *t, int32_t id, const char *text, int is_added)
{
	/* The ids of a tokenizer index its model's embedding rows, so they are dense: an id past
	 * the number of tokens listed (vocabulary plus added tokens) is damage, and sizing the
	 * id table from it would let one number ask for gigabytes (found by fuzz_tokenizer). */
	if ((size_t)id >= t->id_limit)
		return fail(t, LETHE_EPARSE,
		            "token '%s': id %d is out of range (the file lists %zu tokens, so ids "
		            "are 0..%zu)",
		            text, (int)id, t->id_limit, t->id_limit ? t->id_limit - 1 : 0);
	if ((size_t)id >= t->n_ids) {
		size_t n = (size_t)id + 1;
		char **s = realloc(t->str, n * sizeof *s);
		unsigned char *a = s ? realloc(t->is_added, n) : NULL;
		if (s)
			t->str = s;
		if (!s || !a)
			return fail(t, LETHE_ENOMEM, "out of memory");
		t->is_added = a;
		for (size_t i = t->n_ids; i < n; i++)
			t->str[i] = NULL, t->is_added[i] = 0;
		t->n_ids = n;
	}
	if (t->str[id]) {
		if (strcmp(t->str[id], text) == 0 && is_added) {
			t->is_added[id] = 1; /* an added token that is also in the vocabulary */
			return 0;
		}
		return fail(t, LETHE_EPARSE, "id %d is given to both '%s' and '%s'", (int)id,
		            t->str[id], text);
	}
	if (!(t->str[id] = strdup(text)))
		return fail(t, LETHE_ENOMEM, "out of memory");
	t->is_added[id] = (unsigned char)is_added;
	return 0;
}

static int load_model(lethe_hf_tokenizer *t, const cJSON *model)
{
	const char *ty = type_of(model);
	if (!ty || strcmp(ty, "BPE") != 0)
		return fail(
		    t, LETHE_EUNSUPPORTED,
		    "'model': type '%s' not supported (expected BPE; SentencePiece models load "
		    "from tokenizer.model)",
		    ty ? ty : "?");
	int rc;
	if ((rc = want_bool(t, model, "'model'", "byte_fallback", 0)))
		return rc;
	const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
	if (dropout && !cJSON_IsNull(dropout) &&
	    !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
		return fail(t, LETHE_EUNSUPPORTED, "'model': 'dropout' not supported");
	const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
	for (int i = 0; i < 2; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
		if (a && !cJSON_IsNull(a) && !(cJSON_IsString(a) && !a->valuestring[0]))
			return fail(t, LETHE_EUNSUPPORTED, "'model': '%s' not supported",
			            affixes[i]);
	}
	t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
	const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
	if (!cJSON_IsObject(vocab))
		return fail(t, LETHE_EPARSE, "'model': missing object 'vocab'");
	if (!cJSON_IsArray(merges))
		return fail(t, LETHE_EPARSE, "'model': missing array 'merges'");
	for (const cJSON *v = vocab->child; v; v = v->next) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 0x7ffffffe ||
		    v->valuedouble != (double)(int32_t)v->valuedouble)
			return fail(t, LETHE_EPARSE,
			            "'model.vocab': '%s': expected a non-negative integer id",
			            v->string);
		if ((rc = set_token(t, (int32_t)v->valuedouble, v->string, 0)))
			return rc;
	}
	return 0;
}

static int load_merges(lethe_hf_tokenizer *t, const cJSON *merges)
{
	int n = cJSON_GetArraySize(merges), rank = 0, rc;
	if ((rc = pairmap_init(&t->merges, (size_t)n)))
		return fail(t, rc, "out of memory");
	char buf[1024];
	for (const cJSON *m = merges->child; m; m = m->next, rank++) {
		const char *a, *b;
		char *sp = NULL;
		if (cJSON_IsString(m)) {
			/* "a b": byte-level tokens never hold a space, so the one space separates
			 * them. */
			snprintf(buf, sizeof buf, "%s", m->valuestring);
			sp = strchr(buf, ' ');
			if (!sp || strchr(sp + 1, ' ') || strlen(m->valuestring) >= sizeof buf)
				return fail(
				    t, LETHE_EPARSE,
				    "'model.merges' %d: expected \"left right\", got '%.60s'", rank,
				    m->valuestring);
			*sp = 0;
			a = buf, b = sp + 1;
		} else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 &&
		           cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
		           cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
			a = cJSON_GetArrayItem(m, 0)->valuestring;
			b = cJSON_GetArrayItem(m, 1)->valuestring;
		} else
			return fail(t, LETHE_EPARSE,
			            "'model.merges' %d: expected \"left right\" or [left, right]",
			            rank);
		int32_t ia = strmap_get(&t->vocab, a), ib = strmap_get(&t->vocab, b);
		size_t la = strlen(a), lb = strlen(b);
		char *joined = malloc(la + lb + 1);
		if (!joined)
			return fail(t, LETHE_ENOMEM, "out of memory");
		memcpy(joined, a, la);
		memcpy(joined + la, b, lb + 1);
		int32_t ij = strmap_get(&t->vocab, joined);
		if (ia < 0 || ib < 0 || ij < 0) {
			rc = fail(t, LETHE_EPARSE,
			          "'model.merges' %d ('%s' '%s'): '%s' is not in the vocabulary",
			          rank, a, b,
			          ia < 0   ? a
			          : ib < 0 ? b
			                   : joined);
			free(joined);
			return rc;
		}
		free(joined);
		size_t slot = pair_slot(&t->merges, pair_key(ia, ib));
		if (!t->merges.keys[slot]) { /* the first rank of a repeated merge wins */
			t->merges.keys[slot] = pair_key(ia, ib);
			t->merges.rank[slot] = rank;
			t->merges.id[slot] = ij;
		}
	}
	return 0;
}

static int load_added(lethe_hf_tokenizer *t, const cJSON *list)
{
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return fail(t, LETHE_EPARSE, "'added_tokens': expected an array");
	int n = cJSON_GetArraySize(list), rc;
	t->added = calloc(n ? (size_t)n : 1, sizeof *t->added);
	if (!t->added)
		return fail(t, LETHE_ENOMEM, "out of memory");
	for (const cJSON *a = list->child; a; a = a->next) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
		if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 0x7ffffffe ||
		    !cJSON_IsString(content) || !content->valuestring[0])
			return fail(t, LETHE_EPARSE,
			            "'added_tokens': expected {\"id\": N, \"content\": TEXT}");
		const char *opts[] = {"lstrip", "rstrip", "single_word"};
		char where[160];
		snprintf(where, sizeof where, "added token '%.100s'", content->valuestring);
		for (int i = 0; i < 3; i++)
			if ((rc = want_bool(t, a, where, opts[i], 0)))
				return rc;
		if ((rc = set_token(t, (int32_t)id->valuedouble, content->valuestring, 1)))
			return rc;
		added *ad = &t->added[t->n_added++];
		ad->content = t->str[(int32_t)id->valuedouble];
		ad->len = strlen(ad->content);
		ad->id = (int32_t)id->valuedouble;
	}
	return 0;
}

int lethe_hf_tokenizer_load(lethe_hf_tokenizer **out, const char *path)
{
	init_bytes();
	*out = NULL;
	lethe_hf_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return LETHE_ENOMEM;
	*out = t;
	if (!(t->path = strdup(path)))
		return LETHE_ENOMEM;
	size_t len;
	char *text = read_file(t, path, &len);
	if (!text)
		return errno == ENOMEM ? LETHE_ENOMEM : LETHE_EIO;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	int rc = 0;
	if (!cJSON_IsObject(root)) {
		rc = fail(t, LETHE_EPARSE, "not a JSON object (tokenizer.json expected)");
		goto out;
	}
	const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
	if (norm && !cJSON_IsNull(norm)) {
		rc = fail(t, LETHE_EUNSUPPORTED,
		          "'normalizer': type '%s' not supported (expected null)",
		          type_of(norm) ? type_of(norm) : "?");
		goto out;
	}
	const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
	if (dec && !cJSON_IsNull(dec) && (!type_of(dec) || strcmp(type_of(dec), "ByteLevel"))) {
		rc = fail(t, LETHE_EUNSUPPORTED,
		          "'decoder': type '%s' not supported (expected ByteLevel)",
		          type_of(dec) ? type_of(dec) : "?");
		goto out;
	}
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (!cJSON_IsObject(model)) {
		rc = fail(t, LETHE_EPARSE, "missing object 'model'");
		goto out;
	}
	const cJSON *added_tokens = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
	const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	t->id_limit = (size_t)(cJSON_IsObject(vocab) ? cJSON_GetArraySize(vocab) : 0) +
	              (size_t)(cJSON_IsArray(added_tokens) ? cJSON_GetArraySize(added_tokens) : 0);
	if ((rc = load_model(t, model)))
		goto out;
	if ((rc = load_added(t, added_tokens)))
		goto out;
	if ((rc = strmap_init(&t->vocab, t->n_ids))) {
		rc = fail(t, rc, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->n_ids; i++)
		if (t->str[i] && strmap_put(&t->vocab, t->str[i], (int32_t)i) && !t->is_added[i]) {
			rc = fail(t, LETHE_EPARSE, "'model.vocab': '%s' appears twice", t->str[i]);
			goto out;
		}
	if ((rc = load_merges(t, cJSON_GetObjectItemCaseSensitive(model, "merges"))))
		goto out;
	for (int b = 0; b < 256; b++) {
		char s[3] = {0};
		put_cp(s, byte_cp[b]);
		if ((t->byte_id[b] = strmap_get(&t->vocab, s)) < 0) {
			rc = fail(t, LETHE_EPARSE,
			          "'model.vocab' lacks '%s', the token of byte 0x%02x: not a "
			          "byte-level BPE",
			          s, b);
			goto out;
		}
	}
	const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
	int seen_byte_level = 0;
	if (!pre || cJSON_IsNull(pre) || (rc = pre_tokenizer(t, pre, &seen_byte_level, 1)) ||
	    !seen_byte_level) {
		if (!rc)
			rc = fail(
			    t, LETHE_EUNSUPPORTED,
			    "'pre_tokenizer': no ByteLevel pre-tokenizer: not a byte-level BPE");
		goto out;
	}
	if (!(t->md = pcre2_match_data_create(4, NULL)))
		rc = fail(t, LETHE_ENOMEM, "out of memory");
out:
	cJSON_Delete(root);
	return rc;
}

void lethe_hf_tokenizer_free(lethe_hf_tokenizer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_steps; i++)
		pcre2_code_free(t->steps[i].re);
	free(t->steps);
	pcre2_match_data_free(t->md);
	for (size_t i = 0; i < t->n_ids; i++)
		free(t->str[i]);
	free(t->str);
	free(t->is_added);
	free(t->vocab.keys);
	free(t->vocab.vals);
	free(t->merges.keys);
	free(t->merges.rank);
	free(t->merges.id);
	free(t->added);
	free(t->path);
	free(t);
}

const char *lethe_hf_tokenizer_errmsg(const lethe_hf_tokenizer *t)
{
	return t ? t->err.msg : "out of memory";
}

size_t lethe_hf_tokenizer_vocab_size(const lethe_hf_tokenizer *t)
{
	return t->n_ids;
}

int32_t lethe_hf_tokenizer_token_id(const lethe_hf_tokenizer *t, const char *text)
{
	return strmap_get(&t->vocab, text);
}

/* ---- encoding ----------------------------------------------------------------------------- */

typedef struct piece {
	size_t begin, end;
} piece;

typedef struct ids_buf {
	int32_t *v;
	size_t n, cap;
} ids_buf;

static int push_id(ids_buf *b, int32_t id)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		int32_t *v = realloc(b->v, cap * sizeof *v);
		if (!v)
			return LETHE_ENOMEM;
		b->v = v, b->cap = cap;
	}
	b->v[b->n++] = id;
	return 0;
}

typedef struct pieces {
	piece *v;
	size_t n, cap;
} pieces;

static int push_piece(pieces *p, size_t begin, size_t end)
{
	if (begin == end)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		piece *v = realloc(p->v, cap * sizeof *v);
		if (!v)
			return LETHE_ENOMEM;
		p->v = v, p->cap = cap;
	}
	p->v[p->n++] = (piece){begin, end};
	return 0;
}

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Splits s[p.begin, p.end) by one pre-tokenizer step into out. */
static int split_piece(lethe_hf_tokenizer *t, const step *st, const char *s, piece p, pieces *out)
{
	int rc;
	if (st->kind == STEP_DIGITS) {
		size_t i = p.begin, start = p.begin;
		while (i < p.end) {
			if (s[i] >= '0' && s[i] <= '9') {
				if ((rc = push_piece(out, start, i)))
					return rc;
				size_t j = i + 1;
				if (!st->individual)
					while (j < p.end && s[j] >= '0' && s[j] <= '9')
						j++;
				if ((rc = push_piece(out, i, j)))
					return rc;
				start = i = j;
			} else
				i++;
		}
		return push_piece(out, start, p.end);
	}
	PCRE2_SPTR subj = (PCRE2_SPTR)(s + p.begin);
	size_t len = p.end - p.begin, at = 0, last = 0;
	while (at <= len) {
		int m =
		    pcre2_match(st->re, subj, len, at, at ? PCRE2_NO_UTF_CHECK : 0, t->md, NULL);
		if (m == PCRE2_ERROR_NOMATCH)
			break;
		if (m < 0)
			return LETHE_EINVAL;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
		size_t b = ov[0], e = ov[1];
		if (e == b) { /* an empty match splits nothing: move one character on */
			if (b >= len)
				break;
			at = b + utf8_len(subj[b]);
			continue;
		}
		if ((rc = push_piece(out, p.begin + last, p.begin + b)))
			return rc;
		if (!st->remove && (rc = push_piece(out, p.begin + b, p.begin + e)))
			return rc;
		last = at = e;
	}
	return push_piece(out, p.begin + last, p.end);
}

/* BPE over one piece of raw bytes. */
static int bpe(lethe_hf_tokenizer *t, const unsigned char *s, size_t n, ids_buf *out, int32_t *sym,
               char *mapped)
{
	if (t->ignore_merges) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += put_cp(mapped + k, byte_cp[s[i]]);
		mapped[k] = 0;
		int32_t id = strmap_get(&t->vocab, mapped);
		if (id >= 0 && !t->is_added[id])
			return push_id(out, id);
	}
	size_t m = n;
	for (size_t i = 0; i < n; i++)
		sym[i] = t->byte_id[s[i]];
	while (m > 1) {
		int32_t best = INT32_MAX, best_id = -1;
		size_t at = 0;
		for (size_t i = 0; i + 1 < m; i++) {
			size_t slot = pair_slot(&t->merges, pair_key(sym[i], sym[i + 1]));
			if (t->merges.keys[slot] && t->merges.rank[slot] < best) {
				best = t->merges.rank[slot];
				best_id = t->merges.id[slot];
				at = i;
			}
		}
		if (best_id < 0)
			break;
		sym[at] = best_id;
		memmove(sym + at + 1, sym + at + 2, (m - at - 2) * sizeof *sym);
		m--;
	}
	for (size_t i = 0; i < m; i++)
		if (push_id(out, sym[i]))
			return LETHE_ENOMEM;
	return 0;
}

/* The added token starting at text[i], longest first, or NULL. */
static const added *added_at(const lethe_hf_tokenizer *t, const char *text, size_t i, size_t len)
{
	const added *best = NULL;
	for (size_t k = 0; k < t->n_added; k++) {
		const added *a = &t->added[k];
		if (a->len <= len - i && (!best || a->len > best->len) &&
		    text[i] == a->content[0] && memcmp(text + i, a->content, a->len) == 0)
			best = a;
	}
	return best;
}

static int encode_segment(lethe_hf_tokenizer *t, const char *seg, size_t n, ids_buf *out)
{
	if (n == 0)
		return 0;
	int rc = LETHE_ENOMEM;
	char *s = malloc(n + 2);
	int32_t *sym = malloc((n + 1) * sizeof *sym);
	char *mapped = malloc(2 * n + 3);
	pieces a = {0}, b = {0};
	if (!s || !sym || !mapped)
		goto out;
	size_t k = 0;
	if (t->add_prefix_space && seg[0] != ' ')
		s[k++] = ' ';
	memcpy(s + k, seg, n);
	n += k;
	s[n] = 0;
	if ((rc = push_piece(&a, 0, n)))
		goto out;
	for (size_t i = 0; i < t->n_steps; i++) {
		b.n = 0;
		for (size_t j = 0; j < a.n; j++)
			if ((rc = split_piece(t, &t->steps[i], s, a.v[j], &b)))
				goto out;
		pieces tmp = a;
		a = b;
		b = tmp;
	}
	for (size_t j = 0; j < a.n; j++)
		if ((rc = bpe(t, (const unsigned char *)s + a.v[j].begin, a.v[j].end - a.v[j].begin,
		              out, sym, mapped)))
			goto out;
	rc = 0;
out:
	free(a.v);
	free(b.v);
	free(s);
	free(sym);
	free(mapped);
	return rc;
}

int lethe_hf_tokenizer_encode(lethe_hf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                              size_t *n)
{
	*ids = NULL;
	*n = 0;
	size_t valid = utf8_valid((const unsigned char *)text, len);
	if (valid != len)
		return fail(t, LETHE_EINVAL, "invalid UTF-8 at byte %zu of the text", valid);
	ids_buf out = {0};
	int rc = 0;
	size_t start = 0;
	for (size_t i = 0; i < len;) {
		const added *a = t->n_added ? added_at(t, text, i, len) : NULL;
		if (!a) {
			i++;
			continue;
		}
		if ((rc = encode_segment(t, text + start, i - start, &out)) ||
		    (rc = push_id(&out, a->id)))
			break;
		i += a->len;
		start = i;
	}
	if (!rc)
		rc = encode_segment(t, text + start, len - start, &out);
	if (rc) {
		free(out.v);
		return rc == LETHE_ENOMEM
		           ? fail(t, rc, "out of memory")
		           : fail(t, rc, "the pre-tokenizer's pattern failed to match");
	}
	if (!out.v && !(out.v = malloc(sizeof *out.v)))
		return fail(t, LETHE_ENOMEM, "out of memory");
	*ids = out.v;
	*n = out.n;
	return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

int lethe_hf_tokenizer_decode(lethe_hf_tokenizer *t, const int32_t *ids, size_t n, char **out,
                              size_t *len)
{
	*out = NULL;
	*len = 0;
	size_t cap = 1;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (size_t)ids[i] >= t->n_ids || !t->str[ids[i]])
			return fail(t, LETHE_EINVAL, "id %d is not in the vocabulary", (int)ids[i]);
		cap += strlen(t->str[ids[i]]);
	}
	char *buf = malloc(cap);
	if (!buf)
		return fail(t, LETHE_ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *s = (const unsigned char *)t->str[ids[i]];
		size_t start = k;
		int all_bytes = 1;
		for (size_t j = 0; s[j];) {
			unsigned c = s[j];
			size_t l = utf8_len(s[j]);
			if (l == 2 && s[j + 1])
				c = (unsigned)(s[j] & 0x1f) << 6 | (s[j + 1] & 0x3f);
			if (l > 2 || (l == 2 && !s[j + 1]) || c >= 324 || cp_byte[c] < 0) {
				all_bytes = 0;
				break;
			}
			buf[k++] = (char)cp_byte[c];
			j += l;
		}
		if (!all_bytes) { /* as decoders/byte_level.rs: the token's own bytes */
			k = start;
			size_t l = strlen((const char *)s);
			memcpy(buf + k, s, l);
			k += l;
		}
	}
	buf[k] = 0;
	*out = buf;
	*len = k;
	return 0;
}
