/*
 * model.c: the transformer's parameter layout, initialisation, forward pass and backward pass:
 * embeddings, the layers (layer.c, the one layer that decoding uses too), the final norm, the head
 * and the cross-entropy. Backward kernels accumulate into the gradient block, so gradient
 * accumulation is calling forward and backward again before lethe_model_step(). AdamW lives in
 * optim.c, decoding in generate.c.
 *
 * The arithmetic mirrors the PyTorch reference (../shared/bench/torch_reference.py, --arch
 * llama): RMSNorm x * rsqrt(mean(x^2) + eps) * w; RoPE in the rotate-half convention on q and k;
 * softmax(q k^T / sqrt(HS)) with a causal mask; SwiGLU w2(silu(w1 x) * w3 x); a head tied to the
 * embeddings by default. tests/parity.py checks loss, logits and every gradient against it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "fastmath.h"
#include "grad_hook.h"
#include "loss_count.h"
#include "model_internal.h"
#include "parallel.h"

/* ---- configuration ----------------------------------------------------------------------------
 */

int lethe_model_preset(lethe_model_config *cfg, const char *name, int vocab)
{
	static const struct {
		const char *name;
		int context, dim, layers, heads;
	} presets[] = {
	    {"tiny", 128, 128, 4, 4}, {"small", 256, 256, 6, 8}, {"base", 256, 512, 8, 8}};
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(name, presets[i].name) == 0) {
			*cfg = (lethe_model_config){.vocab = vocab,
			                            .context = presets[i].context,
			                            .dim = presets[i].dim,
			                            .layers = presets[i].layers,
			                            .heads = presets[i].heads,
			                            .tied = 1};
			return lethe_model_config_check(cfg, NULL, 0);
		}
	return LETHE_ENOTFOUND;
}

int lethe_model_config_check(lethe_model_config *c, char *err, size_t size)
{
	char buf[256];
	if (!err) {
		err = buf;
		size = sizeof(buf);
	}
	if (c->ff == 0)
		c->ff = ((8 * c->dim / 3 + 31) / 32) * 32;
	if (c->norm_eps == 0)
		c->norm_eps = 1e-5f;
	if (c->rope_theta == 0)
		c->rope_theta = 10000.0f;
	/* lethe's own shapes unless a pretrained checkpoint says otherwise: head size dim / heads,
	 * which must then divide evenly. */
	int derived = c->head_dim == 0;
	if (c->kv_heads == 0)
		c->kv_heads = c->heads;
	if (derived && c->heads > 0)
		c->head_dim = c->dim / c->heads;
	if (c->vocab < 2 || c->vocab > (1 << 20))
		snprintf(err, size, "vocab must be from 2 to %d, got %d", 1 << 20, c->vocab);
	else if (c->context < 2 || c->context > 1 << 20)
		snprintf(err, size, "context must be from 2 to %d, got %d", 1 << 20, c->context);
	else if (c->dim < 2 || c->dim > 16384)
		snprintf(err, size, "dim must be from 2 to 16384, got %d", c->dim);
	else if (c->layers < 1 || c->layers > 256)
		snprintf(err, size, "layers must be from 1 to 256, got %d", c->layers);
	else if (c->heads < 1 || (derived && (c->dim % c->heads != 0 || c->head_dim % 2 != 0)))
		snprintf(err, size,
		         "heads must divide dim into an even head size (dim %d, heads %d)", c->dim,
		         c->heads);
	else if (c->head_dim < 2 || c->head_dim % 2 != 0 || c->head_dim > 4096)
		snprintf(err, size,
		         "head_dim must be even, from 2 to 4096, got %d (RoPE rotates pairs)",
		         c->head_dim);
	else if (c->kv_heads < 1 || c->heads % c->kv_heads != 0)
		snprintf(err, size, "kv_heads must divide heads (heads %d, kv_heads %d)", c->heads,
		         c->kv_heads);
	else if (c->ff < 1 || c->ff > 1 << 20)
		snprintf(err, size, "ff must be from 1 to %d, got %d", 1 << 20, c->ff);
	else if (!(c->norm_eps > 0) || !(c->rope_theta > 1))
		snprintf(err, size, "norm_eps must be > 0 and rope_theta > 1");
	else if (c->rope_llama3 &&
	         (!(c->rope_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
	          !(c->rope_low_freq_factor > 0) || c->rope_original_context < 1))
		snprintf(err, size,
		         "llama3 rope scaling needs factor > 0, high_freq_factor > "
		         "low_freq_factor > 0 and an original context");
	else
		return 0;
	return LETHE_EINVAL;
}

size_t lethe_model_config_params(const lethe_model_config *c)
{
	size_t C = (size_t)c->dim, FF = (size_t)c->ff, V = (size_t)c->vocab;
	size_t HS = (size_t)(c->head_dim ? c->head_dim : c->dim / c->heads);
	size_t Q = (size_t)c->heads * HS, KV = (size_t)(c->kv_heads ? c->kv_heads : c->heads) * HS;
	size_t per_layer = 2 * C + (Q + 2 * KV) * C + C * Q + 3 * C * FF;
	return V * C + (size_t)c->layers * per_layer + C + (c->tied ? 0 : V * C);
}

/* ---- layout -----------------------------------------------------------------------------------
 */

static void add_tensor(lethe_model *m, size_t *offset, char **names, const char *name, int rows,
                       int cols, lethe_param_group group, int layer)
{
	lethe_tensor_info *t = &m->tensors[m->n_tensors++];
	size_t len = strlen(name) + 1;
	memcpy(*names, name, len);
	*t = (lethe_tensor_info){*names, *offset, (size_t)rows * (size_t)cols, rows, cols,
	                         group,  layer};
	*names += len;
	*offset += t->size;
}

void lethe_model__views(lethe_model *m, float *block, model_view *v)
{
	v->wte = block + m->tensors[m->t_wte].offset;
	v->nf = block + m->tensors[m->t_nf].offset;
	v->head = block + m->tensors[m->t_head].offset;
	for (int l = 0; l < m->cfg.layers; l++) {
		const lethe_tensor_info *t = &m->tensors[1 + (size_t)l * T_PER_LAYER];
		layer_view *lv = &v->layer[l];
		lv->n1 = block + t[T_N1].offset;
		lv->wqkv = block + t[T_WQKV].offset;
		lv->wo = block + t[T_WO].offset;
		lv->n2 = block + t[T_N2].offset;
		lv->w1 = block + t[T_W1].offset;
		lv->w3 = block + t[T_W3].offset;
		lv->w2 = block + t[T_W2].offset;
	}
}

/* splitmix64 seeds xoshiro256**; Box-Muller in double makes the normal draws. */
typedef model_rng rng;

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next64(rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static double uniform(rng *r)
{
	return ((next64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

void lethe_model__rng_seed(model_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

double lethe_model__rng_uniform(model_rng *r)
{
	return uniform(r);
}

static void normal_fill(rng *r, float *v, size_t n, double std)
{
	for (size_t i = 0; i < n; i += 2) {
		double u1 = uniform(r), u2 = uniform(r), rad = sqrt(-2.0 * log(u1));
		v[i] = (float)(std * rad * cos(2 * 3.14159265358979323846 * u2));
		if (i + 1 < n)
			v[i + 1] = (float)(std * rad * sin(2 * 3.14159265358979323846 * u2));
	}
}

static void free_activations(lethe_model *m)
{
	float **bufs[] = {&m->x,      &m->xmid,   &m->rstd1, &m->rstd2, &m->qkv,     &m->att,
	                  &m->y,      &m->a,      &m->b3,    &m->rstdf, &m->hf,      &m->hf_t,
	                  &m->logits, &m->s_h,    &m->s_g,   &m->s_dx,  &m->s_dxmid, &m->s_dh,
	                  &m->s_dy,   &m->s_dqkv, &m->s_da,  &m->s_db,  &m->s_dp};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		free(*bufs[i]);
		*bufs[i] = NULL;
	}
	free(m->tokens);
	free(m->targets);
	free(m->target_rows);
	free(m->s_lp);
	m->s_lp = NULL;
	m->cap_threads = 0;
	m->tokens = m->targets = m->target_rows = NULL;
	m->cap_bt = m->cap_nt = 0;
	m->cap_btt = 0;
	m->cap_T = 0;
}

void lethe_model_free(lethe_model *m)
{
	if (!m)
		return;
	free_activations(m);
	lethe_model__lora_free(m);
	free(m->row_w);
	lethe_model__lora_frozen_free(m);
	free(m->params);
	free(m->grads);
	free(m->adam_m);
	free(m->adam_v);
	free(m->p.layer);
	free(m->g.layer);
	free(m->tensors);
	free(m->names);
	free(m->trainable);
	free(m->rope_cos);
	free(m->rope_sin);
	free(m);
}

/* A RoPE frequency as Llama 3.x scales it (transformers' _compute_llama3_parameters): long
 * wavelengths divided by factor, short ones kept, a smooth blend between. In float, as the
 * reference computes it. */
static float llama3_frequency(float inv, const lethe_model_config *c)
{
	float old = (float)c->rope_original_context;
	float low_wavelen = old / c->rope_low_freq_factor,
	      high_wavelen = old / c->rope_high_freq_factor;
	float wavelen = 2.0f * 3.14159265358979323846f / inv;
	float scaled = wavelen > low_wavelen ? inv / c->rope_factor : inv;
	if (wavelen < high_wavelen || wavelen > low_wavelen)
		return scaled;
	float smooth = (old / wavelen - c->rope_low_freq_factor) /
	               (c->rope_high_freq_factor - c->rope_low_freq_factor);
	return (1.0f - smooth) * scaled / c->rope_factor + smooth * scaled;
}

int lethe_model_new(lethe_model **out, const lethe_model_config *config, uint64_t seed)
{
	return lethe_model__create(out, config, seed, 1);
}

int lethe_model__create(lethe_model **out, const lethe_model_config *config, uint64_t seed,
                        int init)
{
	*out = NULL;
	lethe_model_config cfg = *config;
	if (lethe_model_config_check(&cfg, NULL, 0))
		return LETHE_EINVAL;
	lethe_model *m = calloc(1, sizeof(*m));
	if (!m)
		return LETHE_ENOMEM;
	m->cfg = cfg;
	int C = cfg.dim, L = cfg.layers, FF = cfg.ff, V = cfg.vocab;
	m->HS = cfg.head_dim;
	m->C3 = (cfg.heads + 2 * cfg.kv_heads) * cfg.head_dim; /* the fused q, k, v width */
	int Q = cfg.heads * cfg.head_dim;
	size_t max_tensors = 3 + (size_t)L * T_PER_LAYER;
	m->tensors = calloc(max_tensors, sizeof(*m->tensors));
	m->names = malloc(max_tensors * 40);
	m->trainable = malloc(max_tensors);
	m->p.layer = calloc((size_t)L, sizeof(layer_view));
	m->g.layer = calloc((size_t)L, sizeof(layer_view));
	if (!m->tensors || !m->names || !m->trainable || !m->p.layer || !m->g.layer)
		goto nomem;
	size_t offset = 0;
	char *names = m->names, name[40];
	m->t_wte = 0;
	add_tensor(m, &offset, &names, "wte", V, C, LETHE_GROUP_EMBEDDINGS, -1);
	for (int l = 0; l < L; l++) {
		static const char *const suffix[T_PER_LAYER] = {
		    "attn_norm", "attn.wqkv", "attn.wo", "mlp_norm", "mlp.w1", "mlp.w3", "mlp.w2"};
		const int rows[T_PER_LAYER] = {C, m->C3, C, C, FF, FF, C};
		const int cols[T_PER_LAYER] = {1, C, Q, 1, C, C, FF};
		const lethe_param_group groups[T_PER_LAYER] = {
		    LETHE_GROUP_NORMS, LETHE_GROUP_ATTENTION, LETHE_GROUP_ATTENTION,
		    LETHE_GROUP_NORMS, LETHE_GROUP_MLP,       LETHE_GROUP_MLP,
		    LETHE_GROUP_MLP};
		for (int k = 0; k < T_PER_LAYER; k++) {
			snprintf(name, sizeof(name), "layers.%d.%s", l, suffix[k]);
			add_tensor(m, &offset, &names, name, rows[k], cols[k], groups[k], l);
		}
	}
	m->t_nf = m->n_tensors;
	add_tensor(m, &offset, &names, "norm", C, 1, LETHE_GROUP_NORMS, -1);
	m->t_head = m->t_wte;
	if (!cfg.tied) {
		m->t_head = m->n_tensors;
		add_tensor(m, &offset, &names, "head", V, C, LETHE_GROUP_EMBEDDINGS, -1);
	}
	m->n_params = offset;
	memset(m->trainable, 1, max_tensors);
	m->params = malloc(m->n_params * sizeof(float));
	if (!m->params)
		goto nomem;
	lethe_model__views(m, m->params, &m->p);

	/* Initialisation in tensor order: matrices N(0, 0.02), norm weights 1. */
	rng r;
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		r.s[i] = splitmix(&sm);
	for (size_t i = 0; init && i < m->n_tensors; i++) {
		lethe_tensor_info *t = &m->tensors[i];
		if (t->cols == 1)
			for (size_t k = 0; k < t->size; k++)
				m->params[t->offset + k] = 1.0f;
		else
			normal_fill(&r, m->params + t->offset, t->size, 0.02);
	}

	/* RoPE tables, computed in float as the reference computes them. */
	int T = cfg.context, half = m->HS / 2;
	m->rope_cos = malloc((size_t)T * half * sizeof(float));
	m->rope_sin = malloc((size_t)T * half * sizeof(float));
	if (!m->rope_cos || !m->rope_sin)
		goto nomem;
	for (int i = 0; i < half; i++) {
		float inv = 1.0f / powf(cfg.rope_theta, (float)(2 * i) / (float)m->HS);
		if (cfg.rope_llama3)
			inv = llama3_frequency(inv, &cfg);
		for (int t = 0; t < T; t++) {
			float ang = (float)t * inv;
			m->rope_cos[(size_t)t * half + i] = cosf(ang);
			m->rope_sin[(size_t)t * half + i] = sinf(ang);
		}
	}
	m->dims = (layer_dims){.C = C,
	                       .NH = cfg.heads,
	                       .NKV = cfg.kv_heads,
	                       .HS = m->HS,
	                       .FF = FF,
	                       .eps = cfg.norm_eps,
	                       .rope_cos = m->rope_cos,
	                       .rope_sin = m->rope_sin};
	*out = m;
	return 0;
nomem:
	lethe_model_free(m);
	return LETHE_ENOMEM;
}

const lethe_model_config *lethe_model_config_of(const lethe_model *m)
{
	return &m->cfg;
}
const char *lethe_model_errmsg(const lethe_model *m)
{
	return m->errmsg;
}
size_t lethe_model_num_params(const lethe_model *m)
{
	return m->n_params;
}
float *lethe_model_params(lethe_model *m)
{
	return m->params;
}
/* The base gradients are allocated when first needed: a model whose base is frozen (LoRA) never
 * holds them. */
int lethe_model__ensure_grads(lethe_model *m)
{
	if (m->grads)
		return 0;
	if (!(m->grads = calloc(m->n_params, sizeof(float)))) {
		snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for the gradients");
		return LETHE_ENOMEM;
	}
	lethe_model__views(m, m->grads, &m->g);
	return 0;
}
int lethe_model__base_trainable(const lethe_model *m)
{
	for (size_t i = 0; i < m->n_tensors; i++)
		if (m->trainable[i])
			return 1;
	return 0;
}
float *lethe_model_grads(lethe_model *m)
{
	return lethe_model__ensure_grads(m) ? NULL : m->grads;
}
size_t lethe_model_num_tensors(const lethe_model *m)
{
	return m->n_tensors;
}
const lethe_tensor_info *lethe_model_tensor(const lethe_model *m, size_t i)
{
	return i < m->n_tensors ? &m->tensors[i] : NULL;
}
const float *lethe_model_logits(const lethe_model *m)
{
	return m->logits;
}
void lethe_model_zero_grad(lethe_model *m)
{
	if (m->grads)
		memset(m->grads, 0, m->n_params * sizeof(float));
	if (m->lora_g)
		memset(m->lora_g, 0, m->n_lora * sizeof(float));
}
int lethe_model_tensor_trainable(const lethe_model *m, size_t i)
{
	return i < m->n_tensors && m->trainable[i];
}

void lethe_model_set_trainable(lethe_model *m, lethe_param_group group, int layer, int trainable)
{
	for (size_t i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].group == group && (layer < 0 || m->tensors[i].layer == layer))
			m->trainable[i] = (unsigned char)(trainable != 0);
}

/* ---- buffers ----------------------------------------------------------------------------------
 */

/* The activation buffers for BT rows, BTT = B T^2 attention entries per head and layer, T
 * positions, NT targets and the given threads; 0, or -1 with everything freed. */
static int alloc_activations(lethe_model *m, size_t BT, size_t BTT, int T, int NT, int threads)
{
	free_activations(m);
	size_t L = (size_t)m->cfg.layers, C = (size_t)m->cfg.dim, FF = (size_t)m->cfg.ff;
	size_t V = (size_t)m->cfg.vocab, NH = (size_t)m->cfg.heads, nt = NT > 0 ? (size_t)NT : 1;
	size_t QKV = (size_t)m->C3, Q = NH * (size_t)m->HS;
	struct {
		float **p;
		size_t n;
	} want[] = {
	    {&m->x, (L + 1) * BT * C},
	    {&m->xmid, L * BT * C},
	    {&m->rstd1, L * BT},
	    {&m->rstd2, L * BT},
	    {&m->qkv, L * BT * QKV},
	    {&m->att, L * NH * BTT},
	    {&m->y, L * BT * Q},
	    {&m->a, L * BT * FF},
	    {&m->b3, L * BT * FF},
	    {&m->rstdf, BT},
	    {&m->hf, BT * C},
	    {&m->hf_t, nt * C},
	    {&m->logits, nt * V},
	    {&m->s_h, BT * C},
	    {&m->s_g, BT * FF},
	    {&m->s_dx, BT * C},
	    {&m->s_dxmid, BT * C},
	    {&m->s_dh, BT * C},
	    {&m->s_dy, BT * Q},
	    {&m->s_dqkv, BT * QKV},
	    {&m->s_da, BT * FF},
	    {&m->s_db, BT * FF},
	    {&m->s_dp, (size_t)threads * T * T},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!(*want[i].p = malloc(want[i].n * sizeof(float))))
			goto nomem;
	m->tokens = malloc(BT * sizeof(int32_t));
	m->targets = malloc(BT * sizeof(int32_t));
	m->target_rows = malloc(nt * sizeof(int32_t));
	m->s_lp = malloc(nt * sizeof(double));
	if (!m->tokens || !m->targets || !m->target_rows || !m->s_lp)
		goto nomem;
	m->cap_threads = threads;
	m->cap_bt = BT;
	m->cap_btt = BTT;
	m->cap_nt = nt;
	m->cap_T = T;
	return 0;
nomem:
	free_activations(m);
	return -1;
}

static int ensure(lethe_model *m, int B, int T, int NT)
{
	size_t BT = (size_t)B * T, BTT = BT * (size_t)T;
	int threads = lethe_threads();
	if (BT <= m->cap_bt && BTT <= m->cap_btt && (size_t)NT <= m->cap_nt && T <= m->cap_T &&
	    threads <= m->cap_threads)
		return 0;
	/* Grow to cover this shape and every earlier one, each buffer by its own largest need:
	 * evaluation alternates shapes (a task's NLL batches, then its candidates), and
	 * reallocating at each change cost the c3 evaluation bench a fifth of its time in page
	 * faults on fresh buffers. Where that union does not fit, this shape alone may. */
	size_t uBT = BT > m->cap_bt ? BT : m->cap_bt, uBTT = BTT > m->cap_btt ? BTT : m->cap_btt;
	int uT = T > m->cap_T ? T : m->cap_T, uNT = (size_t)NT > m->cap_nt ? NT : (int)m->cap_nt,
	    uthreads = threads > m->cap_threads ? threads : m->cap_threads;
	if (alloc_activations(m, uBT, uBTT, uT, uNT, uthreads) == 0 ||
	    alloc_activations(m, BT, BTT, T, NT, threads) == 0)
		return 0;
	snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for a batch of %d x %d tokens", B, T);
	return LETHE_ENOMEM;
}

/* Layer l's activations inside the model's buffers, for a batch of B x T. */
static layer_acts layer_acts_of(lethe_model *m, int l, int B, int T)
{
	size_t BT = (size_t)B * T, C = (size_t)m->cfg.dim, FF = (size_t)m->cfg.ff;
	return (layer_acts){.x = m->x + (size_t)l * BT * C,
	                    .xmid = m->xmid + (size_t)l * BT * C,
	                    .xout = m->x + (size_t)(l + 1) * BT * C,
	                    .rstd1 = m->rstd1 + (size_t)l * BT,
	                    .rstd2 = m->rstd2 + (size_t)l * BT,
	                    .qkv = m->qkv + (size_t)l * BT * m->C3,
	                    .att = m->att + (size_t)l * B * m->cfg.heads * T * T,
	                    .y = m->y + (size_t)l * BT * (size_t)m->cfg.heads * m->HS,
	                    .a = m->a + (size_t)l * BT * FF,
	                    .b = m->b3 + (size_t)l * BT * FF,
	                    .h = m->s_h,
	                    .g = m->s_g,
	                    .scores = NULL,
	                    .lora_u = m->has_lora ? m->s_lora_u + (size_t)l * LORA_TARGETS * BT *
	                                                              m->lora_opt.rank
	                                          : NULL,
	                    .lora_x = m->s_lora_x,
	                    .lora_drop = lethe_model__lora_key(m, l)};
}

/* ---- forward ----------------------------------------------------------------------------------
 */

/* Cross-entropy rows run across threads: each job is one of these over a range of rows. */
typedef struct rows_job {
	lethe_model *m;
	double *lp;
} rows_job;

LETHE_CLONES static void ce_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	rows_job *j = arg;
	lethe_model *m = j->m;
	int V = m->cfg.vocab;
	for (size_t k = begin; k < end; k++) {
		const float *row = m->logits + k * V;
		float mx = row[0];
		for (int i = 1; i < V; i++)
			mx = row[i] > mx ? row[i] : mx;
		/* The exponentials a chunk at a time, vectorised, then added in index order in
		 * double: the same sum as one loop, whose serial double adds kept the exponentials
		 * from being vectorised. */
		double sum = 0.0;
		float e[256];
		for (int i0 = 0; i0 < V; i0 += 256) {
			int n = V - i0 < 256 ? V - i0 : 256;
			for (int i = 0; i < n; i++)
				e[i] = lethe_expf(row[i0 + i] - mx);
			for (int i = 0; i < n; i++)
				sum += (double)e[i];
		}
		j->lp[k] = (double)mx + log(sum) - (double)row[m->targets[m->target_rows[k]]];
	}
}

void lethe_model__set_loss_count(lethe_model *m, int n)
{
	m->loss_count = n > 0 ? n : 0;
}

/* dlogits in place: (softmax - onehot) / NT (or loss_count.h's count), or times the row's weight
 * with EXAMPLE weighting. */
LETHE_CLONES static void dlogits_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	rows_job *j = arg;
	lethe_model *m = j->m;
	int V = m->cfg.vocab;
	float inv_nt = 1.0f / (float)(m->loss_count > 0 ? m->loss_count : m->n_targets);
	for (size_t k = begin; k < end; k++) {
		float w = m->row_w_on ? m->row_w[k] : inv_nt;
		float *row = m->logits + k * V, mx = row[0];
		for (int i = 1; i < V; i++)
			mx = row[i] > mx ? row[i] : mx;
		float sum = 0.0f;
		for (int i = 0; i < V; i++)
			row[i] = lethe_expf(row[i] - mx);
		for (int i = 0; i < V; i++)
			sum += row[i];
		float s = w / sum;
		for (int i = 0; i < V; i++)
			row[i] *= s;
		row[m->targets[m->target_rows[k]]] -= w;
	}
}

/* ---- loss weighting (lethe_model_set_loss_weighting) ---------------------------------------- */

void lethe_model_set_loss_weighting(lethe_model *m, lethe_loss_weighting w)
{
	m->loss_weighting = w;
}

/* EXAMPLE weighting after a training forward: each targeted row's weight into row_w, 1 / (S n_b)
 * for a row of sequence b with n_b targets, S the sequences with targets, and *mean the loss
 * (1/S) sum_b (sum of b's row losses) / n_b. Row order and sums in double, as the token mean. */
static int example_weights(lethe_model *m, float *mean)
{
	int B = m->B, T = m->T, NT = m->n_targets;
	if ((size_t)NT > m->row_w_cap) {
		float *w = realloc(m->row_w, (size_t)NT * sizeof(float));
		if (!w) {
			snprintf(m->errmsg, sizeof(m->errmsg), "out of memory");
			return LETHE_ENOMEM;
		}
		m->row_w = w;
		m->row_w_cap = (size_t)NT;
	}
	int *n = calloc((size_t)B, sizeof(int));
	double *sum = calloc((size_t)B, sizeof(double));
	if (!n || !sum) {
		free(n);
		free(sum);
		snprintf(m->errmsg, sizeof(m->errmsg), "out of memory");
		return LETHE_ENOMEM;
	}
	for (int k = 0; k < NT; k++) {
		n[m->target_rows[k] / T]++;
		sum[m->target_rows[k] / T] += m->s_lp[k];
	}
	int S = 0;
	double total = 0.0;
	for (int b = 0; b < B; b++)
		if (n[b]) {
			S++;
			total += sum[b] / n[b];
		}
	for (int k = 0; k < NT; k++)
		m->row_w[k] = (float)(1.0 / ((double)S * (double)n[m->target_rows[k] / T]));
	*mean = (float)(total / S);
	m->row_w_on = 1;
	free(n);
	free(sum);
	return 0;
}

int lethe_model_forward(lethe_model *m, const lethe_batch *batch, int train, float *loss,
                        double *nll, int *counts)
{
	return lethe_model__forward(m, batch, train, loss, nll, counts, NULL);
}

/* ---- precision --------------------------------------------------------------------------------
 */

int lethe_model_set_precision(lethe_model *m, lethe_precision p)
{
	int rc = lethe_precision_check(p, m->errmsg, sizeof(m->errmsg));
	if (rc == 0)
		m->precision = (int)p;
	return rc;
}

lethe_precision lethe_model_precision(const lethe_model *m)
{
	return (lethe_precision)m->precision;
}

static int forward_in(lethe_model *m, const lethe_batch *batch, int train, float *loss, double *nll,
                      int *counts, const kv_cache *kv);
static int backward_in(lethe_model *m, const float *dlogits_add);

/* The model's precision around its own products, the caller's restored after. */
int lethe_model__forward(lethe_model *m, const lethe_batch *batch, int train, float *loss,
                         double *nll, int *counts, const kv_cache *kv)
{
	int was = lethe_layer__set_precision(m->precision);
	int rc = forward_in(m, batch, train, loss, nll, counts, kv);
	lethe_layer__set_precision(was);
	return rc;
}

int lethe_model_backward_with(lethe_model *m, const float *dlogits_add)
{
	int was = lethe_layer__set_precision(m->precision);
	int rc = backward_in(m, dlogits_add);
	lethe_layer__set_precision(was);
	return rc;
}

static int forward_in(lethe_model *m, const lethe_batch *batch, int train, float *loss, double *nll,
                      int *counts, const kv_cache *kv)
{
	const lethe_model_config *c = &m->cfg;
	int B = batch->B, T = batch->T, C = c->dim, V = c->vocab;
	m->train_ready = 0;
	if (B < 1 || T < 1 || T > c->context) {
		snprintf(m->errmsg, sizeof(m->errmsg), "batch of %d x %d tokens: the context is %d",
		         B, T, c->context);
		return LETHE_EINVAL;
	}
	size_t BT = (size_t)B * T;
	int NT = 0;
	for (size_t i = 0; i < BT; i++) {
		int32_t tok = batch->tokens[i], tgt = batch->targets ? batch->targets[i] : -1;
		if (tok < 0 || tok >= V || tgt < -1 || tgt >= V) {
			snprintf(m->errmsg, sizeof(m->errmsg),
			         "batch position %zu: token %d or target %d outside the vocabulary "
			         "of %d",
			         i, tok, tgt, V);
			return LETHE_EINVAL;
		}
		NT += tgt >= 0;
	}
	int rc = ensure(m, B, T, NT);
	if (!rc)
		rc = lethe_model__lora_buffers(m, BT);
	if (rc)
		return rc;
	/* A training forward draws a fresh dropout mask for the adapters; backward reuses it. */
	m->lora_drop_on = m->has_lora && train && m->lora_opt.dropout > 0;
	if (m->lora_drop_on)
		m->lora_calls++;
	m->B = B;
	m->T = T;
	m->n_targets = NT;
	memcpy(m->tokens, batch->tokens, BT * sizeof(int32_t));
	for (size_t i = 0, k = 0; i < BT; i++) {
		m->targets[i] = batch->targets ? batch->targets[i] : -1;
		if (m->targets[i] >= 0)
			m->target_rows[k++] = (int32_t)i;
	}

	/* Embeddings. */
	for (size_t i = 0; i < BT; i++)
		memcpy(m->x + i * C, m->p.wte + (size_t)m->tokens[i] * C, C * sizeof(float));

	for (int l = 0; l < c->layers; l++) {
		layer_acts acts = layer_acts_of(m, l, B, T);
		lethe_layer__forward(&m->dims, &m->p.layer[l], &acts, kv, l, B, T);
	}
	lethe_layer__rmsnorm_forward(m->hf, m->rstdf, m->x + (size_t)c->layers * BT * C, m->p.nf,
	                             BT, C, c->norm_eps);

	/* Logits only where a loss is taken: rows of prompts and padding would be thrown away. */
	for (int k = 0; k < NT; k++)
		memcpy(m->hf_t + (size_t)k * C, m->hf + (size_t)m->target_rows[k] * C,
		       C * sizeof(float));
	if (NT > 0)
		lethe_layer__matmul(0, 1, NT, V, C, 1.0f, m->hf_t, C, m->p.head, C, 0.0f, m->logits,
		                    V);

	/* Each row's -log p(target) in parallel, summed in row order afterwards. */
	rows_job cj = {.m = m, .lp = m->s_lp};
	lethe_parallel_for((size_t)NT, ce_range, &cj);
	double total = 0.0;
	if (nll)
		for (int b = 0; b < B; b++) {
			nll[b] = 0.0;
			counts[b] = 0;
		}
	for (int k = 0; k < NT; k++) {
		int r = m->target_rows[k];
		total += m->s_lp[k];
		if (nll) {
			nll[r / T] += m->s_lp[k];
			counts[r / T]++;
		}
	}
	float mean = NT > 0 ? (float)(total / NT) : 0.0f;
	m->row_w_on = 0;
	if (NT > 0 && m->loss_weighting == LETHE_LOSS_WEIGHTING_EXAMPLE &&
	    (rc = example_weights(m, &mean)))
		return rc;
	if (loss)
		*loss = mean;
	if (!isfinite(mean)) {
		snprintf(m->errmsg, sizeof(m->errmsg), "the loss is not finite (%g)", (double)mean);
		return LETHE_ENUMERIC;
	}
	m->train_ready = train && NT > 0;
	return 0;
}

/* ---- backward ---------------------------------------------------------------------------------
 */

void lethe_model__set_grad_hook(lethe_model *m, lethe_grad_hook fn, void *ctx)
{
	m->grad_hook = fn;
	m->grad_hook_ctx = fn ? ctx : NULL;
}

int lethe_model__grad_stage(const lethe_model *m, const lethe_tensor_info *t)
{
	if (t->layer >= 0)
		return m->cfg.layers - t->layer;
	if (t->offset == m->tensors[m->t_wte].offset) /* also the tied head */
		return m->cfg.layers + 1;
	return 0; /* the final norm, the untied head */
}

/* grad_hook.h: stage's gradients are final. */
static void stage_done(lethe_model *m, int stage)
{
	if (m->grad_hook)
		m->grad_hook(m->grad_hook_ctx, stage);
}

int lethe_model_backward(lethe_model *m)
{
	return lethe_model_backward_with(m, NULL);
}

static int backward_in(lethe_model *m, const float *dlogits_add)
{
	if (!m->train_ready) {
		snprintf(m->errmsg, sizeof(m->errmsg),
		         "backward needs a training forward pass with targets first");
		return LETHE_EINVAL;
	}
	m->train_ready = 0;
	if (lethe_model__base_trainable(m) && lethe_model__ensure_grads(m))
		return LETHE_ENOMEM;
	const lethe_model_config *c = &m->cfg;
	int B = m->B, T = m->T, C = c->dim, V = c->vocab, NT = m->n_targets;
	(void)V;
	size_t BT = (size_t)B * T;

	rows_job dj = {.m = m};
	lethe_parallel_for((size_t)NT, dlogits_range, &dj);
	/* A second term's gradient at the same logits (LwF's distillation, docs/methods.md). */
	if (dlogits_add)
		for (size_t i = 0; i < (size_t)NT * (size_t)c->vocab; i++)
			m->logits[i] += dlogits_add[i];
	/* Head: dW += dlogits^T hf_t; dhf_t = dlogits W (into hf_t's rows, scattered below). */
	if (m->trainable[m->t_head])
		lethe_layer__matmul(1, 0, V, C, NT, 1.0f, m->logits, V, m->hf_t, C, 1.0f, m->g.head,
		                    C);
	float *dh = m->s_dh;
	lethe_layer__matmul(0, 0, NT, C, V, 1.0f, m->logits, V, m->p.head, C, 0.0f, m->hf_t, C);
	memset(dh, 0, BT * C * sizeof(float));
	for (int k = 0; k < NT; k++)
		memcpy(dh + (size_t)m->target_rows[k] * C, m->hf_t + (size_t)k * C,
		       C * sizeof(float));
	float *dx = m->s_dx;
	memset(dx, 0, BT * C * sizeof(float));
	lethe_layer__rmsnorm_backward(dx, m->trainable[m->t_nf] ? m->g.nf : NULL, dh,
	                              m->x + (size_t)c->layers * BT * C, m->p.nf, m->rstdf, BT, C);
	stage_done(m, 0);

	layer_grads gr = {m->s_dxmid, m->s_dh, m->s_dy, m->s_dqkv,
	                  m->s_da,    m->s_db, m->s_dp, m->s_lora_du};
	for (int l = c->layers - 1; l >= 0; l--) {
		layer_acts acts = layer_acts_of(m, l, B, T);
		lethe_layer__backward(&m->dims, &m->p.layer[l], &m->g.layer[l],
		                      m->trainable + 1 + (size_t)l * T_PER_LAYER, &acts, &gr, dx, B,
		                      T);
		stage_done(m, c->layers - l);
	}

	/* Embeddings, in token order so that the sums are deterministic. */
	if (m->trainable[m->t_wte])
		for (size_t i = 0; i < BT; i++) {
			float *g = m->g.wte + (size_t)m->tokens[i] * C;
			const float *d = dx + i * C;
			for (int j = 0; j < C; j++)
				g[j] += d[j];
		}
	stage_done(m, c->layers + 1);
	return 0;
}
