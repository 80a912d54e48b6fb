/*
 * export.c: a model and its tokenizer written as a Hugging Face Llama directory that
 * transformers.LlamaForCausalLM.from_pretrained() and AutoTokenizer.from_pretrained() load without
 * conversion, and that lethe_model_open() reads back to the same bits (docs/models.md):
 *   config.json             model_type llama, the shapes, RoPE and norm settings, special ids;
 *   model.safetensors       F32 (lethe's precision, so the round trip is exact), Hugging Face's
 *                           names; the fused wqkv split back into q_proj, k_proj and v_proj (lethe
 *                           already keeps Hugging Face's rotate-half row order);
 *   generation_config.json  greedy decoding with the special ids;
 *   the tokenizer           lethe's own BPE as a byte-level BPE tokenizer.json (below), or the
 *                           loaded checkpoint's tokenizer files copied as they are.
 * It uses only the public model and tokenizer API. Everything is written into a fresh directory
 * beside DIR and renamed into place at the end, so an interrupted export leaves no DIR behind.
 *
 * lethe's BPE as tokenizer.json. The pre-tokenizer is a Split whose pattern cuts text exactly as
 * tokenizer.c's chunk rule does (a word is a run of ASCII letters and digits and any non-ASCII
 * character, optionally after one space; other ASCII non-space characters likewise; a whitespace
 * run keeps its last space for the next word when it is followed by one), written with \xHH escapes
 * only, so Oniguruma (Hugging Face tokenizers), PCRE2 and Python's re read it alike. Then ByteLevel
 * without its own regex, and a BPE model whose vocabulary is GPT-2's byte-to-character map of each
 * token's bytes, with the merges in lethe's order. The four special tokens are added tokens
 * <|bos|>, <|eos|>, <|pad|>, <|sep|> (ids 256-259); tokenizer_config.json names them, sep_token
 * included, so that lethe frames examples of an exported model as it framed them in training.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "model_internal.h"
#include "util/errbuf.h"
#include "util/text.h"

#define SPLIT_PATTERN                                                                              \
	" ?[^\\x00-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7F]+"                                       \
	"| ?[\\x00-\\x08\\x0E-\\x1F\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7F]+"                 \
	"|[\\x09-\\x0D\\x20]+(?=\\x20[^\\x09-\\x0D\\x20])"                                         \
	"|[\\x09-\\x0D\\x20]+"

static const char *const special_text[4] = {"<|bos|>", "<|eos|>", "<|pad|>", "<|sep|>"};

typedef struct exporter {
	lethe_model *m;
	const char *dir; /* the destination, as given */
	char tmp[PATH_MAX];
} exporter;

static int fail(exporter *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(exporter *e, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->m->errmsg, sizeof(e->m->errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

/* Writes n bytes to file name inside the temporary directory. */
static int write_file(exporter *e, const char *name, const void *data, size_t n)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", e->tmp, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return fail(e, LETHE_EIO, "%s/%s: %s", e->dir, name, strerror(errno));
	int ok = fwrite(data, 1, n, f) == n;
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	int err = errno;
	ok &= fclose(f) == 0;
	if (!ok)
		return fail(e, LETHE_EIO, "%s/%s: %s", e->dir, name, strerror(err ? err : errno));
	return 0;
}

static int write_json(exporter *e, const char *name, cJSON *j)
{
	char *text = j ? cJSON_Print(j) : NULL;
	cJSON_Delete(j);
	if (!text)
		return fail(e, LETHE_ENOMEM, "out of memory");
	size_t n = strlen(text);
	char *t = realloc(text, n + 2);
	if (!t) {
		free(text);
		return fail(e, LETHE_ENOMEM, "out of memory");
	}
	t[n] = '\n';
	int rc = write_file(e, name, t, n + 1);
	free(t);
	return rc;
}

/* The float as the shortest decimal that reads back as the same float, as a double (so that
 * 1e-5f is written 1e-05, not 9.99999974737875e-06). */
static double shortest(float v)
{
	char buf[32];
	for (int p = 6; p <= 9; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, (double)v);
		if (strtof(buf, NULL) == v)
			break;
	}
	return strtod(buf, NULL);
}

static void add_id(cJSON *o, const char *key, int32_t id)
{
	if (id >= 0)
		cJSON_AddNumberToObject(o, key, id);
	else
		cJSON_AddNullToObject(o, key);
}

static int config_json(exporter *e, const lethe_tokenizer *tok)
{
	const lethe_model_config *c = lethe_model_config_of(e->m);
	int HS = c->head_dim ? c->head_dim : c->dim / c->heads;
	cJSON *j = cJSON_CreateObject();
	cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
	cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
	cJSON_AddStringToObject(j, "model_type", "llama");
	cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
	cJSON_AddNumberToObject(j, "hidden_size", c->dim);
	cJSON_AddNumberToObject(j, "intermediate_size", c->ff);
	cJSON_AddNumberToObject(j, "num_hidden_layers", c->layers);
	cJSON_AddNumberToObject(j, "num_attention_heads", c->heads);
	cJSON_AddNumberToObject(j, "num_key_value_heads", c->kv_heads ? c->kv_heads : c->heads);
	cJSON_AddNumberToObject(j, "head_dim", HS);
	cJSON_AddNumberToObject(j, "max_position_embeddings", c->context);
	cJSON_AddNumberToObject(j, "rms_norm_eps", shortest(c->norm_eps));
	cJSON_AddNumberToObject(j, "rope_theta", shortest(c->rope_theta));
	if (c->rope_llama3) {
		cJSON *r = cJSON_AddObjectToObject(j, "rope_scaling");
		cJSON_AddStringToObject(r, "rope_type", "llama3");
		cJSON_AddNumberToObject(r, "factor", shortest(c->rope_factor));
		cJSON_AddNumberToObject(r, "low_freq_factor", shortest(c->rope_low_freq_factor));
		cJSON_AddNumberToObject(r, "high_freq_factor", shortest(c->rope_high_freq_factor));
		cJSON_AddNumberToObject(r, "original_max_position_embeddings",
		                        c->rope_original_context);
	} else
		cJSON_AddNullToObject(j, "rope_scaling");
	cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tied != 0);
	cJSON_AddStringToObject(j, "hidden_act", "silu");
	cJSON_AddBoolToObject(j, "attention_bias", 0);
	cJSON_AddBoolToObject(j, "mlp_bias", 0);
	cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
	cJSON_AddNumberToObject(j, "initializer_range", 0.02);
	cJSON_AddNumberToObject(j, "pretraining_tp", 1);
	cJSON_AddBoolToObject(j, "use_cache", 1);
	cJSON_AddStringToObject(j, "torch_dtype", "float32");
	if (tok) {
		add_id(j, "bos_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_BOS));
		add_id(j, "eos_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_EOS));
		add_id(j, "pad_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_PAD));
		if (lethe_tokenizer_special(tok, LETHE_SPECIAL_SEP) >= 0)
			add_id(j, "sep_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_SEP));
	}
	return write_json(e, "config.json", j);
}

static int generation_json(exporter *e, const lethe_tokenizer *tok)
{
	cJSON *j = cJSON_CreateObject();
	if (tok) {
		add_id(j, "bos_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_BOS));
		add_id(j, "eos_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_EOS));
		add_id(j, "pad_token_id", lethe_tokenizer_special(tok, LETHE_SPECIAL_PAD));
	}
	cJSON_AddBoolToObject(j, "do_sample", 0);
	return write_json(e, "generation_config.json", j);
}

/* ---- model.safetensors ------------------------------------------------------------------------
 */

typedef struct out_tensor {
	char name[96];
	const float *data;
	size_t rows, cols; /* cols 0: a vector of rows floats */
} out_tensor;

/* Writes the n tensors t as F32 safetensors file (its name inside the temporary directory):
 * the header, then the data in the same order, each tensor's offsets in the data area. */
static int write_safetensors(exporter *e, const char *file, const out_tensor *t, size_t n)
{
	cJSON *h = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
	cJSON_AddStringToObject(meta, "format", "pt");
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t bytes = t[i].rows * (t[i].cols ? t[i].cols : 1) * sizeof(float);
		cJSON *o = cJSON_AddObjectToObject(h, t[i].name);
		cJSON_AddStringToObject(o, "dtype", "F32");
		cJSON *shape = cJSON_AddArrayToObject(o, "shape");
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].rows));
		if (t[i].cols)
			cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].cols));
		cJSON *off = cJSON_AddArrayToObject(o, "data_offsets");
		cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at));
		cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + bytes)));
		at += bytes;
	}
	char *hdr = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	if (!hdr)
		return fail(e, LETHE_ENOMEM, "out of memory");
	size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8; /* the data starts 8-byte aligned */
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", e->tmp, file);
	FILE *f = fopen(path, "wb");
	int ok = f != NULL, err = f ? 0 : errno;
	unsigned char len8[8];
	for (int b = 0; b < 8; b++)
		len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
	if (ok)
		ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
	for (size_t i = hl; ok && i < padded; i++)
		ok = fputc(' ', f) != EOF;
	/* Little-endian float32 is the in-memory layout on every machine lethe builds for. */
	for (size_t i = 0; ok && i < n; i++) {
		size_t cnt = t[i].rows * (t[i].cols ? t[i].cols : 1);
		ok = fwrite(t[i].data, sizeof(float), cnt, f) == cnt;
	}
	if (f) {
		ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
		if (!ok && !err)
			err = errno;
		if (fclose(f) != 0 && ok) {
			ok = 0;
			err = errno;
		}
	}
	free(hdr);
	if (!ok)
		return fail(e, LETHE_EIO, "%s/%s: %s", e->dir, file, strerror(err ? err : EIO));
	return 0;
}

static int safetensors(exporter *e)
{
	lethe_model *m = e->m;
	const lethe_model_config *c = lethe_model_config_of(m);
	size_t HS = (size_t)(c->head_dim ? c->head_dim : c->dim / c->heads);
	size_t Q = (size_t)c->heads * HS, KV = (size_t)(c->kv_heads ? c->kv_heads : c->heads) * HS;
	size_t nt = lethe_model_num_tensors(m);
	out_tensor *t = calloc(nt + 2 * (size_t)c->layers, sizeof(*t));
	if (!t)
		return fail(e, LETHE_ENOMEM, "out of memory");
	const float *p = lethe_model_params(m);
	size_t n = 0;
	/* lethe's names, in its layout order, to Hugging Face's; see model_load.c for the reverse.
	 */
	for (size_t i = 0; i < nt; i++) {
		const lethe_tensor_info *ti = lethe_model_tensor(m, i);
		const float *d = p + ti->offset;
		size_t C = (size_t)ti->cols;
		const char *part = NULL;
		int l = ti->layer;
		if (strcmp(ti->name, "wte") == 0)
			snprintf(t[n].name, sizeof(t[n].name), "model.embed_tokens.weight");
		else if (strcmp(ti->name, "norm") == 0)
			snprintf(t[n].name, sizeof(t[n].name), "model.norm.weight");
		else if (strcmp(ti->name, "head") == 0)
			snprintf(t[n].name, sizeof(t[n].name), "lm_head.weight");
		else if (l >= 0 && (part = strrchr(ti->name, '.')) != NULL) {
			part++;
			static const struct {
				const char *lethe, *hf;
			} map[] = {{"attn_norm", "input_layernorm"},
			           {"wo", "self_attn.o_proj"},
			           {"mlp_norm", "post_attention_layernorm"},
			           {"w1", "mlp.gate_proj"},
			           {"w3", "mlp.up_proj"},
			           {"w2", "mlp.down_proj"}};
			if (strcmp(part, "wqkv") == 0) {
				static const char *const qkv[3] = {"q_proj", "k_proj", "v_proj"};
				size_t first[3] = {0, Q, Q + KV}, rows[3] = {Q, KV, KV};
				for (int k = 0; k < 3; k++, n++) {
					snprintf(t[n].name, sizeof(t[n].name),
					         "model.layers.%d.self_attn.%s.weight", l, qkv[k]);
					t[n].data = d + first[k] * C;
					t[n].rows = rows[k];
					t[n].cols = C;
				}
				continue;
			}
			size_t k = 0;
			while (k < sizeof(map) / sizeof(map[0]) && strcmp(part, map[k].lethe))
				k++;
			if (k == sizeof(map) / sizeof(map[0])) {
				free(t);
				return fail(e, LETHE_EINVAL,
				            "tensor '%s' has no Hugging Face Llama name", ti->name);
			}
			snprintf(t[n].name, sizeof(t[n].name), "model.layers.%d.%s.weight", l,
			         map[k].hf);
		} else {
			free(t);
			return fail(e, LETHE_EINVAL, "tensor '%s' has no Hugging Face Llama name",
			            ti->name);
		}
		t[n].data = d;
		t[n].rows = (size_t)ti->rows;
		t[n].cols = ti->group == LETHE_GROUP_NORMS ? 0 : C;
		n++;
	}
	int rc = write_safetensors(e, "model.safetensors", t, n);
	free(t);
	return rc;
}

/* ---- the adapter (--adapter): PEFT's files ------------------------------------------------------
 * adapter_model.safetensors with the names PeftModel.save_pretrained() gives a LoRA on a
 * LlamaForCausalLM (the adapter name stripped): base_model.model.model.layers.L.self_attn.q_proj.
 * lora_A.weight [r, in] and .lora_B.weight [out, r], and so on for k_proj, v_proj, o_proj,
 * mlp.gate_proj, mlp.up_proj and mlp.down_proj. lethe gives q, k and v their own A and B over
 * their own rows of the fused wqkv, which is exactly PEFT's separate q_proj/k_proj/v_proj
 * adapters, so nothing is split or shared. adapter_config.json says peft_type LORA, r,
 * lora_alpha, lora_dropout, target_modules, task_type CAUSAL_LM, bias none, fan_in_fan_out false
 * and base_model_name_or_path (the export directory's absolute path: its model.safetensors is the
 * base the adapter goes on). */

static const char *const peft_modules[7] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
static const char *const lora_target_names[7] = {"q", "k", "v", "o", "gate", "up", "down"};

static int adapter_safetensors(exporter *e)
{
	lethe_model *m = e->m;
	size_t n = lethe_model_lora_num_tensors(m);
	out_tensor *t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return fail(e, LETHE_ENOMEM, "out of memory");
	const float *p = lethe_model_lora_params(m);
	for (size_t i = 0; i < n; i++) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, i);
		/* "layers.L.TARGET.lora_X" */
		const char *dot = strchr(ti->name + 7, '.');
		const char *last = strrchr(ti->name, '.');
		int k = 0;
		while (dot && last && k < 7 &&
		       !((size_t)(last - dot - 1) == strlen(lora_target_names[k]) &&
		         strncmp(dot + 1, lora_target_names[k], (size_t)(last - dot - 1)) == 0))
			k++;
		if (!dot || !last || k == 7) {
			free(t);
			return fail(e, LETHE_EINVAL, "adapter tensor '%s' has no PEFT name",
			            ti->name);
		}
		snprintf(t[i].name, sizeof(t[i].name),
		         "base_model.model.model.layers.%d.%s.%s.weight", ti->layer,
		         peft_modules[k], last + 1);
		t[i].data = p + ti->offset;
		t[i].rows = (size_t)ti->rows;
		t[i].cols = (size_t)ti->cols;
	}
	int rc = write_safetensors(e, "adapter_model.safetensors", t, n);
	free(t);
	return rc;
}

static int adapter_config(exporter *e)
{
	const lethe_lora_options *o = lethe_model_lora(e->m);
	/* The directory's absolute path (the working directory prefixed to a relative one), without
	 * trailing slashes. */
	char cwd[PATH_MAX], base[2 * PATH_MAX + 2];
	if (e->dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return fail(e, LETHE_EIO, "the working directory: %s", strerror(errno));
	int len = snprintf(base, sizeof(base), "%s%s%s", e->dir[0] == '/' ? "" : cwd,
	                   e->dir[0] == '/' ? "" : "/", e->dir);
	while (len > 1 && base[len - 1] == '/')
		base[--len] = '\0';
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "peft_type", "LORA");
	cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM");
	cJSON_AddStringToObject(j, "base_model_name_or_path", base);
	cJSON_AddNumberToObject(j, "r", o->rank);
	cJSON_AddNumberToObject(j, "lora_alpha", shortest(o->alpha));
	cJSON_AddNumberToObject(j, "lora_dropout", shortest(o->dropout));
	cJSON *tm = cJSON_AddArrayToObject(j, "target_modules");
	for (int k = 0; k < 7; k++)
		if (o->targets & (1u << k))
			cJSON_AddItemToArray(tm,
			                     cJSON_CreateString(strchr(peft_modules[k], '.') + 1));
	cJSON_AddStringToObject(j, "bias", "none");
	cJSON_AddBoolToObject(j, "fan_in_fan_out", 0);
	cJSON_AddBoolToObject(j, "inference_mode", 1);
	cJSON_AddBoolToObject(j, "use_rslora", 0);
	cJSON_AddBoolToObject(j, "use_dora", 0);
	return write_json(e, "adapter_config.json", j);
}

/* ---- the tokenizer ----------------------------------------------------------------------------
 */

/* GPT-2's byte-to-character map (bytes_to_unicode): printable bytes stand for themselves, the rest
 * take the code points from U+0100 on, in byte order. */
static void byte_chars(unsigned cp[256])
{
	unsigned next = 256;
	for (unsigned b = 0; b < 256; b++) {
		int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
		cp[b] = printable ? b : next++;
	}
}

static size_t put_utf8(char *s, unsigned cp)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	s[0] = (char)(0xC0 | (cp >> 6));
	s[1] = (char)(0x80 | (cp & 0x3F));
	return 2; /* the map never goes past U+0143 */
}

/* The byte strings of every token of lethe's BPE, as GPT-2 characters. */
static char **token_strings(const lethe_tokenizer *tok, size_t *n)
{
	size_t nm = lethe_tokenizer_n_merges(tok), V = LETHE_TOKEN_FIRST_MERGE + nm;
	const int32_t *pairs = lethe_tokenizer_merges(tok);
	char **s = calloc(V, sizeof(*s));
	unsigned cp[256];
	byte_chars(cp);
	if (!s)
		return NULL;
	for (size_t i = 0; i < 256; i++) {
		if (!(s[i] = malloc(3)))
			goto nomem;
		s[i][put_utf8(s[i], cp[i])] = '\0';
	}
	for (size_t k = 0; k < 4; k++)
		if (!(s[256 + k] = strdup(special_text[k])))
			goto nomem;
	for (size_t i = 0; i < nm; i++) {
		const char *a = s[pairs[2 * i]], *b = s[pairs[2 * i + 1]];
		size_t la = strlen(a), lb = strlen(b);
		char *v = malloc(la + lb + 1);
		if (!v)
			goto nomem;
		memcpy(v, a, la);
		memcpy(v + la, b, lb + 1);
		s[LETHE_TOKEN_FIRST_MERGE + i] = v;
	}
	*n = V;
	return s;
nomem:
	for (size_t i = 0; i < V; i++)
		free(s[i]);
	free(s);
	return NULL;
}

static int lethe_bpe_files(exporter *e, const lethe_tokenizer *tok)
{
	size_t V;
	char **s = token_strings(tok, &V);
	if (!s)
		return fail(e, LETHE_ENOMEM, "out of memory");
	const int32_t *pairs = lethe_tokenizer_merges(tok);
	int rc = 0;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "version", "1.0");
	cJSON_AddNullToObject(j, "truncation");
	cJSON_AddNullToObject(j, "padding");
	cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
	for (int k = 0; k < 4; k++) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", 256 + k);
		cJSON_AddStringToObject(a, "content", special_text[k]);
		cJSON_AddBoolToObject(a, "single_word", 0);
		cJSON_AddBoolToObject(a, "lstrip", 0);
		cJSON_AddBoolToObject(a, "rstrip", 0);
		cJSON_AddBoolToObject(a, "normalized", 0);
		cJSON_AddBoolToObject(a, "special", 1);
		cJSON_AddItemToArray(added, a);
	}
	cJSON_AddNullToObject(j, "normalizer");
	cJSON *pre = cJSON_AddObjectToObject(j, "pre_tokenizer");
	cJSON_AddStringToObject(pre, "type", "Sequence");
	cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
	cJSON *split = cJSON_CreateObject();
	cJSON_AddStringToObject(split, "type", "Split");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", SPLIT_PATTERN);
	cJSON_AddStringToObject(split, "behavior", "Isolated");
	cJSON_AddBoolToObject(split, "invert", 0);
	cJSON_AddItemToArray(list, split);
	cJSON *bl = cJSON_CreateObject();
	cJSON_AddStringToObject(bl, "type", "ByteLevel");
	cJSON_AddBoolToObject(bl, "add_prefix_space", 0);
	cJSON_AddBoolToObject(bl, "trim_offsets", 1);
	cJSON_AddBoolToObject(bl, "use_regex", 0);
	cJSON_AddItemToArray(list, bl);
	/* BOS first when special tokens are added, as lethe frames every sequence. */
	cJSON_AddItemToObject(
	    j, "post_processor",
	    cJSON_Parse("{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
	                "{\"id\": \"<|bos|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": "
	                "\"A\", \"type_id\": 0}}], \"pair\": [{\"SpecialToken\": {\"id\": "
	                "\"<|bos|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "
	                "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}], "
	                "\"special_tokens\": {\"<|bos|>\": {\"id\": \"<|bos|>\", \"ids\": "
	                "[256], \"tokens\": [\"<|bos|>\"]}}}"));
	cJSON *dec = cJSON_AddObjectToObject(j, "decoder");
	cJSON_AddStringToObject(dec, "type", "ByteLevel");
	cJSON_AddBoolToObject(dec, "add_prefix_space", 1);
	cJSON_AddBoolToObject(dec, "trim_offsets", 1);
	cJSON_AddBoolToObject(dec, "use_regex", 1);
	cJSON *model = cJSON_AddObjectToObject(j, "model");
	cJSON_AddStringToObject(model, "type", "BPE");
	cJSON_AddNullToObject(model, "dropout");
	cJSON_AddNullToObject(model, "unk_token");
	cJSON_AddNullToObject(model, "continuing_subword_prefix");
	cJSON_AddNullToObject(model, "end_of_word_suffix");
	cJSON_AddBoolToObject(model, "fuse_unk", 0);
	cJSON_AddBoolToObject(model, "byte_fallback", 0);
	cJSON_AddBoolToObject(model, "ignore_merges", 0);
	cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
	for (size_t i = 0; i < V; i++) {
		/* A vocabulary maps text to one id: two merges that make the same bytes cannot both
		 * be written. lethe's training never makes them (a merge joins two adjacent tokens
		 * of one word, and a word's tokens never spell another token twice); checked all
		 * the same. */
		if (i >= 256 && cJSON_GetObjectItemCaseSensitive(vocab, s[i])) {
			rc = fail(e, LETHE_EINVAL,
			          "tokens %d and %zu have the same bytes; a Hugging Face "
			          "vocabulary cannot hold both",
			          cJSON_GetObjectItemCaseSensitive(vocab, s[i])->valueint, i);
			goto done;
		}
		cJSON_AddNumberToObject(vocab, s[i], (double)i);
	}
	cJSON *merges = cJSON_AddArrayToObject(model, "merges");
	for (size_t i = 0; i < lethe_tokenizer_n_merges(tok); i++) {
		cJSON *mp = cJSON_CreateArray();
		cJSON_AddItemToArray(mp, cJSON_CreateString(s[pairs[2 * i]]));
		cJSON_AddItemToArray(mp, cJSON_CreateString(s[pairs[2 * i + 1]]));
		cJSON_AddItemToArray(merges, mp);
	}
	rc = write_json(e, "tokenizer.json", j);
	j = NULL;
	if (rc)
		goto done;
	cJSON *tc = cJSON_CreateObject();
	static const char *const keys[4] = {"bos_token", "eos_token", "pad_token", "sep_token"};
	for (int k = 0; k < 4; k++)
		cJSON_AddStringToObject(tc, keys[k], special_text[k]);
	cJSON_AddBoolToObject(tc, "add_bos_token", 1);
	cJSON_AddBoolToObject(tc, "add_eos_token", 0);
	cJSON_AddBoolToObject(tc, "clean_up_tokenization_spaces", 0);
	cJSON_AddNumberToObject(tc, "model_max_length", lethe_model_config_of(e->m)->context);
	cJSON_AddStringToObject(tc, "tokenizer_class", "PreTrainedTokenizerFast");
	cJSON *atd = cJSON_AddObjectToObject(tc, "added_tokens_decoder");
	for (int k = 0; k < 4; k++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", 256 + k);
		cJSON *a = cJSON_AddObjectToObject(atd, id);
		cJSON_AddStringToObject(a, "content", special_text[k]);
		cJSON_AddBoolToObject(a, "lstrip", 0);
		cJSON_AddBoolToObject(a, "normalized", 0);
		cJSON_AddBoolToObject(a, "rstrip", 0);
		cJSON_AddBoolToObject(a, "single_word", 0);
		cJSON_AddBoolToObject(a, "special", 1);
	}
	if ((rc = write_json(e, "tokenizer_config.json", tc)))
		goto done;
	cJSON *sm = cJSON_CreateObject();
	for (int k = 0; k < 4; k++)
		cJSON_AddStringToObject(sm, keys[k], special_text[k]);
	rc = write_json(e, "special_tokens_map.json", sm);
done:
	cJSON_Delete(j);
	for (size_t i = 0; i < V; i++)
		free(s[i]);
	free(s);
	return rc;
}

/* The checkpoint's own tokenizer files, copied byte for byte. */
static int copy_tokenizer(exporter *e, const char *src)
{
	static const char *const names[] = {"tokenizer.json", "tokenizer.model",
	                                    "tokenizer_config.json", "special_tokens_map.json",
	                                    "added_tokens.json"};
	int copied = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/%s", src, names[i]);
		lethe_errbuf err = {0};
		char *buf;
		size_t n;
		int rc = lethe_text__read_file(&err, path, &buf, &n);
		if (rc == LETHE_ENOTFOUND)
			continue;
		if (rc == LETHE_EPARSE) /* an empty file: copied empty */
			buf = NULL, n = 0, rc = 0;
		if (rc)
			return fail(e, rc, "%s", err.msg);
		rc = write_file(e, names[i], buf ? buf : "", n);
		free(buf);
		if (rc)
			return rc;
		copied += i < 2;
	}
	if (!copied)
		return fail(e, LETHE_ENOTFOUND, "%s: no tokenizer.json or tokenizer.model to copy",
		            src);
	return 0;
}

static void remove_tmp(exporter *e)
{
	static const char *const names[] = {"config.json",
	                                    "generation_config.json",
	                                    "model.safetensors",
	                                    "tokenizer.json",
	                                    "tokenizer.model",
	                                    "tokenizer_config.json",
	                                    "special_tokens_map.json",
	                                    "added_tokens.json",
	                                    "adapter_config.json",
	                                    "adapter_model.safetensors"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/%s", e->tmp, names[i]);
		unlink(path);
	}
	rmdir(e->tmp);
}

static int export_dir(lethe_model *m, const lethe_tokenizer *tok, const char *dir, int adapter);

int lethe_model_export(lethe_model *m, const lethe_tokenizer *tok, const char *dir)
{
	return export_dir(m, tok, dir, 0);
}

int lethe_model_export_adapter(lethe_model *m, const lethe_tokenizer *tok, const char *dir)
{
	return export_dir(m, tok, dir, 1);
}

static int export_dir(lethe_model *m, const lethe_tokenizer *tok, const char *dir, int adapter)
{
	exporter e = {.m = m, .dir = dir};
	m->errmsg[0] = '\0';
	if (!dir || !*dir)
		return fail(&e, LETHE_EINVAL, "no directory to export to");
	if (adapter && !lethe_model_lora(m))
		return fail(&e, LETHE_EINVAL, "the model has no attached LoRA adapter to export");
	const char *kind = tok ? lethe_tokenizer_kind(tok) : NULL;
	if (tok && strcmp(kind, "lethe-bpe") != 0 &&
	    (strcmp(kind, "llama2c") == 0 || !lethe_tokenizer_source(tok)))
		return fail(&e, LETHE_EINVAL,
		            "a %s tokenizer has no Hugging Face form to export (export the weights "
		            "alone, without the tokenizer)",
		            strcmp(kind, "llama2c") == 0 ? "llama2.c" : kind);
	struct stat sb;
	if (lstat(dir, &sb) == 0) {
		/* Only an empty directory is replaced: an export never deletes what it did not
		 * write.
		 */
		if (!S_ISDIR(sb.st_mode))
			return fail(&e, LETHE_EEXISTS, "%s exists and is not a directory", dir);
		if (rmdir(dir) != 0)
			return fail(&e, LETHE_EEXISTS,
			            "%s: %s (an export goes into a new or empty "
			            "directory)",
			            dir, strerror(errno == EEXIST ? ENOTEMPTY : errno));
		/* Made again at the rename; an empty directory held nothing to lose. */
	}
	if ((size_t)snprintf(e.tmp, sizeof(e.tmp), "%s.%ld.tmp", dir, (long)getpid()) >=
	    sizeof(e.tmp))
		return fail(&e, LETHE_EINVAL, "%s: path too long", dir);
	if (mkdir(e.tmp, 0777) != 0)
		return fail(&e, LETHE_EIO, "%s: %s", e.tmp, strerror(errno));
	int rc = config_json(&e, tok);
	if (!rc)
		rc = generation_json(&e, tok);
	if (!rc)
		rc = safetensors(&e);
	if (!rc && adapter)
		rc = adapter_safetensors(&e);
	if (!rc && adapter)
		rc = adapter_config(&e);
	if (!rc && tok)
		rc = strcmp(kind, "lethe-bpe") == 0
		         ? lethe_bpe_files(&e, tok)
		         : copy_tokenizer(&e, lethe_tokenizer_source(tok));
	if (!rc && rename(e.tmp, dir) != 0)
		rc = fail(&e, LETHE_EIO, "%s: cannot rename %s into place: %s", dir, e.tmp,
		          strerror(errno));
	if (rc)
		remove_tmp(&e);
	return rc;
}
