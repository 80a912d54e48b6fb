/*
 * tokenizer_pretrained.c: a pretrained model's tokenizer and its special tokens (see
 * tokenizer_pretrained.h). Where the ids of BOS, EOS and padding come from, first found wins:
 * config.json's bos_token_id/eos_token_id/pad_token_id, generation_config.json's, then the token
 * texts of tokenizer_config.json (bos_token, eos_token, pad_token: a string or {"content": ...})
 * looked up in the tokenizer; a SentencePiece model's own ids; llama2.c's 1 and 2. Padding falls
 * back to EOS, as transformers' generation does. A separator (sep_token_id, sep_token) is rare: a
 * model exported by lethe names its own; without one lethe joins prompt and target with text the
 * tokenizer encodes (docs/models.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include <lethe/common.h>

#include "checkpoint.h"
#include "hf_tokenizer.h"
#include "l2c_tokenizer.h"
#include "sp_tokenizer.h"
#include "tokenizer_pretrained.h"

struct lethe_pretrained_tok {
	lethe_hf_tokenizer *hf;
	lethe_sp_tokenizer *sp;
	lethe_l2c_tokenizer *l2c;
	size_t vocab;
	int32_t special[4];
};

static cJSON *json_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4097 > cap) {
			cap = cap ? 2 * cap : 65536;
			char *nb = cap <= (16u << 20) ? realloc(buf, cap) : NULL;
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (!k)
			break;
	}
	fclose(f);
	cJSON *j = cJSON_ParseWithLength(buf, n);
	free(buf);
	return j;
}

static int32_t json_id(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsArray(v))
		v = cJSON_GetArrayItem(v, 0);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 2147483647.0
	           ? (int32_t)v->valuedouble
	           : -1;
}

static int32_t json_token(lethe_hf_tokenizer *hf, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "content");
	return cJSON_IsString(v) ? lethe_hf_tokenizer_token_id(hf, v->valuestring) : -1;
}

static int is_file_in(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void hf_specials(lethe_pretrained_tok *p, const char *dir)
{
	static const char *const id_keys[4] = {"bos_token_id", "eos_token_id", "pad_token_id",
	                                       "sep_token_id"};
	static const char *const text_keys[4] = {"bos_token", "eos_token", "pad_token",
	                                         "sep_token"};
	const char *files[2] = {"config.json", "generation_config.json"};
	for (int f = 0; f < 2; f++) {
		cJSON *j = json_file(dir, files[f]);
		for (int k = 0; k < 4 && j; k++)
			if (p->special[k] < 0)
				p->special[k] = json_id(j, id_keys[k]);
		cJSON_Delete(j);
	}
	if (p->hf) {
		cJSON *j = json_file(dir, "tokenizer_config.json");
		for (int k = 0; k < 4 && j; k++)
			if (p->special[k] < 0)
				p->special[k] = json_token(p->hf, j, text_keys[k]);
		cJSON_Delete(j);
	}
}

int lethe_pretrained_tok_open(lethe_pretrained_tok **out, const char *path, char *errmsg,
                              size_t errmsg_size)
{
	*out = NULL;
	lethe_pretrained_tok *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(errmsg, errmsg_size, "out of memory");
		return LETHE_ENOMEM;
	}
	for (int k = 0; k < 4; k++)
		p->special[k] = -1;
	struct stat sb;
	int rc = 0;
	if (stat(path, &sb) != 0) {
		snprintf(errmsg, errmsg_size, "%s: %s", path, strerror(errno));
		rc = LETHE_ENOTFOUND;
	} else if (S_ISDIR(sb.st_mode)) {
		char file[4096];
		if (is_file_in(path, "tokenizer.json")) {
			snprintf(file, sizeof file, "%s/tokenizer.json", path);
			if ((rc = lethe_hf_tokenizer_load(&p->hf, file)))
				snprintf(errmsg, errmsg_size, "%s",
				         lethe_hf_tokenizer_errmsg(p->hf));
			else
				p->vocab = lethe_hf_tokenizer_vocab_size(p->hf);
		} else if (is_file_in(path, "tokenizer.model")) {
			snprintf(file, sizeof file, "%s/tokenizer.model", path);
			if ((rc = lethe_sp_tokenizer_load(&p->sp, file)))
				snprintf(errmsg, errmsg_size, "%s",
				         lethe_sp_tokenizer_errmsg(p->sp));
			else {
				p->vocab = lethe_sp_tokenizer_vocab_size(p->sp);
				p->special[LETHE_SPECIAL_BOS] = lethe_sp_tokenizer_bos(p->sp);
				p->special[LETHE_SPECIAL_EOS] = lethe_sp_tokenizer_eos(p->sp);
			}
		} else {
			snprintf(errmsg, errmsg_size, "%s: no tokenizer.json or tokenizer.model",
			         path);
			rc = LETHE_ENOTFOUND;
		}
		if (!rc)
			hf_specials(p, path);
	} else {
		/* A llama2.c checkpoint: its header gives the vocabulary of tokenizer.bin beside
		 * it. */
		lethe_checkpoint *c;
		lethe_ckpt_tokenizer kind;
		if ((rc = lethe_checkpoint_open(&c, path)))
			snprintf(errmsg, errmsg_size, "%s", lethe_checkpoint_errmsg(c));
		else if (lethe_checkpoint_format(c) != LETHE_CKPT_LLAMA2C ||
		         !lethe_checkpoint_tokenizer(c, &kind)) {
			snprintf(errmsg, errmsg_size, "%s: no tokenizer.bin beside the checkpoint",
			         path);
			rc = LETHE_ENOTFOUND;
		} else {
			const lethe_ckpt_config *g = lethe_checkpoint_config(c);
			if ((rc = lethe_l2c_tokenizer_load(
			         &p->l2c, lethe_checkpoint_tokenizer(c, &kind), (size_t)g->vocab)))
				snprintf(errmsg, errmsg_size, "%s",
				         lethe_l2c_tokenizer_errmsg(p->l2c));
			p->vocab = (size_t)g->vocab;
			p->special[LETHE_SPECIAL_BOS] = g->bos;
			p->special[LETHE_SPECIAL_EOS] = g->eos;
		}
		lethe_checkpoint_free(c);
	}
	if (!rc && p->special[LETHE_SPECIAL_PAD] < 0)
		p->special[LETHE_SPECIAL_PAD] = p->special[LETHE_SPECIAL_EOS];
	for (int k = 0; k < 4 && !rc; k++)
		if (p->special[k] >= (int32_t)p->vocab)
			p->special[k] = -1; /* a config naming an id the tokenizer lacks */
	if (rc) {
		lethe_pretrained_tok_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void lethe_pretrained_tok_free(lethe_pretrained_tok *p)
{
	if (!p)
		return;
	lethe_hf_tokenizer_free(p->hf);
	lethe_sp_tokenizer_free(p->sp);
	lethe_l2c_tokenizer_free(p->l2c);
	free(p);
}

const char *lethe_pretrained_tok_errmsg(const lethe_pretrained_tok *p)
{
	return p->hf   ? lethe_hf_tokenizer_errmsg(p->hf)
	       : p->sp ? lethe_sp_tokenizer_errmsg(p->sp)
	               : lethe_l2c_tokenizer_errmsg(p->l2c);
}

const char *lethe_pretrained_tok_kind(const lethe_pretrained_tok *p)
{
	return p->hf ? "huggingface-bpe" : p->sp ? "sentencepiece" : "llama2c";
}

size_t lethe_pretrained_tok_vocab(const lethe_pretrained_tok *p)
{
	return p->vocab;
}

int32_t lethe_pretrained_tok_special(const lethe_pretrained_tok *p, lethe_special_token which)
{
	return (unsigned)which < 4 ? p->special[which] : -1;
}

int lethe_pretrained_tok_encode(lethe_pretrained_tok *p, const char *text, size_t len,
                                int32_t **ids, size_t *n)
{
	return p->hf   ? lethe_hf_tokenizer_encode(p->hf, text, len, ids, n)
	       : p->sp ? lethe_sp_tokenizer_encode(p->sp, text, len, ids, n)
	               : lethe_l2c_tokenizer_encode(p->l2c, text, len, ids, n);
}

/* Ids the tokenizer does not have decode to nothing: a model's embedding table is often padded
 * beyond its tokenizer (to a multiple of 64 or 128), and a generation may pick such an id. */
int lethe_pretrained_tok_decode(lethe_pretrained_tok *p, const int32_t *ids, size_t n, char **out,
                                size_t *len)
{
	int32_t *known = malloc((n ? n : 1) * sizeof(*known));
	if (!known)
		return LETHE_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && (size_t)ids[i] < p->vocab)
			known[k++] = ids[i];
	int rc = p->hf   ? lethe_hf_tokenizer_decode(p->hf, known, k, out, len)
	         : p->sp ? lethe_sp_tokenizer_decode(p->sp, known, k, out, len)
	                 : lethe_l2c_tokenizer_decode(p->l2c, known, k, out, len);
	free(known);
	return rc;
}
