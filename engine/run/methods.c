/*
 * methods.c: regularisers toward earlier weights and the stage-start methods (methods.h,
 * docs/methods.md). L2: (lambda/2) sum (theta - theta*)^2 with theta* the parameters at the
 * stage's start. EWC (Kirkpatrick et al. 2017, online as Schwarz et al. 2018):
 * (lambda/2) sum F (theta - theta*)^2, F the diagonal Fisher accumulated over finished stages,
 * F = gamma F_old + F_new, theta* the parameters at the end of the last finished stage (= the
 * start of this one). F_new is the empirical Fisher: the mean over N examples of the squared
 * gradient of each example's mean target NLL (with its true target, not a label sampled from the
 * model; docs/methods.md says why). It trains nothing itself and draws no random numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "methods.h"

void lethe_methods__clear(lethe_methods *ms)
{
	lethe_model_free(ms->teacher);
	free(ms->t_logits);
	free(ms->dlogits);
	free(ms->anchor);
	free(ms->fisher);
	free(ms->fisher_acc);
	memset(ms, 0, sizeof(*ms));
}

int lethe_methods__has_penalty(const lethe_train_settings *ts)
{
	return (ts->regularize.kind == LETHE_REG_L2 || ts->regularize.kind == LETHE_REG_EWC) &&
	       ts->regularize.lambda > 0;
}

int lethe_methods__stage_begin(lethe_methods *ms, lethe_model *m, const lethe_train_settings *ts)
{
	for (int g = 0; g < LETHE_GROUP_COUNT; g++)
		lethe_model_set_trainable(m, (lethe_param_group)g, -1, !(ts->freeze & (1u << g)));
	int layers = lethe_model_config_of(m)->layers;
	for (int l = 0; l < layers && l < 256; l++)
		if (ts->freeze_layers[l / 64] & (1ull << (l % 64)))
			for (int g = 0; g < LETHE_GROUP_COUNT; g++)
				lethe_model_set_trainable(m, (lethe_param_group)g, l, 0);
	size_t n = lethe_model_num_params(m);
	if (ts->reset_optimizer && lethe_model_steps_taken(m) > 0) {
		/* The moments exist once a step was taken: zeroed as a fresh optimizer has them. */
		float *mo = lethe_model_adam_m(m), *ve = lethe_model_adam_v(m);
		if (!mo || !ve)
			return LETHE_ENOMEM;
		memset(mo, 0, n * sizeof(float));
		memset(ve, 0, n * sizeof(float));
		lethe_model_set_steps_taken(m, 0);
	}
	if (lethe_methods__has_lwf(ts)) {
		/* The teacher: a model of the same shape holding the stage's starting parameters.
		 */
		if (!ms->teacher) {
			int rc = lethe_model_new(&ms->teacher, lethe_model_config_of(m), 0);
			if (rc)
				return rc;
			if (lethe_model_num_params(ms->teacher) != n)
				return LETHE_EINVAL;
		}
		memcpy(lethe_model_params(ms->teacher), lethe_model_params(m), n * sizeof(float));
	}
	if (!lethe_methods__has_penalty(ts))
		return 0;
	if (!ms->anchor && !(ms->anchor = malloc(n * sizeof(float))))
		return LETHE_ENOMEM;
	ms->n = n;
	memcpy(ms->anchor, lethe_model_params(m), n * sizeof(float));
	return 0;
}

double lethe_methods__penalty(const lethe_methods *ms, lethe_model *m,
                              const lethe_train_settings *ts, float grad_scale)
{
	const lethe_regularizer *rg = &ts->regularize;
	if (!lethe_methods__has_penalty(ts) || !ms->anchor)
		return 0.0;
	/* EWC before any finished stage has no Fisher: no penalty. */
	if (rg->kind == LETHE_REG_EWC && !ms->fisher)
		return 0.0;
	const float *p = lethe_model_params(m);
	float *g = lethe_model_grads(m);
	double sum = 0.0;
	float lam = (float)rg->lambda;
	for (size_t t = 0; t < lethe_model_num_tensors(m); t++) {
		if (!lethe_model_tensor_trainable(m, t))
			continue;
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		for (size_t i = ti->offset; i < ti->offset + ti->size; i++) {
			float d = p[i] - ms->anchor[i];
			float f = rg->kind == LETHE_REG_EWC ? ms->fisher[i] : 1.0f;
			sum += (double)f * d * d;
			if (grad_scale > 0)
				g[i] += grad_scale * lam * f * d;
		}
	}
	return 0.5 * rg->lambda * sum;
}

int lethe_methods__has_olora(const lethe_train_settings *ts)
{
	return ts->adapter_rank && ts->adapter_per_stage && ts->adapter_orthogonal > 0;
}

double lethe_methods__olora_penalty(lethe_model *m, const lethe_train_settings *ts,
                                    float grad_scale)
{
	if (!lethe_methods__has_olora(ts))
		return 0.0;
	return lethe_model_lora_orthogonal(m, (float)ts->adapter_orthogonal, grad_scale);
}

int lethe_methods__has_lwf(const lethe_train_settings *ts)
{
	return ts->regularize.kind == LETHE_REG_LWF && ts->regularize.lambda > 0;
}

int lethe_methods__lwf_teacher(lethe_methods *ms, const lethe_batch *batch)
{
	int rc = lethe_model_forward(ms->teacher, batch, 0, NULL, NULL, NULL);
	if (rc)
		return rc;
	size_t NT = 0, V = (size_t)lethe_model_config_of(ms->teacher)->vocab;
	for (size_t i = 0; i < (size_t)batch->B * (size_t)batch->T; i++)
		NT += batch->targets[i] >= 0;
	if (NT * V > ms->logits_cap) {
		float *a = realloc(ms->t_logits, NT * V * sizeof(float));
		if (a)
			ms->t_logits = a;
		float *b = a ? realloc(ms->dlogits, NT * V * sizeof(float)) : NULL;
		if (!b)
			return LETHE_ENOMEM;
		ms->dlogits = b;
		ms->logits_cap = NT * V;
	}
	memcpy(ms->t_logits, lethe_model_logits(ms->teacher), NT * V * sizeof(float));
	ms->t_rows = (int)NT;
	return 0;
}

/* softmax(x / T) of one row into p (double), returning log of its normaliser's terms via lp. */
static void softmax_t(const float *x, size_t V, double T, double *p, double *lp)
{
	double mx = x[0];
	for (size_t i = 1; i < V; i++)
		mx = x[i] > mx ? x[i] : mx;
	double sum = 0.0;
	for (size_t i = 0; i < V; i++)
		sum += exp(((double)x[i] - mx) / T);
	double lsum = log(sum);
	for (size_t i = 0; i < V; i++) {
		lp[i] = ((double)x[i] - mx) / T - lsum;
		p[i] = exp(lp[i]);
	}
}

int lethe_methods__lwf_penalty(lethe_methods *ms, const lethe_model *m,
                               const lethe_train_settings *ts, double *value)
{
	size_t NT = (size_t)ms->t_rows, V = (size_t)lethe_model_config_of(m)->vocab;
	double T = ts->regularize.temperature, lam = ts->regularize.lambda;
	const float *z = lethe_model_logits(m);
	*value = 0.0;
	if (NT == 0)
		return 0;
	double *buf = malloc(4 * V * sizeof(double));
	if (!buf)
		return LETHE_ENOMEM;
	double *p = buf, *lp = buf + V, *q = buf + 2 * V, *lq = buf + 3 * V;
	double total = 0.0;
	/* d/dz [lam T^2 KL(p || q) / NT] = lam T (q - p) / NT, q = softmax(z / T). */
	double g = lam * T / (double)NT;
	for (size_t k = 0; k < NT; k++) {
		softmax_t(ms->t_logits + k * V, V, T, p, lp);
		softmax_t(z + k * V, V, T, q, lq);
		double kl = 0.0;
		for (size_t i = 0; i < V; i++) {
			kl += p[i] * (lp[i] - lq[i]);
			ms->dlogits[k * V + i] = (float)(g * (q[i] - p[i]));
		}
		total += kl;
	}
	free(buf);
	*value = lam * T * T * total / (double)NT;
	return 0;
}

int lethe_methods__fisher_begin(lethe_methods *ms, lethe_model *m)
{
	size_t n = lethe_model_num_params(m);
	ms->n = n;
	if (!ms->fisher_acc && !(ms->fisher_acc = malloc(n * sizeof(double))))
		return LETHE_ENOMEM;
	memset(ms->fisher_acc, 0, n * sizeof(double));
	ms->fisher_n = 0;
	for (int g = 0; g < LETHE_GROUP_COUNT; g++)
		lethe_model_set_trainable(m, (lethe_param_group)g, -1, 1);
	return 0;
}

int lethe_methods__fisher_add(lethe_methods *ms, lethe_model *m, const lethe_batch *one)
{
	float loss;
	lethe_model_zero_grad(m);
	int rc = lethe_model_forward(m, one, 1, &loss, NULL, NULL);
	if (rc == 0)
		rc = lethe_model_backward(m);
	if (rc)
		return rc;
	const float *g = lethe_model_grads(m);
	for (size_t i = 0; i < ms->n; i++)
		ms->fisher_acc[i] += (double)g[i] * g[i];
	ms->fisher_n++;
	return 0;
}

void lethe_methods__fisher_end(lethe_methods *ms, double gamma)
{
	int first = !ms->fisher;
	if (first && !(ms->fisher = calloc(ms->n ? ms->n : 1, sizeof(float))))
		return; /* the caller checks ms->fisher */
	double inv = ms->fisher_n ? 1.0 / (double)ms->fisher_n : 0.0;
	for (size_t i = 0; i < ms->n; i++)
		ms->fisher[i] =
		    (float)((first ? 0.0 : gamma * ms->fisher[i]) + ms->fisher_acc[i] * inv);
}

void lethe_methods__summary(const lethe_train_settings *ts, char *buf, size_t size)
{
	static const char *const kinds[] = {"none", "l2", "ewc", "lwf"};
	size_t k = 0;
	buf[0] = '\0';
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (k < size) {                                                                    \
			int w_ = snprintf(buf + k, size - k, __VA_ARGS__);                         \
			k += w_ > 0 ? (size_t)w_ : 0;                                              \
		}                                                                                  \
	} while (0)
	if (ts->reset_optimizer)
		ADD("reset_optimizer");
	int first = 1;
	for (int l = 0; l < 256; l++) {
		if (!(ts->freeze_layers[l / 64] & (1ull << (l % 64))))
			continue;
		int e = l;
		while (e + 1 < 256 && (ts->freeze_layers[(e + 1) / 64] & (1ull << ((e + 1) % 64))))
			e++;
		if (first)
			ADD("%sfreeze layers ", k ? "; " : "");
		if (e > l)
			ADD("%s%d-%d", first ? "" : ",", l, e);
		else
			ADD("%s%d", first ? "" : ",", l);
		first = 0;
		l = e;
	}
	const lethe_regularizer *r = &ts->regularize;
	if (r->kind == LETHE_REG_L2)
		ADD("%sl2 lambda=%g", k ? "; " : "", r->lambda);
	else if (r->kind == LETHE_REG_EWC)
		ADD("%sewc lambda=%g fisher_examples=%ld online_gamma=%g", k ? "; " : "", r->lambda,
		    r->fisher_examples, r->online_gamma);
	else if (r->kind == LETHE_REG_LWF)
		ADD("%slwf lambda=%g temperature=%g", k ? "; " : "", r->lambda, r->temperature);
	(void)kinds;
	if (ts->replay.per_task > 0)
		ADD("%sreplay per_task=%ld ratio=%g", k ? "; " : "", ts->replay.per_task,
		    ts->replay.ratio);
	if (lethe_methods__has_olora(ts))
		ADD("%so-lora lambda=%g", k ? "; " : "", ts->adapter_orthogonal);
#undef ADD
}
