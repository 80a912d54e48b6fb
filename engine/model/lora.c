/*
 * lora.c: LoRA adapters on the model (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large
 * Language Models"; the parametrisation and initialisation of Hugging Face PEFT's LoraLayer):
 * attaching, merging and detaching one adapter, its parameter block and the buffers its layers
 * need; per-stage adapters (earlier ones frozen, their deltas added to the parameters in order
 * over a saved copy of the base) and O-LoRA's penalty on the overlap between the attached
 * adapter's A and the frozen ones'. The arithmetic is layer.c's (lora_forward / lora_backward),
 * AdamW's is optim.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "model_internal.h"

static const char *const target_names[LORA_TARGETS] = {"q", "k", "v", "o", "gate", "up", "down"};

/* Target t's input and output widths. */
static void target_dims(const lethe_model *m, int t, int *in, int *out)
{
	int C = m->cfg.dim, FF = m->cfg.ff, HQ = m->cfg.heads * m->HS,
	    KVC = m->cfg.kv_heads * m->HS;
	switch (t) {
	case LORA_Q: *in = C, *out = HQ; break;
	case LORA_K:
	case LORA_V: *in = C, *out = KVC; break;
	case LORA_O: *in = HQ, *out = C; break;
	case LORA_GATE:
	case LORA_UP: *in = C, *out = FF; break;
	default: /* LORA_DOWN */ *in = FF, *out = C; break;
	}
}

/* Target t's rows in its base tensor of layer l, and that tensor's row length. */
static float *target_base(lethe_model *m, int l, int t, int *ld)
{
	layer_view *w = &m->p.layer[l];
	int C = m->cfg.dim, FF = m->cfg.ff, HQ = m->cfg.heads * m->HS,
	    KVC = m->cfg.kv_heads * m->HS;
	switch (t) {
	case LORA_Q: return *ld = C, w->wqkv;
	case LORA_K: return *ld = C, w->wqkv + (size_t)HQ * C;
	case LORA_V: return *ld = C, w->wqkv + (size_t)(HQ + KVC) * C;
	case LORA_O: return *ld = HQ, w->wo;
	case LORA_GATE: return *ld = C, w->w1;
	case LORA_UP: return *ld = C, w->w3;
	default: return *ld = FF, w->w2;
	}
}

/* Points every layer's adapter views into block (params or gradients). */
static void lora_views(lethe_model *m, float *block, model_view *v)
{
	size_t k = 0;
	for (int l = 0; l < m->cfg.layers; l++) {
		layer_lora *ll = &v->layer[l].lora;
		for (int t = 0; t < LORA_TARGETS; t++) {
			ll->A[t] = ll->B[t] = NULL;
			if (!(m->lora_opt.targets & (1u << t)))
				continue;
			ll->A[t] = block + m->lora_tensors[k++].offset;
			ll->B[t] = block + m->lora_tensors[k++].offset;
		}
	}
}

int lethe_model_lora_attach(lethe_model *m, const lethe_lora_options *opt, uint64_t seed)
{
	if (m->has_lora) {
		snprintf(m->errmsg, sizeof(m->errmsg), "the model already has an adapter");
		return LETHE_EINVAL;
	}
	if (opt->rank < 1 || opt->rank > 4096 || !(opt->alpha > 0) || !(opt->dropout >= 0) ||
	    !(opt->dropout < 1) || !(opt->targets & LETHE_LORA_ALL) ||
	    (opt->targets & ~(unsigned)LETHE_LORA_ALL)) {
		snprintf(m->errmsg, sizeof(m->errmsg),
		         "LoRA needs rank 1 to 4096, alpha > 0, 0 <= dropout < 1 and at least one "
		         "target (rank %d, alpha %g, dropout %g, targets 0x%x)",
		         opt->rank, (double)opt->alpha, (double)opt->dropout, opt->targets);
		return LETHE_EINVAL;
	}
	int L = m->cfg.layers, r = opt->rank;
	size_t max_tensors = (size_t)L * LORA_TARGETS * 2;
	m->lora_opt = *opt;
	m->lora_tensors = calloc(max_tensors, sizeof(*m->lora_tensors));
	m->lora_names = malloc(max_tensors * 32);
	m->lora_saved_trainable = malloc(m->n_tensors);
	if (!m->lora_tensors || !m->lora_names || !m->lora_saved_trainable)
		goto nomem;
	size_t offset = 0;
	char *names = m->lora_names;
	for (int l = 0; l < L; l++)
		for (int t = 0; t < LORA_TARGETS; t++) {
			if (!(opt->targets & (1u << t)))
				continue;
			int in, out;
			target_dims(m, t, &in, &out);
			lethe_param_group g = t <= LORA_O ? LETHE_GROUP_ATTENTION : LETHE_GROUP_MLP;
			for (int ab = 0; ab < 2; ab++) {
				lethe_tensor_info *ti = &m->lora_tensors[m->n_lora_tensors++];
				int len = snprintf(names, 32, "layers.%d.%s.lora_%c", l,
				                   target_names[t], ab ? 'B' : 'A');
				*ti = (lethe_tensor_info){names,       offset, 0, ab ? out : r,
				                          ab ? r : in, g,      l};
				ti->size = (size_t)ti->rows * ti->cols;
				offset += ti->size;
				names += len + 1;
			}
		}
	m->n_lora = offset;
	m->lora_p = malloc(offset * sizeof(float));
	m->lora_g = calloc(offset, sizeof(float));
	if (!m->lora_p || !m->lora_g)
		goto nomem;
	/* PEFT: kaiming_uniform_(A, a=sqrt(5)) has bound gain * sqrt(3 / fan_in) with
	 * gain = sqrt(2 / (1 + a^2)), i.e. 1 / sqrt(in); B zero. */
	model_rng rng;
	lethe_model__rng_seed(&rng, seed);
	for (size_t i = 0; i < m->n_lora_tensors; i++) {
		lethe_tensor_info *ti = &m->lora_tensors[i];
		float *p = m->lora_p + ti->offset;
		int is_b = (i % 2) == 1;
		double bound = 1.0 / sqrt((double)ti->cols);
		for (size_t k = 0; k < ti->size; k++)
			p[k] = is_b ? 0.0f
			            : (float)((2.0 * lethe_model__rng_uniform(&rng) - 1.0) * bound);
	}
	m->has_lora = 1;
	m->lora_seed = seed;
	m->lora_calls = m->lora_steps = 0;
	lora_views(m, m->lora_p, &m->p);
	lora_views(m, m->lora_g, &m->g);
	m->dims.lora_rank = r;
	m->dims.lora_scale = opt->alpha / (float)r;
	m->dims.lora_dropout = opt->dropout;
	memcpy(m->lora_saved_trainable, m->trainable, m->n_tensors);
	memset(m->trainable, 0, m->n_tensors);
	return 0;
nomem:
	lethe_model__lora_free(m);
	snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for the adapter");
	return LETHE_ENOMEM;
}

/* W (out, in) += scale B (out, r) A (r, in) for every adapted projection. */
static void add_delta(lethe_model *m)
{
	int r = m->lora_opt.rank;
	for (int l = 0; l < m->cfg.layers; l++) {
		const layer_lora *ll = &m->p.layer[l].lora;
		for (int t = 0; t < LORA_TARGETS; t++) {
			if (!ll->A[t])
				continue;
			int in, out, ld;
			target_dims(m, t, &in, &out);
			float *w = target_base(m, l, t, &ld);
			lethe_layer__matmul(0, 0, out, in, r, m->dims.lora_scale, ll->B[t], r,
			                    ll->A[t], in, 1.0f, w, ld);
		}
	}
}

int lethe_model_lora_merge(lethe_model *m)
{
	if (!m->has_lora) {
		snprintf(m->errmsg, sizeof(m->errmsg), "the model has no adapter to merge");
		return LETHE_EINVAL;
	}
	add_delta(m);
	lethe_model_lora_detach(m);
	lethe_model__lora_frozen_free(m);
	return 0;
}

/* ---- per-stage adapters ---- */

int lethe_model_lora_freeze(lethe_model *m, int64_t tag)
{
	if (!m->has_lora) {
		snprintf(m->errmsg, sizeof(m->errmsg), "the model has no adapter to freeze");
		return LETHE_EINVAL;
	}
	struct lora_frozen *fr =
	    realloc(m->lora_frozen, (m->n_lora_frozen + 1) * sizeof(*m->lora_frozen));
	if (!fr)
		goto nomem;
	m->lora_frozen = fr;
	float *p = malloc(m->n_lora * sizeof(float));
	if (!p)
		goto nomem;
	if (!m->lora_base) {
		if (!(m->lora_base = malloc(m->n_params * sizeof(float)))) {
			free(p);
			goto nomem;
		}
		memcpy(m->lora_base, m->params, m->n_params * sizeof(float));
	}
	memcpy(p, m->lora_p, m->n_lora * sizeof(float));
	fr[m->n_lora_frozen++] = (struct lora_frozen){m->lora_opt, p, m->n_lora, tag};
	add_delta(m);
	lethe_model_lora_detach(m);
	return 0;
nomem:
	snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for a frozen adapter");
	return LETHE_ENOMEM;
}

void lethe_model__lora_frozen_free(lethe_model *m)
{
	for (size_t i = 0; i < m->n_lora_frozen; i++)
		free(m->lora_frozen[i].p);
	free(m->lora_frozen);
	free(m->lora_base);
	m->lora_frozen = NULL;
	m->lora_base = NULL;
	m->n_lora_frozen = 0;
}

size_t lethe_model_lora_num_frozen(const lethe_model *m)
{
	return m->n_lora_frozen;
}

const float *lethe_model_lora_frozen(const lethe_model *m, size_t i, lethe_lora_options *opt,
                                     int64_t *tag, size_t *n)
{
	if (i >= m->n_lora_frozen)
		return NULL;
	const struct lora_frozen *f = &m->lora_frozen[i];
	if (opt)
		*opt = f->opt;
	if (tag)
		*tag = f->tag;
	if (n)
		*n = f->n;
	return f->p;
}

const float *lethe_model_lora_base(const lethe_model *m)
{
	return m->lora_base ? m->lora_base : m->params;
}

double lethe_model_lora_orthogonal(lethe_model *m, float lambda, float grad_scale)
{
	if (!m->has_lora)
		return 0.0;
	int r = m->lora_opt.rank;
	double sum = 0.0;
	double *o = malloc((size_t)r * r * sizeof(double));
	if (!o)
		return NAN;
	for (size_t f = 0; f < m->n_lora_frozen; f++) {
		const struct lora_frozen *fr = &m->lora_frozen[f];
		if (fr->opt.rank != r || fr->opt.targets != m->lora_opt.targets ||
		    fr->n != m->n_lora)
			continue;
		/* The A tensors are the even ones; a frozen adapter with the same options has
		 * the same layout. */
		for (size_t k = 0; k < m->n_lora_tensors; k += 2) {
			const lethe_tensor_info *ti = &m->lora_tensors[k];
			int in = ti->cols;
			const float *ai = fr->p + ti->offset, *a = m->lora_p + ti->offset;
			float *ga = m->lora_g + ti->offset;
			/* O (r, r) = A_i (r, in) A^T (in, r) */
			for (int j = 0; j < r; j++)
				for (int q = 0; q < r; q++) {
					double d = 0.0;
					for (int c = 0; c < in; c++)
						d += (double)ai[(size_t)j * in + c] *
						     a[(size_t)q * in + c];
					o[(size_t)j * r + q] = d;
					sum += fabs(d);
				}
			if (!(grad_scale > 0))
				continue;
			/* dA (r, in) += grad_scale lambda sign(O)^T A_i */
			for (int q = 0; q < r; q++)
				for (int j = 0; j < r; j++) {
					double dj = o[(size_t)j * r + q];
					float sg = dj > 0 ? 1.0f : dj < 0 ? -1.0f : 0.0f;
					if (sg == 0.0f)
						continue;
					float s = grad_scale * lambda * sg;
					for (int c = 0; c < in; c++)
						ga[(size_t)q * in + c] +=
						    s * ai[(size_t)j * in + c];
				}
		}
	}
	free(o);
	return (double)lambda * sum;
}

void lethe_model__lora_free(lethe_model *m)
{
	free(m->lora_p);
	free(m->lora_g);
	free(m->lora_m);
	free(m->lora_v);
	free(m->lora_tensors);
	free(m->lora_names);
	free(m->lora_saved_trainable);
	free(m->s_lora_u);
	free(m->s_lora_x);
	free(m->s_lora_du);
	m->lora_p = m->lora_g = m->lora_m = m->lora_v = NULL;
	m->s_lora_u = m->s_lora_x = m->s_lora_du = NULL;
	m->lora_tensors = NULL;
	m->lora_names = NULL;
	m->lora_saved_trainable = NULL;
	m->n_lora = m->n_lora_tensors = m->lora_cap_bt = 0;
	m->has_lora = m->lora_drop_on = 0;
	if (m->p.layer)
		for (int l = 0; l < m->cfg.layers; l++) {
			memset(&m->p.layer[l].lora, 0, sizeof(layer_lora));
			memset(&m->g.layer[l].lora, 0, sizeof(layer_lora));
		}
}

void lethe_model_lora_detach(lethe_model *m)
{
	if (!m->has_lora)
		return;
	memcpy(m->trainable, m->lora_saved_trainable, m->n_tensors);
	lethe_model__lora_free(m);
	m->dims.lora_rank = 0;
	m->dims.lora_scale = m->dims.lora_dropout = 0.0f;
}

int lethe_model__lora_buffers(lethe_model *m, size_t BT)
{
	if (!m->has_lora || BT <= m->lora_cap_bt)
		return 0;
	size_t r = (size_t)m->lora_opt.rank, L = (size_t)m->cfg.layers;
	size_t in = (size_t)m->cfg.dim, HQ = (size_t)m->cfg.heads * m->HS, FF = (size_t)m->cfg.ff;
	in = HQ > in ? HQ : in;
	in = FF > in ? FF : in;
	free(m->s_lora_u);
	free(m->s_lora_x);
	free(m->s_lora_du);
	m->s_lora_u = malloc(L * LORA_TARGETS * BT * r * sizeof(float));
	m->s_lora_x = malloc(BT * in * sizeof(float));
	m->s_lora_du = malloc(BT * r * sizeof(float));
	if (!m->s_lora_u || !m->s_lora_x || !m->s_lora_du) {
		free(m->s_lora_u);
		free(m->s_lora_x);
		free(m->s_lora_du);
		m->s_lora_u = m->s_lora_x = m->s_lora_du = NULL;
		m->lora_cap_bt = 0;
		snprintf(m->errmsg, sizeof(m->errmsg),
		         "out of memory for the adapter's activations (%zu rows)", BT);
		return LETHE_ENOMEM;
	}
	m->lora_cap_bt = BT;
	return 0;
}

int lethe_model__lora_moments(lethe_model *m)
{
	if (!m->has_lora || m->lora_m)
		return 0;
	m->lora_m = calloc(m->n_lora, sizeof(float));
	m->lora_v = calloc(m->n_lora, sizeof(float));
	if (m->lora_m && m->lora_v)
		return 0;
	free(m->lora_m);
	free(m->lora_v);
	m->lora_m = m->lora_v = NULL;
	snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for the adapter's optimizer state");
	return LETHE_ENOMEM;
}

uint64_t lethe_model__lora_key(const lethe_model *m, int l)
{
	if (!m->lora_drop_on)
		return 0;
	uint64_t z = m->lora_seed ^ (m->lora_calls * 0x9E3779B97F4A7C15ull) ^
	             ((uint64_t)(l + 1) * 0xD1B54A32D192ED03ull);
	z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
	z ^= z >> 32;
	return z | 1; /* never 0, which means "no dropout" */
}

const lethe_lora_options *lethe_model_lora(const lethe_model *m)
{
	return m->has_lora ? &m->lora_opt : NULL;
}
size_t lethe_model_lora_num_params(const lethe_model *m)
{
	return m->n_lora;
}
float *lethe_model_lora_params(lethe_model *m)
{
	return m->lora_p;
}
float *lethe_model_lora_grads(lethe_model *m)
{
	return m->lora_g;
}
float *lethe_model_lora_adam_m(lethe_model *m)
{
	return lethe_model__lora_moments(m) ? NULL : m->lora_m;
}
float *lethe_model_lora_adam_v(lethe_model *m)
{
	return lethe_model__lora_moments(m) ? NULL : m->lora_v;
}
size_t lethe_model_lora_num_tensors(const lethe_model *m)
{
	return m->n_lora_tensors;
}
const lethe_tensor_info *lethe_model_lora_tensor(const lethe_model *m, size_t i)
{
	return i < m->n_lora_tensors ? &m->lora_tensors[i] : NULL;
}
uint64_t lethe_model_lora_seed(const lethe_model *m)
{
	return m->lora_seed;
}
uint64_t lethe_model_lora_calls(const lethe_model *m)
{
	return m->lora_calls;
}
void lethe_model_lora_set_calls(lethe_model *m, uint64_t calls)
{
	m->lora_calls = calls;
}
uint64_t lethe_model_lora_steps_taken(const lethe_model *m)
{
	return m->lora_steps;
}
void lethe_model_lora_set_steps_taken(lethe_model *m, uint64_t steps)
{
	m->lora_steps = steps;
}
