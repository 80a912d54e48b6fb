/*
 * optim.c: AdamW over the parameter block, as torch.optim.AdamW computes it (decoupled weight
 * decay p -= lr * wd * p first, then bias-corrected moments), global-norm gradient clipping as
 * torch.nn.utils.clip_grad_norm_ does it, and the learning-rate schedules.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "model_internal.h"

uint64_t lethe_model_steps_taken(const lethe_model *m)
{
	return m->steps;
}
void lethe_model_set_steps_taken(lethe_model *m, uint64_t steps)
{
	m->steps = steps;
}

static int ensure_moments(lethe_model *m)
{
	if (m->adam_m)
		return 0;
	m->adam_m = calloc(m->n_params, sizeof(float));
	m->adam_v = calloc(m->n_params, sizeof(float));
	if (m->adam_m && m->adam_v)
		return 0;
	free(m->adam_m);
	free(m->adam_v);
	m->adam_m = m->adam_v = NULL;
	snprintf(m->errmsg, sizeof(m->errmsg), "out of memory for the optimizer state");
	return LETHE_ENOMEM;
}

int lethe_model_has_moments(const lethe_model *m)
{
	return m->adam_m != NULL;
}

float *lethe_model_adam_m(lethe_model *m)
{
	return ensure_moments(m) ? NULL : m->adam_m;
}
float *lethe_model_adam_v(lethe_model *m)
{
	return ensure_moments(m) ? NULL : m->adam_v;
}

/* AdamW on one tensor: p, g, mm, vv of n floats. */
LETHE_CLONES static void adamw_tensor(float *p, const float *g, float *mm, float *vv, size_t n,
                                      float keep, float scale, float b1, float b2, float step_size,
                                      float bc2_sqrt, float eps)
{
	for (size_t i = 0; i < n; i++) {
		float gi = g[i] * scale;
		p[i] *= keep;
		mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
		vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
		float denom = sqrtf(vv[i]) / bc2_sqrt + eps;
		p[i] -= step_size * (mm[i] / denom);
	}
}

int lethe_model_step(lethe_model *m, const lethe_adamw *opt, float lr, float clip, float grad_scale,
                     float *grad_norm)
{
	/* The base's gradients and moments only when some base tensor trains: with an adapter on a
	 * frozen base, the optimizer state is the adapter's alone. */
	int base = lethe_model__base_trainable(m), rc = 0;
	if (base && ((rc = lethe_model__ensure_grads(m)) || (rc = ensure_moments(m))))
		return rc;
	if (m->has_lora && (rc = lethe_model__lora_moments(m)))
		return rc;
	/* The global norm over trainable tensors, then the adapter's, in double: its order of
	 * summation is fixed. */
	double ss = 0.0;
	for (size_t t = 0; base && t < m->n_tensors; t++) {
		if (!m->trainable[t])
			continue;
		const float *g = m->grads + m->tensors[t].offset;
		for (size_t i = 0; i < m->tensors[t].size; i++)
			ss += (double)g[i] * g[i];
	}
	for (size_t i = 0; i < m->n_lora; i++)
		ss += (double)m->lora_g[i] * m->lora_g[i];
	double norm = sqrt(ss) * grad_scale;
	if (grad_norm)
		*grad_norm = (float)norm;
	if (!isfinite(norm)) {
		snprintf(m->errmsg, sizeof(m->errmsg),
		         "the gradient norm is not finite (%g): the step was skipped", norm);
		return LETHE_ENUMERIC;
	}
	float scale = grad_scale;
	if (clip > 0 && norm > clip)
		scale *= (float)(clip / (norm + 1e-6));
	m->steps++;
	float b1 = opt->beta1, b2 = opt->beta2;
	/* As torch: the corrections in double, applied as float scalars. */
	double bc1 = 1.0 - pow(b1, (double)m->steps), bc2 = 1.0 - pow(b2, (double)m->steps);
	float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
	for (size_t t = 0; base && t < m->n_tensors; t++) {
		const lethe_tensor_info *ti = &m->tensors[t];
		if (!m->trainable[t])
			continue;
		int decay =
		    ti->cols > 1 && (ti->group != LETHE_GROUP_EMBEDDINGS || opt->decay_embeddings);
		float keep = decay ? (float)(1.0 - (double)lr * opt->weight_decay) : 1.0f;
		size_t o = ti->offset;
		adamw_tensor(m->params + o, m->grads + o, m->adam_m + o, m->adam_v + o, ti->size,
		             keep, scale, b1, b2, step_size, bc2_sqrt, opt->eps);
	}
	/* The adapter's matrices are decayed like the base's (PEFT under transformers' Trainer
	 * decays every weight that is not a bias or a norm); its bias correction counts its own
	 * steps, as a fresh optimizer over a fresh adapter would. */
	if (m->n_lora) {
		m->lora_steps++;
		double lc1 = 1.0 - pow(b1, (double)m->lora_steps),
		       lc2 = 1.0 - pow(b2, (double)m->lora_steps);
		float keep = (float)(1.0 - (double)lr * opt->weight_decay);
		adamw_tensor(m->lora_p, m->lora_g, m->lora_m, m->lora_v, m->n_lora, keep, scale, b1,
		             b2, (float)(lr / lc1), (float)sqrt(lc2), opt->eps);
	}
	return 0;
}

float lethe_schedule_lr(lethe_schedule s, float lr, uint64_t step, uint64_t warmup, uint64_t total)
{
	if (step < warmup)
		return lr * (float)(step + 1) / (float)warmup;
	if (s == LETHE_SCHEDULE_CONSTANT || total <= warmup)
		return lr;
	double progress = (double)(step - warmup) / (double)(total - warmup);
	if (progress > 1.0)
		progress = 1.0;
	if (s == LETHE_SCHEDULE_LINEAR)
		return (float)(lr * (1.0 - progress));
	return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}
