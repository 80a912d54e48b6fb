/*
 * checkpoint.c: Hugging Face and llama2.c checkpoints (see checkpoint.h). config.json is read
 * with cJSON, safetensors files through safetensors.c (mapped), llama2.c files are mapped and
 * their layout computed from the header as llama2.c's export.py writes it (legacy_export,
 * version1_export, version2_export).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <lethe/common.h>

#include "checkpoint.h"
#include "safetensors.h"
#include "util/errbuf.h"

#define LLAMA2C_MAGIC 0x616b3432u /* "ak42" */
#define MAX_DIM (1 << 24)

typedef struct tensor {
	char name[80];
	size_t rows, cols;
	int permute_heads; /* llama2.c q and k: heads whose interleaved rows become rotate-half */
	/* Hugging Face */
	lethe_safetensors *shard;
	const lethe_st_tensor *st;
	/* llama2.c */
	uint64_t off;       /* float32 data, or int8 data for Q8_0 */
	uint64_t scale_off; /* Q8_0 scales */
	int q8;
} tensor;

struct lethe_checkpoint {
	char *path;
	lethe_ckpt_format format;
	lethe_ckpt_config cfg;
	char *tok_path;
	lethe_ckpt_tokenizer tok_kind;
	tensor *t;
	size_t n;
	lethe_safetensors **shards;
	size_t n_shards;
	unsigned char *map; /* llama2.c */
	size_t map_size;
	int group; /* Q8_0 group size */
	lethe_errbuf err;
};

#define fail(c, code, ...) lethe_errbuf__set(&(c)->err, code, __VA_ARGS__)

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int is_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- the tensors a configuration implies -------------------------------------------------- */

static int add(lethe_checkpoint *c, size_t *cap, const char *name, size_t rows, size_t cols,
               int permute)
{
	if (c->n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		tensor *t = realloc(c->t, *cap * sizeof *t);
		if (!t)
			return fail(c, LETHE_ENOMEM, "out of memory");
		c->t = t;
	}
	tensor *t = &c->t[c->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->rows = rows, t->cols = cols, t->permute_heads = permute;
	return 0;
}

static int expected_tensors(lethe_checkpoint *c)
{
	const lethe_ckpt_config *g = &c->cfg;
	size_t cap = 0, C = (size_t)g->dim, V = (size_t)g->vocab, FF = (size_t)g->ff;
	size_t Q = (size_t)g->heads * (size_t)g->head_dim,
	       KV = (size_t)g->kv_heads * (size_t)g->head_dim;
	int rc;
	char name[80];
	if ((rc = add(c, &cap, "model.embed_tokens.weight", V, C, 0)))
		return rc;
	for (int l = 0; l < g->layers; l++) {
		struct {
			const char *what;
			size_t rows, cols;
			int permute;
		} per[] = {
		    {"input_layernorm.weight", C, 1, 0},
		    {"self_attn.q_proj.weight", Q, C, g->heads},
		    {"self_attn.k_proj.weight", KV, C, g->kv_heads},
		    {"self_attn.v_proj.weight", KV, C, 0},
		    {"self_attn.o_proj.weight", C, Q, 0},
		    {"post_attention_layernorm.weight", C, 1, 0},
		    {"mlp.gate_proj.weight", FF, C, 0},
		    {"mlp.up_proj.weight", FF, C, 0},
		    {"mlp.down_proj.weight", C, FF, 0},
		};
		for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
			snprintf(name, sizeof name, "model.layers.%d.%s", l, per[k].what);
			if ((rc = add(c, &cap, name, per[k].rows, per[k].cols, per[k].permute)))
				return rc;
		}
	}
	if ((rc = add(c, &cap, "model.norm.weight", C, 1, 0)))
		return rc;
	if (!g->tied && (rc = add(c, &cap, "lm_head.weight", V, C, 0)))
		return rc;
	if (c->format != LETHE_CKPT_LLAMA2C)
		for (size_t i = 0; i < c->n; i++)
			c->t[i].permute_heads = 0;
	return 0;
}

static int check_dims(lethe_checkpoint *c, const char *file)
{
	const lethe_ckpt_config *g = &c->cfg;
	if (g->heads % g->kv_heads)
		return fail(c, LETHE_EPARSE,
		            "%s: %d attention heads are not a multiple of %d key/value heads", file,
		            g->heads, g->kv_heads);
	if (g->head_dim % 2)
		return fail(c, LETHE_EPARSE, "%s: head size %d is odd (RoPE rotates pairs)", file,
		            g->head_dim);
	return 0;
}

/* ---- Hugging Face ------------------------------------------------------------------------- */

static cJSON *read_json(lethe_checkpoint *c, const char *path, int required)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (required || errno != ENOENT)
			fail(c, LETHE_EIO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > (64u << 20)) {
				free(buf);
				fclose(f);
				fail(c, LETHE_EPARSE, "%s: larger than 64 MB", path);
				return NULL;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				fail(c, LETHE_ENOMEM, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		size_t k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	cJSON *root = cJSON_ParseWithLength(buf, n);
	free(buf);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		fail(c, LETHE_EPARSE, "%s: not a JSON object", path);
		return NULL;
	}
	return root;
}

/* An integer key in [lo, hi]; absent: def (or an error when def < lo). */
static int get_int(lethe_checkpoint *c, const char *file, const cJSON *o, const char *key, int lo,
                   int hi, int def, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v)) {
		if (def < lo)
			return fail(c, LETHE_EPARSE, "%s: missing '%s'", file, key);
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
	    floor(v->valuedouble) != v->valuedouble)
		return fail(c, LETHE_EPARSE, "%s: '%s': expected an integer from %d to %d", file,
		            key, lo, hi);
	*out = (int)v->valuedouble;
	return 0;
}

static int get_float(lethe_checkpoint *c, const char *file, const cJSON *o, const char *key,
                     double def, float *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v)) {
		*out = (float)def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble))
		return fail(c, LETHE_EPARSE, "%s: '%s': expected a positive number", file, key);
	*out = (float)v->valuedouble;
	return 0;
}

/* A token id given as an integer or as a list (the first is taken). */
static int32_t token_id(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsArray(v))
		v = cJSON_GetArrayItem(v, 0);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 2147483647.0)
		return (int32_t)v->valuedouble;
	return -1;
}

static int refuse_true(lethe_checkpoint *c, const char *file, const cJSON *o, const char *key,
                       const char *why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (v && !cJSON_IsNull(v) && !cJSON_IsFalse(v))
		return fail(c, LETHE_EUNSUPPORTED, "%s: '%s' is set: %s are not supported", file,
		            key, why);
	return 0;
}

static int read_config(lethe_checkpoint *c, const char *dir)
{
	char *file = join(dir, "config.json");
	if (!file)
		return fail(c, LETHE_ENOMEM, "out of memory");
	int rc = 0;
	cJSON *root = read_json(c, file, 1);
	if (!root) {
		rc = LETHE_EPARSE;
		goto out;
	}
	lethe_ckpt_config *g = &c->cfg;
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
	if (!cJSON_IsString(mt) ||
	    (strcmp(mt->valuestring, "llama") && strcmp(mt->valuestring, "mistral"))) {
		rc = fail(
		    c, LETHE_EUNSUPPORTED,
		    "%s: 'model_type' is '%s': only llama and mistral (Llama-family) models load",
		    file, cJSON_IsString(mt) ? mt->valuestring : "missing");
		goto out;
	}
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
	if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu"))) {
		rc = fail(c, LETHE_EUNSUPPORTED,
		          "%s: 'hidden_act' is '%s': only silu (SwiGLU) is supported", file,
		          cJSON_IsString(act) ? act->valuestring : "?");
		goto out;
	}
	if ((rc = refuse_true(c, file, root, "attention_bias", "attention biases")) ||
	    (rc = refuse_true(c, file, root, "mlp_bias", "MLP biases")) ||
	    (rc = refuse_true(c, file, root, "sliding_window", "sliding-window attention")) ||
	    (rc = refuse_true(c, file, root, "num_local_experts", "mixtures of experts")))
		goto out;
	int tp;
	if ((rc = get_int(c, file, root, "pretraining_tp", 1, 1, 1, &tp)))
		goto out;
	if ((rc = get_int(c, file, root, "vocab_size", 1, MAX_DIM, 0, &g->vocab)) ||
	    (rc = get_int(c, file, root, "hidden_size", 1, MAX_DIM, 0, &g->dim)) ||
	    (rc = get_int(c, file, root, "intermediate_size", 1, MAX_DIM, 0, &g->ff)) ||
	    (rc = get_int(c, file, root, "num_hidden_layers", 1, 4096, 0, &g->layers)) ||
	    (rc = get_int(c, file, root, "num_attention_heads", 1, 4096, 0, &g->heads)) ||
	    (rc = get_int(c, file, root, "num_key_value_heads", 1, 4096, g->heads, &g->kv_heads)) ||
	    (rc = get_int(c, file, root, "max_position_embeddings", 1, MAX_DIM, 2048, &g->context)))
		goto out;
	if (g->dim % g->heads && !cJSON_GetObjectItemCaseSensitive(root, "head_dim")) {
		rc = fail(c, LETHE_EPARSE,
		          "%s: hidden_size %d is not a multiple of %d heads and no head_dim", file,
		          g->dim, g->heads);
		goto out;
	}
	if ((rc = get_int(c, file, root, "head_dim", 1, 65536, g->dim / g->heads, &g->head_dim)) ||
	    (rc = get_float(c, file, root, "rms_norm_eps", 1e-6, &g->norm_eps)) ||
	    (rc = get_float(c, file, root, "rope_theta", 10000.0, &g->rope_theta)))
		goto out;
	const cJSON *ad = cJSON_GetObjectItemCaseSensitive(root, "attention_dropout");
	if (ad && !cJSON_IsNull(ad) && !(cJSON_IsNumber(ad) && ad->valuedouble == 0)) {
		rc = fail(c, LETHE_EUNSUPPORTED, "%s: 'attention_dropout' is not 0: not supported",
		          file);
		goto out;
	}
	const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
	g->tied = cJSON_IsTrue(tie); /* LlamaConfig's default is false */
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
	if (rs && !cJSON_IsNull(rs)) {
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
		if (!ty)
			ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
		if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "llama3")) {
			rc = fail(c, LETHE_EUNSUPPORTED,
			          "%s: 'rope_scaling' of type '%s': only llama3 is supported", file,
			          cJSON_IsString(ty) ? ty->valuestring : "?");
			goto out;
		}
		g->rope_llama3 = 1;
		if ((rc = get_float(c, file, rs, "factor", 8.0, &g->rope_factor)) ||
		    (rc = get_float(c, file, rs, "low_freq_factor", 1.0,
		                    &g->rope_low_freq_factor)) ||
		    (rc = get_float(c, file, rs, "high_freq_factor", 4.0,
		                    &g->rope_high_freq_factor)) ||
		    (rc = get_int(c, file, rs, "original_max_position_embeddings", 1, MAX_DIM, 8192,
		                  &g->rope_original_context)))
			goto out;
		if (!(g->rope_high_freq_factor > g->rope_low_freq_factor)) {
			rc =
			    fail(c, LETHE_EPARSE,
			         "%s: 'rope_scaling': high_freq_factor must exceed low_freq_factor",
			         file);
			goto out;
		}
	}
	g->bos = token_id(root, "bos_token_id");
	g->eos = token_id(root, "eos_token_id");
	char *gen = join(dir, "generation_config.json");
	cJSON *gc = gen ? read_json(c, gen, 0) : NULL;
	if (gc) {
		if (g->bos < 0)
			g->bos = token_id(gc, "bos_token_id");
		if (g->eos < 0)
			g->eos = token_id(gc, "eos_token_id");
	}
	cJSON_Delete(gc);
	free(gen);
	rc = check_dims(c, file);
out:
	cJSON_Delete(root);
	free(file);
	return rc;
}

static int open_shard(lethe_checkpoint *c, const char *path, lethe_safetensors **out)
{
	for (size_t i = 0; i < c->n_shards; i++)
		if (strcmp(lethe_safetensors_path(c->shards[i]), path) == 0) {
			*out = c->shards[i];
			return 0;
		}
	lethe_safetensors **s = realloc(c->shards, (c->n_shards + 1) * sizeof *s);
	if (!s)
		return fail(c, LETHE_ENOMEM, "out of memory");
	c->shards = s;
	int rc = lethe_safetensors_open(&s[c->n_shards], path);
	if (!s[c->n_shards])
		return fail(c, LETHE_ENOMEM, "out of memory");
	c->n_shards++;
	if (rc)
		return fail(c, rc, "%s", lethe_safetensors_errmsg(s[c->n_shards - 1]));
	*out = s[c->n_shards - 1];
	return 0;
}

static int shape_ok(const tensor *t, const lethe_st_tensor *s)
{
	if (t->cols == 1)
		return s->rank == 1 && (size_t)s->shape[0] == t->rows;
	return s->rank == 2 && (size_t)s->shape[0] == t->rows && (size_t)s->shape[1] == t->cols;
}

static int find_expected(const lethe_checkpoint *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int open_hf(lethe_checkpoint *c, const char *dir)
{
	int rc;
	if ((rc = read_config(c, dir)) || (rc = expected_tensors(c)))
		return rc;
	char *single = join(dir, "model.safetensors"),
	     *index = join(dir, "model.safetensors.index.json");
	cJSON *idx = NULL;
	if (!single || !index) {
		rc = fail(c, LETHE_ENOMEM, "out of memory");
		goto out;
	}
	if (is_file(single)) {
		lethe_safetensors *s;
		if ((rc = open_shard(c, single, &s)))
			goto out;
	} else if (is_file(index)) {
		if (!(idx = read_json(c, index, 1))) {
			rc = LETHE_EPARSE;
			goto out;
		}
		const cJSON *map = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
		if (!cJSON_IsObject(map)) {
			rc = fail(c, LETHE_EPARSE, "%s: missing object 'weight_map'", index);
			goto out;
		}
		for (const cJSON *e = map->child; e; e = e->next) {
			if (!cJSON_IsString(e) || strchr(e->valuestring, '/') ||
			    e->valuestring[0] == '.') {
				rc = fail(c, LETHE_EPARSE,
				          "%s: 'weight_map' entry '%s': expected a file name in "
				          "the directory",
				          index, e->string);
				goto out;
			}
			char *p = join(dir, e->valuestring);
			lethe_safetensors *s = NULL;
			rc = p ? open_shard(c, p, &s) : fail(c, LETHE_ENOMEM, "out of memory");
			free(p);
			if (rc)
				goto out;
			if (!lethe_safetensors_find(s, e->string)) {
				rc = fail(c, LETHE_EPARSE,
				          "%s: tensor '%s' is mapped to %s, which does not hold it",
				          index, e->string, e->valuestring);
				goto out;
			}
		}
	} else {
		rc = fail(c, LETHE_ENOTFOUND,
		          "%s: no model.safetensors or model.safetensors.index.json (PyTorch .bin "
		          "weights "
		          "are not read: convert them to safetensors)",
		          dir);
		goto out;
	}
	/* Every expected tensor exactly once, with its shape; nothing else. */
	for (size_t k = 0; k < c->n_shards; k++) {
		lethe_safetensors *s = c->shards[k];
		for (size_t j = 0; j < lethe_safetensors_count(s); j++) {
			const lethe_st_tensor *st = lethe_safetensors_at(s, j);
			int i = find_expected(c, st->name);
			if (i < 0) {
				/* Buffers some exports keep: derived, not parameters. */
				if (strstr(st->name, "rotary_emb.inv_freq"))
					continue;
				if (c->cfg.tied && strcmp(st->name, "lm_head.weight") == 0)
					continue; /* the tied head, saved anyway: the embeddings are
					             used */
				rc = fail(c, LETHE_EPARSE,
				          "%s: tensor '%s' is not part of a Llama model with this "
				          "config.json",
				          lethe_safetensors_path(s), st->name);
				goto out;
			}
			tensor *t = &c->t[i];
			if (t->st) {
				rc = fail(c, LETHE_EPARSE, "%s: tensor '%s' is also in %s",
				          lethe_safetensors_path(s), st->name,
				          lethe_safetensors_path(t->shard));
				goto out;
			}
			if (!shape_ok(t, st)) {
				char got[128] = "";
				for (int d = 0; d < st->rank && d < 4; d++)
					snprintf(got + strlen(got), sizeof got - strlen(got),
					         "%s%lld", d ? "x" : "", (long long)st->shape[d]);
				rc = fail(c, LETHE_EPARSE,
				          "%s: tensor '%s' has shape [%s], config.json implies "
				          "[%zu%s%.0zu]",
				          lethe_safetensors_path(s), st->name,
				          st->rank ? got : "scalar", t->rows,
				          t->cols > 1 ? "x" : "", t->cols > 1 ? t->cols : 0);
				goto out;
			}
			if (st->dtype != LETHE_ST_F32 && st->dtype != LETHE_ST_F16 &&
			    st->dtype != LETHE_ST_BF16) {
				rc = fail(c, LETHE_EUNSUPPORTED,
				          "%s: tensor '%s' is %s: expected F32, F16 or BF16",
				          lethe_safetensors_path(s), st->name,
				          lethe_st_dtype_name(st->dtype));
				goto out;
			}
			t->shard = s;
			t->st = st;
		}
	}
	for (size_t i = 0; i < c->n; i++)
		if (!c->t[i].st) {
			rc = fail(c, LETHE_EPARSE, "%s: tensor '%s' is missing", dir, c->t[i].name);
			goto out;
		}
	const char *toks[] = {"tokenizer.json", "tokenizer.model"};
	for (int k = 0; k < 2 && !c->tok_path; k++) {
		char *p = join(dir, toks[k]);
		if (p && is_file(p)) {
			c->tok_path = p;
			c->tok_kind = k ? LETHE_CKPT_TOK_SP : LETHE_CKPT_TOK_HF_JSON;
		} else
			free(p);
	}
	rc = 0;
out:
	cJSON_Delete(idx);
	free(single);
	free(index);
	return rc;
}

/* ---- llama2.c ----------------------------------------------------------------------------- */

static int32_t rd32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	                 (uint32_t)p[3] << 24);
}

/* Lays out one group of per-layer tensors (or a single tensor with layers = 0) from *at. */
static int place(lethe_checkpoint *c, const char *suffix, int layers, uint64_t *at, int q8)
{
	char name[80];
	for (int l = 0; l < (layers ? layers : 1); l++) {
		if (layers)
			snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);
		else
			snprintf(name, sizeof name, "%s", suffix);
		int i = find_expected(c, name);
		if (i < 0)
			return fail(c, LETHE_EINVAL, "internal: no tensor %s",
			            name); /* not reached */
		tensor *t = &c->t[i];
		uint64_t numel = (uint64_t)t->rows * t->cols;
		t->off = *at;
		t->q8 = q8;
		if (q8) {
			if (numel % (uint64_t)c->group)
				return fail(
				    c, LETHE_EPARSE,
				    "%s: tensor '%s' (%llu values) is not a whole number of "
				    "Q8_0 groups of %d",
				    c->path, name, (unsigned long long)numel, c->group);
			t->scale_off = *at + numel;
			*at += numel + numel / (uint64_t)c->group * 4;
		} else
			*at += numel * 4;
	}
	return 0;
}

static int open_llama2c(lethe_checkpoint *c, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(c, LETHE_EIO, "%s: cannot open: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size < 28) {
		close(fd);
		return fail(c, LETHE_EPARSE, "%s: too short for a llama2.c checkpoint", path);
	}
	c->map_size = (size_t)sb.st_size;
	void *m = mmap(NULL, c->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return fail(c, LETHE_EIO, "%s: cannot map: %s", path, strerror(errno));
	c->map = m;
	const unsigned char *b = c->map;
	int version = 0;
	const unsigned char *h = b;
	if ((uint32_t)rd32(b) == LLAMA2C_MAGIC) {
		if (c->map_size < 256)
			return fail(c, LETHE_EPARSE, "%s: too short for a llama2.c version header",
			            path);
		version = rd32(b + 4);
		if (version != 1 && version != 2)
			return fail(
			    c, LETHE_EVERSION,
			    "%s: llama2.c format version %d; versions 0 (legacy), 1 and 2 are read",
			    path, version);
		h = b + 8;
	}
	lethe_ckpt_config *g = &c->cfg;
	int32_t p[7];
	for (int i = 0; i < 7; i++)
		p[i] = rd32(h + 4 * i);
	const char *names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
	                       "n_kv_heads", "vocab_size", "seq_len"};
	for (int i = 0; i < 7; i++) {
		int32_t v = i == 5 && version == 0 && p[i] < 0 && p[i] > -MAX_DIM ? -p[i] : p[i];
		if (v <= 0 || v > MAX_DIM)
			return fail(c, LETHE_EPARSE,
			            "%s: header field %s is %d: not a llama2.c checkpoint", path,
			            names[i], (int)p[i]);
	}
	g->dim = p[0], g->ff = p[1], g->layers = p[2], g->heads = p[3], g->kv_heads = p[4];
	g->vocab = p[5] < 0 ? -p[5] : p[5];
	g->context = p[6];
	g->tied = version ? b[36] != 0 : p[5] > 0;
	if (g->dim % g->heads)
		return fail(c, LETHE_EPARSE, "%s: dim %d is not a multiple of %d heads", path,
		            g->dim, g->heads);
	g->head_dim = g->dim / g->heads;
	g->norm_eps = 1e-5f; /* llama2.c's model.py and run.c */
	g->rope_theta = 10000.0f;
	g->bos = 1, g->eos = 2; /* the Llama 2 SentencePiece ids its tokenizer.bin keeps */
	int rc;
	if ((rc = check_dims(c, path)) || (rc = expected_tensors(c)))
		return rc;
	if (version == 2) {
		c->group = rd32(b + 37);
		if (c->group <= 0 || c->group > MAX_DIM)
			return fail(c, LETHE_EPARSE, "%s: Q8_0 group size %d", path, c->group);
	}
	uint64_t at = version ? 256 : 28;
	int L = g->layers;
	if (version == 0) {
		if ((rc = place(c, "model.embed_tokens.weight", 0, &at, 0)) ||
		    (rc = place(c, "input_layernorm.weight", L, &at, 0)) ||
		    (rc = place(c, "self_attn.q_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "self_attn.k_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "self_attn.v_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "self_attn.o_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "post_attention_layernorm.weight", L, &at, 0)) ||
		    (rc = place(c, "mlp.gate_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "mlp.down_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "mlp.up_proj.weight", L, &at, 0)) ||
		    (rc = place(c, "model.norm.weight", 0, &at, 0)))
			return rc;
		at += (uint64_t)g->context * (uint64_t)g->head_dim * 4; /* freq_cis cos and sin */
		if (!g->tied && (rc = place(c, "lm_head.weight", 0, &at, 0)))
			return rc;
	} else {
		int q = version == 2;
		if ((rc = place(c, "input_layernorm.weight", L, &at, 0)) ||
		    (rc = place(c, "post_attention_layernorm.weight", L, &at, 0)) ||
		    (rc = place(c, "model.norm.weight", 0, &at, 0)) ||
		    (rc = place(c, "model.embed_tokens.weight", 0, &at, q)) ||
		    (rc = place(c, "self_attn.q_proj.weight", L, &at, q)) ||
		    (rc = place(c, "self_attn.k_proj.weight", L, &at, q)) ||
		    (rc = place(c, "self_attn.v_proj.weight", L, &at, q)) ||
		    (rc = place(c, "self_attn.o_proj.weight", L, &at, q)) ||
		    (rc = place(c, "mlp.gate_proj.weight", L, &at, q)) ||
		    (rc = place(c, "mlp.down_proj.weight", L, &at, q)) ||
		    (rc = place(c, "mlp.up_proj.weight", L, &at, q)))
			return rc;
		if (!g->tied && (rc = place(c, "lm_head.weight", 0, &at, q)))
			return rc;
	}
	if (at != c->map_size)
		return fail(
		    c, LETHE_EPARSE,
		    "%s: a llama2.c version %d checkpoint with this header is %llu bytes; the file "
		    "has %zu",
		    path, version, (unsigned long long)at, c->map_size);
	/* Its tokenizer.bin, when it sits beside the checkpoint. */
	char *dir = strdup(path);
	if (!dir)
		return fail(c, LETHE_ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	char *tok = slash ? (*slash = 0, join(dir, "tokenizer.bin")) : strdup("tokenizer.bin");
	free(dir);
	if (tok && is_file(tok)) {
		c->tok_path = tok;
		c->tok_kind = LETHE_CKPT_TOK_LLAMA2C;
	} else
		free(tok);
	return 0;
}

/* ---- the handle --------------------------------------------------------------------------- */

int lethe_checkpoint_open(lethe_checkpoint **out, const char *path)
{
	*out = NULL;
	lethe_checkpoint *c = calloc(1, sizeof *c);
	if (!c)
		return LETHE_ENOMEM;
	*out = c;
	if (!(c->path = strdup(path)))
		return LETHE_ENOMEM;
	struct stat sb;
	if (stat(path, &sb) != 0)
		return fail(c, LETHE_ENOTFOUND, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		c->format = LETHE_CKPT_HF;
		return open_hf(c, path);
	}
	if (!S_ISREG(sb.st_mode))
		return fail(c, LETHE_EIO, "%s: neither a model directory nor a checkpoint file",
		            path);
	c->format = LETHE_CKPT_LLAMA2C;
	return open_llama2c(c, path);
}

void lethe_checkpoint_free(lethe_checkpoint *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_shards; i++)
		lethe_safetensors_free(c->shards[i]);
	free(c->shards);
	if (c->map)
		munmap(c->map, c->map_size);
	free(c->t);
	free(c->tok_path);
	free(c->path);
	free(c);
}

const char *lethe_checkpoint_errmsg(const lethe_checkpoint *c)
{
	return c ? c->err.msg : "out of memory";
}

lethe_ckpt_format lethe_checkpoint_format(const lethe_checkpoint *c)
{
	return c->format;
}
const lethe_ckpt_config *lethe_checkpoint_config(const lethe_checkpoint *c)
{
	return &c->cfg;
}

const char *lethe_checkpoint_tokenizer(const lethe_checkpoint *c, lethe_ckpt_tokenizer *kind)
{
	*kind = c->tok_path ? c->tok_kind : LETHE_CKPT_TOK_NONE;
	return c->tok_path;
}

size_t lethe_checkpoint_n_tensors(const lethe_checkpoint *c)
{
	return c->n;
}

const char *lethe_checkpoint_tensor_name(const lethe_checkpoint *c, size_t i, size_t *rows,
                                         size_t *cols)
{
	if (i >= c->n)
		return NULL;
	*rows = c->t[i].rows;
	*cols = c->t[i].cols;
	return c->t[i].name;
}

/* Value j of a llama2.c tensor, float32 or Q8_0. */
static float l2c_value(const lethe_checkpoint *c, const tensor *t, uint64_t j)
{
	if (t->q8) {
		float scale;
		memcpy(&scale, c->map + t->scale_off + j / (uint64_t)c->group * 4, 4);
		return (float)(int8_t)c->map[t->off + j] * scale;
	}
	float v;
	memcpy(&v, c->map + t->off + 4 * j, 4);
	return v;
}

int lethe_checkpoint_read(lethe_checkpoint *c, size_t i, float *out)
{
	if (i >= c->n)
		return fail(c, LETHE_EINVAL, "no tensor %zu", i);
	tensor *t = &c->t[i];
	if (c->format == LETHE_CKPT_HF) {
		int rc = lethe_safetensors_to_f32(t->shard, t->st, out);
		return rc ? fail(c, rc, "%s", lethe_safetensors_errmsg(t->shard)) : 0;
	}
	size_t HS = (size_t)c->cfg.head_dim, half = HS / 2;
	for (size_t r = 0; r < t->rows; r++) {
		/* llama2.c keeps each head's rotation pairs interleaved (2i, 2i+1); Hugging Face's
		 * rotate-half keeps them half a head apart (i, i + HS/2). */
		size_t dst = r;
		if (t->permute_heads) {
			size_t h = r / HS, k = r % HS;
			dst = h * HS + (k % 2) * half + k / 2;
		}
		for (size_t col = 0; col < t->cols; col++)
			out[dst * t->cols + col] = l2c_value(c, t, (uint64_t)r * t->cols + col);
	}
	return 0;
}
