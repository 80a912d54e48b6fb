/*
 * generate.c: greedy decoding with a KV cache. Prompts are prefilled in one batched forward pass
 * (right-padded; the causal mask keeps padding out of every prompt position) that writes every
 * layer's keys and values into the cache; then every step feeds the last token of each unfinished
 * sequence through the same layer (layer.c) as one batch, attending over its cached positions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "model_internal.h"
#include "parallel.h"

#define GROUP 16 /* sequences decoded together; bounds the prefill's attention memory */

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

typedef struct group_state {
	int n, T;     /* sequences, cache length (context) */
	float *k, *v; /* (L, n, T, NKV*HS): the KV cache */
	int *len;     /* tokens in the cache per sequence */
	int *last;    /* the token to feed next */
	int *done;
	int *past; /* (n) per active row: its sequence's cached positions */
	float *x, *h, *qkv, *y, *a, *b, *g, *logits, *scores; /* step buffers */
	float *lora_u; /* (LORA_TARGETS, n, r) with an adapter; decoding has no dropout */
} group_state;

static void group_free(group_state *g)
{
	float *bufs[] = {g->k, g->v, g->x, g->h,      g->qkv,   g->y,
	                 g->a, g->b, g->g, g->logits, g->scores};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		free(bufs[i]);
	free(g->lora_u);
	free(g->len);
	free(g->last);
	free(g->done);
	free(g->past);
}

static int emit(int32_t **out, int *out_len, int *cap, int token)
{
	if (*out_len == *cap) {
		int c = *cap ? 2 * *cap : 32;
		int32_t *p = realloc(*out, (size_t)c * sizeof(*p));
		if (!p)
			return LETHE_ENOMEM;
		*out = p;
		*cap = c;
	}
	(*out)[(*out_len)++] = token;
	return 0;
}

/* One decoding step for every unfinished sequence of the group: the layer with the cache, one
 * position per active sequence. */
static void step(lethe_model *m, group_state *g, const int *active, int A)
{
	const lethe_model_config *c = &m->cfg;
	int C = c->dim, V = c->vocab;
	for (int r = 0; r < A; r++) {
		memcpy(g->x + (size_t)r * C, m->p.wte + (size_t)g->last[active[r]] * C,
		       C * sizeof(float));
		g->past[r] = g->len[active[r]];
	}
	kv_cache kv = {g->k, g->v, g->n, g->T, g->past, active};
	layer_acts acts = {.x = g->x,
	                   .xmid = g->x,
	                   .xout = g->x,
	                   .qkv = g->qkv,
	                   .y = g->y,
	                   .a = g->a,
	                   .b = g->b,
	                   .h = g->h,
	                   .g = g->g,
	                   .scores = g->scores,
	                   .lora_u = g->lora_u};
	for (int l = 0; l < c->layers; l++)
		lethe_layer__forward(&m->dims, &m->p.layer[l], &acts, &kv, l, A, 1);
	lethe_layer__rmsnorm_forward(g->h, NULL, g->x, m->p.nf, (size_t)A, C, c->norm_eps);
	lethe_layer__weight_matmul(1, A, V, C, g->h, m->p.head, 0.0f, g->logits, V);
	for (int r = 0; r < A; r++) {
		int s = active[r];
		g->len[s]++;
		g->last[s] = argmax(g->logits + (size_t)r * V, V);
	}
}

static int generate_group(lethe_model *m, const int32_t *const *prompts, const int *lens, int n,
                          int max_new, int stop, int32_t **out, int *out_lens)
{
	const lethe_model_config *c = &m->cfg;
	int C = c->dim, T = c->context, L = c->layers, V = c->vocab, maxp = 0;
	for (int i = 0; i < n; i++)
		maxp = lens[i] > maxp ? lens[i] : maxp;
	group_state g = {.n = n, .T = T};
	int32_t *tokens = calloc((size_t)n * maxp, sizeof(*tokens)),
	        *targets = malloc((size_t)n * maxp * sizeof(*targets));
	int *caps = calloc((size_t)n, sizeof(*caps)), *active = malloc((size_t)n * sizeof(*active));
	size_t KVC = (size_t)m->dims.NKV * m->dims.HS; /* a position's keys (or values) */
	g.k = malloc((size_t)L * n * T * KVC * sizeof(float));
	g.v = malloc((size_t)L * n * T * KVC * sizeof(float));
	g.len = calloc((size_t)n, sizeof(int));
	g.last = calloc((size_t)n, sizeof(int));
	g.done = calloc((size_t)n, sizeof(int));
	g.past = calloc((size_t)n, sizeof(int));
	g.x = malloc((size_t)n * C * sizeof(float));
	g.h = malloc((size_t)n * C * sizeof(float));
	g.qkv = malloc((size_t)n * lethe_layer__qkv_width(&m->dims) * sizeof(float));
	g.y = malloc((size_t)n * m->dims.NH * m->dims.HS * sizeof(float));
	g.a = malloc((size_t)n * c->ff * sizeof(float));
	g.b = malloc((size_t)n * c->ff * sizeof(float));
	g.g = malloc((size_t)n * c->ff * sizeof(float));
	g.logits = malloc((size_t)n * V * sizeof(float));
	g.scores = malloc((size_t)lethe_threads() * T * sizeof(float));
	if (m->has_lora)
		g.lora_u = malloc((size_t)LORA_TARGETS * n * m->lora_opt.rank * sizeof(float));
	int rc = LETHE_ENOMEM;
	if (!tokens || !targets || !caps || !active || !g.k || !g.v || !g.len || !g.last ||
	    !g.done || !g.past || !g.x || !g.h || !g.qkv || !g.y || !g.a || !g.b || !g.g ||
	    !g.logits || !g.scores || (m->has_lora && !g.lora_u))
		goto done;

	/* Prefill: one forward over the right-padded prompts, logits at each prompt's last token.
	 */
	for (int i = 0; i < n; i++)
		for (int t = 0; t < maxp; t++) {
			tokens[(size_t)i * maxp + t] =
			    t < lens[i] ? prompts[i][t] : LETHE_TOKEN_PAD;
			targets[(size_t)i * maxp + t] = t == lens[i] - 1 ? 0 : -1;
		}
	lethe_batch batch = {n, maxp, tokens, targets};
	kv_cache kv = {g.k, g.v, n, T, NULL, NULL};
	if ((rc = lethe_model__forward(m, &batch, 0, NULL, NULL, NULL, &kv)))
		goto done;
	for (int i = 0; i < n; i++) {
		g.len[i] = lens[i];
		g.last[i] = argmax(lethe_model_logits(m) + (size_t)i * V, V); /* rows in order */
	}
	for (int produced = 0; produced < max_new; produced++) {
		int A = 0;
		for (int i = 0; i < n; i++) {
			if (g.done[i])
				continue;
			/* The sequence, the new token included, must fit the context. */
			if (g.last[i] == stop || g.len[i] >= T) {
				g.done[i] = 1;
				continue;
			}
			if ((rc = emit(&out[i], &out_lens[i], &caps[i], g.last[i])))
				goto done;
			if (produced + 1 < max_new && g.len[i] < T)
				active[A++] = i;
			else
				g.done[i] = 1;
		}
		if (A == 0)
			break;
		step(m, &g, active, A);
	}
	rc = 0;
done:
	if (rc == LETHE_ENOMEM)
		snprintf(m->errmsg, sizeof(m->errmsg), "out of memory while generating");
	free(tokens);
	free(targets);
	free(caps);
	free(active);
	group_free(&g);
	return rc;
}

int lethe_model_generate(lethe_model *m, const int32_t *const *prompts, const int *prompt_lens,
                         int n, int max_new, int stop_token, int32_t **out, int *out_lens)
{
	for (int i = 0; i < n; i++) {
		out[i] = NULL;
		out_lens[i] = 0;
		if (prompt_lens[i] < 1 || prompt_lens[i] > m->cfg.context) {
			snprintf(m->errmsg, sizeof(m->errmsg),
			         "prompt %d has %d tokens; expected 1 to %d", i, prompt_lens[i],
			         m->cfg.context);
			return LETHE_EINVAL;
		}
	}
	for (int i = 0; i < n; i += GROUP) {
		int k = n - i < GROUP ? n - i : GROUP;
		int was = lethe_layer__set_precision(m->precision);
		int rc = generate_group(m, prompts + i, prompt_lens + i, k, max_new, stop_token,
		                        out + i, out_lens + i);
		lethe_layer__set_precision(was);
		if (rc) {
			for (int j = 0; j < n; j++) {
				free(out[j]);
				out[j] = NULL;
				out_lens[j] = 0;
			}
			return rc;
		}
	}
	return 0;
}
