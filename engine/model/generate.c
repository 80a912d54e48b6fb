/*
 * generate.c: greedy decoding with a KV cache. Prompts are prefilled in one batched forward pass
 * (right-padded; the causal mask keeps padding out of every prompt position), their keys and
 * values copied into the cache; then every step feeds the last token of each unfinished sequence
 * through the layers as one batch, attending over its cached positions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "fastmath.h"
#include "model_internal.h"

#define GROUP 16 /* sequences decoded together; bounds the prefill's attention memory */

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

static float silu(float x)
{
	return x / (1.0f + lethe_expf(-x));
}

typedef struct group_state {
	int n, T;     /* sequences, cache length (context) */
	float *k, *v; /* (L, n, T, C) */
	int *len;     /* tokens in the cache per sequence */
	int *last;    /* the token to feed next */
	int *done;
	float *x, *h, *qkv, *y, *a, *b, *logits, *scores; /* step buffers */
} group_state;

static void group_free(group_state *g)
{
	free(g->k);
	free(g->v);
	free(g->len);
	free(g->last);
	free(g->done);
	free(g->x);
	free(g->h);
	free(g->qkv);
	free(g->y);
	free(g->a);
	free(g->b);
	free(g->logits);
	free(g->scores);
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

/* One decoding step for every unfinished sequence of the group. */
static void step(lethe_model *m, group_state *g, const int *active, int A)
{
	const lethe_model_config *c = &m->cfg;
	int C = c->dim, FF = c->ff, V = c->vocab, C3 = m->C3, HS = m->HS, NH = c->heads, T = g->T;
	float scale = 1.0f / sqrtf((float)HS);
	for (int r = 0; r < A; r++)
		memcpy(g->x + (size_t)r * C, m->p.wte + (size_t)g->last[active[r]] * C,
		       C * sizeof(float));
	for (int l = 0; l < c->layers; l++) {
		const layer_view *w = &m->p.layer[l];
		lethe_model__rmsnorm(g->h, NULL, g->x, w->n1, (size_t)A, C, c->norm_eps);
		lethe_model__mm(0, 1, A, C3, C, 1.0f, g->h, C, w->wqkv, C, 0.0f, g->qkv, C3);
		for (int r = 0; r < A; r++) {
			int s = active[r], pos = g->len[s];
			float *q = g->qkv + (size_t)r * C3;
			lethe_model__rope(q, pos, NH, HS, HS, m->rope_cos, m->rope_sin);
			lethe_model__rope(q + C, pos, NH, HS, HS, m->rope_cos, m->rope_sin);
			size_t base = (((size_t)l * g->n + s) * T + pos) * C;
			memcpy(g->k + base, q + C, C * sizeof(float));
			memcpy(g->v + base, q + 2 * C, C * sizeof(float));
			const float *K = g->k + ((size_t)l * g->n + s) * T * C,
			            *Vc = g->v + ((size_t)l * g->n + s) * T * C;
			for (int h = 0; h < NH; h++) {
				const float *qh = q + h * HS;
				float mx = -INFINITY, sum = 0.0f;
				for (int j = 0; j <= pos; j++) {
					const float *kj = K + (size_t)j * C + h * HS;
					float d = 0.0f;
					for (int i = 0; i < HS; i++)
						d += qh[i] * kj[i];
					g->scores[j] = d * scale;
					mx = g->scores[j] > mx ? g->scores[j] : mx;
				}
				for (int j = 0; j <= pos; j++) {
					g->scores[j] = lethe_expf(g->scores[j] - mx);
					sum += g->scores[j];
				}
				float *yh = g->y + (size_t)r * C + h * HS;
				memset(yh, 0, HS * sizeof(float));
				for (int j = 0; j <= pos; j++) {
					float p = g->scores[j] / sum;
					const float *vj = Vc + (size_t)j * C + h * HS;
					for (int i = 0; i < HS; i++)
						yh[i] += p * vj[i];
				}
			}
		}
		lethe_model__mm(0, 1, A, C, C, 1.0f, g->y, C, w->wo, C, 1.0f, g->x, C);
		lethe_model__rmsnorm(g->h, NULL, g->x, w->n2, (size_t)A, C, c->norm_eps);
		lethe_model__mm(0, 1, A, FF, C, 1.0f, g->h, C, w->w1, C, 0.0f, g->a, FF);
		lethe_model__mm(0, 1, A, FF, C, 1.0f, g->h, C, w->w3, C, 0.0f, g->b, FF);
		for (size_t i = 0; i < (size_t)A * FF; i++)
			g->a[i] = silu(g->a[i]) * g->b[i];
		lethe_model__mm(0, 1, A, C, FF, 1.0f, g->a, FF, w->w2, FF, 1.0f, g->x, C);
	}
	lethe_model__rmsnorm(g->h, NULL, g->x, m->p.nf, (size_t)A, C, c->norm_eps);
	lethe_model__mm(0, 1, A, V, C, 1.0f, g->h, C, m->p.head, C, 0.0f, g->logits, V);
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
	g.k = malloc((size_t)L * n * T * C * sizeof(float));
	g.v = malloc((size_t)L * n * T * C * sizeof(float));
	g.len = calloc((size_t)n, sizeof(int));
	g.last = calloc((size_t)n, sizeof(int));
	g.done = calloc((size_t)n, sizeof(int));
	g.x = malloc((size_t)n * C * sizeof(float));
	g.h = malloc((size_t)n * C * sizeof(float));
	g.qkv = malloc((size_t)n * 3 * C * sizeof(float));
	g.y = malloc((size_t)n * C * sizeof(float));
	g.a = malloc((size_t)n * c->ff * sizeof(float));
	g.b = malloc((size_t)n * c->ff * sizeof(float));
	g.logits = malloc((size_t)n * V * sizeof(float));
	g.scores = malloc((size_t)T * sizeof(float));
	int rc = LETHE_ENOMEM;
	if (!tokens || !targets || !caps || !active || !g.k || !g.v || !g.len || !g.last ||
	    !g.done || !g.x || !g.h || !g.qkv || !g.y || !g.a || !g.b || !g.logits || !g.scores)
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
	if ((rc = lethe_model_forward(m, &batch, 0, NULL, NULL, NULL)))
		goto done;
	size_t BT = (size_t)n * maxp;
	for (int l = 0; l < L; l++)
		for (int i = 0; i < n; i++)
			for (int t = 0; t < lens[i]; t++) {
				const float *row =
				    m->qkv + ((size_t)l * BT + (size_t)i * maxp + t) * m->C3;
				size_t base = (((size_t)l * n + i) * T + t) * C;
				memcpy(g.k + base, row + C, C * sizeof(float));
				memcpy(g.v + base, row + 2 * C, C * sizeof(float));
			}
	for (int i = 0; i < n; i++) {
		g.len[i] = lens[i];
		g.last[i] = argmax(m->logits + (size_t)i * V, V); /* targets are in row order */
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
		int rc = generate_group(m, prompts + i, prompt_lens + i, k, max_new, stop_token,
		                        out + i, out_lens + i);
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
