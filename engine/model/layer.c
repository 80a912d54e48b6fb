/*
 * layer.c: the transformer layer (pre-norm attention with RoPE, then a pre-norm SwiGLU MLP, each
 * added to the residual stream) and its kernels; see layer.h for the shapes and conventions and
 * layer_ref.c for the naive references. Matrix products go through OpenBLAS; the rest are loops
 * over contiguous rows split over the thread pool (parallel.c) in fixed ranges, so that results
 * depend only on the thread count.
 *
 * Attention has two evaluation orders, both kept bit for bit from before this layer was shared:
 * full sequences (training, evaluation, a prefill) take q k^T and att v as matrix products over
 * T x T blocks; decoding from a KV cache takes each new position's dot products in index order.
 * They agree to rounding (tests/check_layer.c holds both to the reference, and the decoded logits
 * to the full forward's).
 */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include <lethe/model.h>

#include "layer.h"
#include "parallel.h"

/* ---- matmul -----------------------------------------------------------------------------------
 */

typedef struct mm_job {
	int trans_a, trans_b, N, K, lda, ldb, ldc;
	float alpha, beta;
	const float *A, *B;
	float *C;
} mm_job;

static void mm_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	mm_job *j = arg;
	/* Rows begin..end of op(A): row offsets of A, or column offsets when A is transposed. */
	const float *a = j->trans_a ? j->A + begin : j->A + begin * (size_t)j->lda;
	cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans,
	            j->trans_b ? CblasTrans : CblasNoTrans, (int)(end - begin), j->N, j->K,
	            j->alpha, a, j->lda, j->B, j->ldb, j->beta, j->C + begin * (size_t)j->ldc,
	            j->ldc);
}

/* bf16 products (matmul_bf16.c): the setting is process-wide because the pool's workers run
 * the products; each model sets its own around its calls. */
static atomic_int precision_now = 0;

int lethe_layer__set_precision(int precision)
{
	return atomic_exchange(&precision_now, precision);
}

int lethe_layer__precision(void)
{
	return atomic_load_explicit(&precision_now, memory_order_relaxed);
}

void lethe_layer__matmul(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *out, int ldc)
{
#ifdef HAVE_DNNL
	/* A failed bf16 product (no memory for its scratch) is computed in fp32 instead. */
	if (lethe_layer__precision() == LETHE_PRECISION_BF16 &&
	    lethe_layer__matmul_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, out,
	                             ldc) == 0)
		return;
#endif
	int threads = lethe_threads();
	if (threads > 1 && !lethe_in_parallel() && M >= 8 * threads &&
	    (double)M * N * K >= 262144.0) {
		mm_job j = {trans_a, trans_b, N, K, lda, ldb, ldc, alpha, beta, A, B, out};
		lethe_parallel_for((size_t)M, mm_range, &j);
		return;
	}
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
	            trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, out,
	            ldc);
}

/* ---- rmsnorm ----------------------------------------------------------------------------------
 */

typedef struct rows_job {
	float *out, *rstd;
	const float *x, *w;
	int C;
	float eps;
} rows_job;

LETHE_CLONES static void rmsnorm_rows(float *out, float *rstd, const float *x, const float *w,
                                      size_t N, int C, float eps)
{
	for (size_t r = 0; r < N; r++) {
		const float *xr = x + r * C;
		float ss = 0.0f;
		for (int i = 0; i < C; i++)
			ss += xr[i] * xr[i];
		float s = 1.0f / sqrtf(ss / (float)C + eps);
		if (rstd)
			rstd[r] = s;
		float *o = out + r * C;
		for (int i = 0; i < C; i++)
			o[i] = xr[i] * s * w[i];
	}
}

static void rmsnorm_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	rows_job *j = arg;
	rmsnorm_rows(j->out + begin * j->C, j->rstd ? j->rstd + begin : NULL, j->x + begin * j->C,
	             j->w, end - begin, j->C, j->eps);
}

void lethe_layer__rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N,
                                  int C, float eps)
{
	rows_job j = {out, rstd, x, w, C, eps};
	lethe_parallel_for(N, rmsnorm_range, &j);
}

/* Static: a cloned function's dispatcher (an ifunc) would be exported whatever the visibility. */
LETHE_CLONES static void rmsnorm_backward_rows(float *dx, float *dw, const float *dout,
                                               const float *x, const float *w, const float *rstd,
                                               size_t N, int C)
{
	for (size_t r = 0; r < N; r++) {
		const float *xr = x + r * C, *d = dout + r * C;
		float s = rstd[r], dot = 0.0f;
		for (int i = 0; i < C; i++)
			dot += d[i] * w[i] * xr[i] * s;
		dot /= (float)C;
		float *o = dx + r * C;
		for (int i = 0; i < C; i++) {
			float xh = xr[i] * s;
			if (dw)
				dw[i] += d[i] * xh;
			o[i] += s * (d[i] * w[i] - xh * dot);
		}
	}
}

void lethe_layer__rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                                   const float *w, const float *rstd, size_t N, int C)
{
	rmsnorm_backward_rows(dx, dw, dout, x, w, rstd, N, C);
}

/* out (N, C) = x * rstd * w from a forward's rstd: backward recomputes the normalised input
 * rather than keeping it. */
static void rmsnorm_recompute(float *out, const float *x, const float *w, const float *rstd,
                              size_t N, int C)
{
	for (size_t i = 0; i < N; i++) {
		const float *xr = x + i * C;
		float *o = out + i * C;
		for (int j = 0; j < C; j++)
			o[j] = xr[j] * rstd[i] * w[j];
	}
}

/* ---- rope -------------------------------------------------------------------------------------
 */

/* Rotates the first HS/2 channels of each of n_heads heads (HS apart, from v) against the second
 * half, at position pos; rope_heads_backward applies the transpose rotation. */
static void rope_heads(float *v, int pos, int n_heads, int HS, const float *cos_t,
                       const float *sin_t)
{
	int half = HS / 2;
	const float *c = cos_t + (size_t)pos * half, *s = sin_t + (size_t)pos * half;
	for (int h = 0; h < n_heads; h++) {
		float *x = v + (size_t)h * HS;
		for (int i = 0; i < half; i++) {
			float x1 = x[i], x2 = x[i + half];
			x[i] = x1 * c[i] - x2 * s[i];
			x[i + half] = x1 * s[i] + x2 * c[i];
		}
	}
}

static void rope_heads_backward(float *d, int pos, int n_heads, int HS, const float *cos_t,
                                const float *sin_t)
{
	int half = HS / 2;
	const float *c = cos_t + (size_t)pos * half, *s = sin_t + (size_t)pos * half;
	for (int h = 0; h < n_heads; h++) {
		float *x = d + (size_t)h * HS;
		for (int i = 0; i < half; i++) {
			float d1 = x[i], d2 = x[i + half];
			x[i] = d1 * c[i] + d2 * s[i];
			x[i + half] = -d1 * s[i] + d2 * c[i];
		}
	}
}

void lethe_layer__rope_forward(float *qkv, const int *past, int B, int T, int NH, int NKV, int HS,
                               const float *cos_t, const float *sin_t)
{
	size_t QKV = (size_t)(NH + 2 * NKV) * HS;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			float *row = qkv + ((size_t)b * T + t) * QKV;
			int pos = (past ? past[b] : 0) + t;
			rope_heads(row, pos, NH, HS, cos_t, sin_t);
			rope_heads(row + (size_t)NH * HS, pos, NKV, HS, cos_t, sin_t);
		}
}

void lethe_layer__rope_backward(float *dqkv, int B, int T, int NH, int NKV, int HS,
                                const float *cos_t, const float *sin_t)
{
	size_t QKV = (size_t)(NH + 2 * NKV) * HS;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			float *row = dqkv + ((size_t)b * T + t) * QKV;
			rope_heads_backward(row, t, NH, HS, cos_t, sin_t);
			rope_heads_backward(row + (size_t)NH * HS, t, NKV, HS, cos_t, sin_t);
		}
}

/* ---- attention --------------------------------------------------------------------------------
 */

typedef struct att_job {
	float *y, *att, *dqkv, *dp, *scores;
	const float *qkv, *dy, *att_in, *k, *v;
	const int *past, *slot;
	int B, T, S, NH, NKV, HS;
} att_job;

/* Row t of a causal score block, in place: softmax over 0..t, zeros after. Inlined so that it
 * is vectorised for the CPU inside its callers' clones (LETHE_CLONES). */
static inline __attribute__((always_inline)) void softmax_causal_row(float *row, int t, int T)
{
	float mx = row[0], sum = 0.0f;
	for (int i = 1; i <= t; i++)
		mx = row[i] > mx ? row[i] : mx;
	for (int i = 0; i <= t; i++)
		row[i] = lethe_expf(row[i] - mx);
	for (int i = 0; i <= t; i++)
		sum += row[i];
	float inv = 1.0f / sum;
	for (int i = 0; i <= t; i++)
		row[i] *= inv;
	for (int i = t + 1; i < T; i++)
		row[i] = 0.0f;
}

LETHE_CLONES static void attention_forward_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	att_job *j = arg;
	int T = j->T, NH = j->NH, HS = j->HS, HQ = NH * HS, group = NH / j->NKV;
	int QKV = (NH + 2 * j->NKV) * HS;
	float scale = 1.0f / sqrtf((float)HS);
	for (size_t bh = begin; bh < end; bh++) {
		int b = (int)(bh / NH), h = (int)(bh % NH), kh = h / group;
		const float *q = j->qkv + (size_t)b * T * QKV + h * HS;
		const float *k = j->qkv + (size_t)b * T * QKV + HQ + kh * HS;
		const float *v = k + (size_t)j->NKV * HS;
		float *p = j->att + bh * T * T;
		lethe_layer__matmul(0, 1, T, T, HS, scale, q, QKV, k, QKV, 0.0f, p, T);
		for (int t = 0; t < T; t++)
			softmax_causal_row(p + (size_t)t * T, t, T);
		lethe_layer__matmul(0, 0, T, HS, T, 1.0f, p, T, v, QKV, 0.0f,
		                    j->y + (size_t)b * T * HQ + h * HS, HQ);
	}
}

void lethe_layer__attention_forward(float *y, float *att, const float *qkv, int B, int T, int NH,
                                    int NKV, int HS)
{
	att_job j = {
	    .y = y, .att = att, .qkv = qkv, .B = B, .T = T, .NH = NH, .NKV = NKV, .HS = HS};
	lethe_parallel_for((size_t)B * NH, attention_forward_range, &j);
}

/* One job per (sequence, key/value head): the query heads of a group share dK and dV, so the
 * first head of the group writes them and the others add to them, in head order, on one
 * thread. Without grouping (NKV == NH) every head writes its own, as before. */
static void attention_backward_range(void *arg, int thread, size_t begin, size_t end)
{
	att_job *j = arg;
	int T = j->T, NH = j->NH, HS = j->HS, HQ = NH * HS, group = NH / j->NKV;
	int QKV = (NH + 2 * j->NKV) * HS;
	float scale = 1.0f / sqrtf((float)HS);
	float *dp = j->dp + (size_t)thread * T * T;
	for (size_t bk = begin; bk < end; bk++) {
		int b = (int)(bk / j->NKV), kh = (int)(bk % j->NKV);
		const float *k = j->qkv + (size_t)b * T * QKV + HQ + kh * HS,
		            *v = k + (size_t)j->NKV * HS;
		float *dk = j->dqkv + (size_t)b * T * QKV + HQ + kh * HS,
		      *dv = dk + (size_t)j->NKV * HS;
		for (int g = 0; g < group; g++) {
			int h = kh * group + g;
			size_t bh = (size_t)b * NH + h;
			float beta = g ? 1.0f : 0.0f;
			const float *q = j->qkv + (size_t)b * T * QKV + h * HS;
			const float *p = j->att_in + bh * T * T,
			            *d = j->dy + (size_t)b * T * HQ + h * HS;
			float *dq = j->dqkv + (size_t)b * T * QKV + h * HS;
			lethe_layer__matmul(0, 1, T, T, HS, 1.0f, d, HQ, v, QKV, 0.0f, dp,
			                    T); /* dP = dY V^T */
			lethe_layer__matmul(1, 0, T, HS, T, 1.0f, p, T, d, HQ, beta, dv,
			                    QKV);     /* dV (+)= P^T dY */
			for (int t = 0; t < T; t++) { /* dS = P (dP - rowsum) */
				const float *pr = p + (size_t)t * T;
				float *dr = dp + (size_t)t * T, dot = 0.0f;
				for (int i = 0; i <= t; i++)
					dot += pr[i] * dr[i];
				for (int i = 0; i <= t; i++)
					dr[i] = pr[i] * (dr[i] - dot) * scale;
				for (int i = t + 1; i < T; i++)
					dr[i] = 0.0f;
			}
			lethe_layer__matmul(0, 0, T, HS, T, 1.0f, dp, T, k, QKV, 0.0f, dq,
			                    QKV); /* dQ = dS K */
			lethe_layer__matmul(1, 0, T, HS, T, 1.0f, dp, T, q, QKV, beta, dk,
			                    QKV); /* dK (+)= dS^T Q */
		}
	}
}

void lethe_layer__attention_backward(float *dqkv, float *dp, const float *dy, const float *qkv,
                                     const float *att, int B, int T, int NH, int NKV, int HS)
{
	att_job j = {.dqkv = dqkv,
	             .dp = dp,
	             .dy = dy,
	             .qkv = qkv,
	             .att_in = att,
	             .B = B,
	             .T = T,
	             .NH = NH,
	             .NKV = NKV,
	             .HS = HS};
	lethe_parallel_for((size_t)B * NKV, attention_backward_range, &j);
}

static void attention_cached_range(void *arg, int thread, size_t begin, size_t end)
{
	att_job *j = arg;
	int T = j->T, S = j->S, NH = j->NH, HS = j->HS, HQ = NH * HS, group = NH / j->NKV;
	int QKV = (NH + 2 * j->NKV) * HS, KVC = j->NKV * HS;
	float scale = 1.0f / sqrtf((float)HS);
	float *sc = j->scores + (size_t)thread * S;
	for (size_t bh = begin; bh < end; bh++) {
		int b = (int)(bh / NH), h = (int)(bh % NH), kh = h / group;
		int s = j->slot ? j->slot[b] : b;
		const float *K = j->k + (size_t)s * S * KVC + kh * HS,
		            *Vc = j->v + (size_t)s * S * KVC + kh * HS;
		for (int t = 0; t < T; t++) {
			int pos = j->past[b] + t;
			const float *qh = j->qkv + ((size_t)b * T + t) * QKV + h * HS;
			float mx = -INFINITY, sum = 0.0f;
			for (int i = 0; i <= pos; i++) {
				const float *ki = K + (size_t)i * KVC;
				float d = 0.0f;
				for (int c = 0; c < HS; c++)
					d += qh[c] * ki[c];
				sc[i] = d * scale;
				mx = sc[i] > mx ? sc[i] : mx;
			}
			for (int i = 0; i <= pos; i++) {
				sc[i] = lethe_expf(sc[i] - mx);
				sum += sc[i];
			}
			float *yh = j->y + ((size_t)b * T + t) * HQ + h * HS;
			memset(yh, 0, (size_t)HS * sizeof(float));
			for (int i = 0; i <= pos; i++) {
				float p = sc[i] / sum;
				const float *vi = Vc + (size_t)i * KVC;
				for (int c = 0; c < HS; c++)
					yh[c] += p * vi[c];
			}
		}
	}
}

void lethe_layer__attention_cached_forward(float *y, float *scores, const float *qkv,
                                           const float *k, const float *v, const int *past,
                                           const int *slot, int B, int T, int S, int NH, int NKV,
                                           int HS)
{
	att_job j = {.y = y,
	             .scores = scores,
	             .qkv = qkv,
	             .k = k,
	             .v = v,
	             .past = past,
	             .slot = slot,
	             .B = B,
	             .T = T,
	             .S = S,
	             .NH = NH,
	             .NKV = NKV,
	             .HS = HS};
	lethe_parallel_for((size_t)B * NH, attention_cached_range, &j);
}

/* ---- swiglu -----------------------------------------------------------------------------------
 */

typedef struct swiglu_job {
	float *g, *da, *db;
	const float *a, *b, *dg;
} swiglu_job;

LETHE_CLONES static void swiglu_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	swiglu_job *j = arg;
	for (size_t i = begin; i < end; i++)
		j->g[i] = lethe_layer__silu(j->a[i]) * j->b[i];
}

void lethe_layer__swiglu_forward(float *g, const float *a, const float *b, size_t n)
{
	swiglu_job j = {.g = g, .a = a, .b = b};
	lethe_parallel_for(n, swiglu_range, &j);
}

LETHE_CLONES static void swiglu_backward_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	swiglu_job *j = arg;
	for (size_t i = begin; i < end; i++) {
		float a = j->a[i], sg = 1.0f / (1.0f + lethe_expf(-a)), si = a * sg;
		j->db[i] = j->dg[i] * si;
		j->da[i] = j->dg[i] * j->b[i] * (sg + a * sg * (1.0f - sg));
	}
}

void lethe_layer__swiglu_backward(float *da, float *db, const float *dg, const float *a,
                                  const float *b, size_t n)
{
	swiglu_job j = {.da = da, .db = db, .a = a, .b = b, .dg = dg};
	lethe_parallel_for(n, swiglu_backward_range, &j);
}

/* ---- LoRA -------------------------------------------------------------------------------------
 */

/* Dropout on an adapter's input, as PEFT's nn.Dropout: an element is kept with probability 1 - p
 * and scaled by 1 / (1 - p). The mask is a hash of (key, target, element), so that
 * backward recomputes it instead of keeping it, and it depends on nothing but the seed. The
 * caller's key (layer_acts.lora_drop) names the call and the layer. */
static int lora_keep(uint64_t key, int target, size_t i, float p)
{
	uint64_t z = key ^ ((uint64_t)target << 56) ^ (uint64_t)i;
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0) >= (double)p;
}

/* out (N, in) = x with the dropout of (layer, target) applied, or multiplied into out in place
 * when x is NULL. */
static void lora_dropout(float *out, const float *x, const layer_dims *d, uint64_t key, int target,
                         size_t N, int in)
{
	float p = d->lora_dropout, s = 1.0f / (1.0f - p);
	for (size_t i = 0; i < N * (size_t)in; i++) {
		float keep = lora_keep(key, target, i, p) ? s : 0.0f;
		out[i] = (x ? x[i] : out[i]) * keep;
	}
}

/* y (N, out columns of rows ldy apart) += scale B (A drop(x)) for target t, keeping A drop(x) in
 * acts->lora_u for backward. */
static void lora_forward(const layer_dims *d, const layer_view *w, layer_acts *acts, int t,
                         const float *x, int in, float *y, int out, int ldy, size_t N)
{
	int r = d->lora_rank;
	float *u = acts->lora_u + (size_t)t * N * r;
	if (acts->lora_drop && d->lora_dropout > 0) {
		lora_dropout(acts->lora_x, x, d, acts->lora_drop, t, N, in);
		x = acts->lora_x;
	}
	lethe_layer__matmul(0, 1, (int)N, r, in, 1.0f, x, in, w->lora.A[t], in, 0.0f, u, r);
	lethe_layer__matmul(0, 1, (int)N, out, r, d->lora_scale, u, r, w->lora.B[t], r, 1.0f, y,
	                    ldy);
}

/* Backward of lora_forward from dy (N, out, rows ldy apart): dB += scale dy^T u,
 * dA += du^T drop(x) with du = scale dy B, and dx (N, in) += drop'(du A). acts->lora_x is
 * scratch. */
static void lora_backward(const layer_dims *d, const layer_view *w, layer_view *gw,
                          const layer_acts *acts, layer_grads *gr, int t, const float *x, int in,
                          const float *dy, int out, int ldy, float *dx, size_t N)
{
	int r = d->lora_rank, n = (int)N, drop = acts->lora_drop && d->lora_dropout > 0;
	const float *u = acts->lora_u + (size_t)t * N * r;
	float *du = gr->lora_du;
	lethe_layer__matmul(1, 0, out, r, n, d->lora_scale, dy, ldy, u, r, 1.0f, gw->lora.B[t], r);
	lethe_layer__matmul(0, 0, n, r, out, d->lora_scale, dy, ldy, w->lora.B[t], r, 0.0f, du, r);
	if (drop) {
		lora_dropout(acts->lora_x, x, d, acts->lora_drop, t, N, in);
		x = acts->lora_x;
	}
	lethe_layer__matmul(1, 0, r, in, n, 1.0f, du, r, x, in, 1.0f, gw->lora.A[t], in);
	if (!drop) {
		lethe_layer__matmul(0, 0, n, in, r, 1.0f, du, r, w->lora.A[t], in, 1.0f, dx, in);
		return;
	}
	lethe_layer__matmul(0, 0, n, in, r, 1.0f, du, r, w->lora.A[t], in, 0.0f, acts->lora_x, in);
	lora_dropout(acts->lora_x, NULL, d, acts->lora_drop, t, N, in);
	for (size_t i = 0; i < N * (size_t)in; i++)
		dx[i] += acts->lora_x[i];
}

/* ---- the layer --------------------------------------------------------------------------------
 */

/* A weight product x W^T (W: out rows of in). A decoding step (a few rows, one per sequence)
 * streams W through matmul_skinny.c's AVX-512 kernel instead of OpenBLAS, which would pack all of
 * W for them; without AVX-512 (its portable path is scalar fmaf: slower than OpenBLAS's AVX2)
 * and for bf16 products the step keeps the general path. */
void lethe_layer__weight_matmul(int decode, int N, int out, int in, const float *x, const float *W,
                                float beta, float *y, int ldy)
{
	if (decode && lethe_layer__precision() == LETHE_PRECISION_FP32 &&
	    lethe_layer__matmul_skinny_native())
		lethe_layer__matmul_skinny(LETHE_SKINNY_AUTO, N, out, in, 1.0f, x, in, W, in, beta,
		                           y, ldy);
	else
		lethe_layer__matmul(0, 1, N, out, in, 1.0f, x, in, W, in, beta, y, ldy);
}

void lethe_layer__forward(const layer_dims *d, const layer_view *w, layer_acts *acts,
                          const kv_cache *kv, int layer, int B, int T)
{
	int C = d->C, FF = d->FF, NH = d->NH, NKV = d->NKV, HS = d->HS, HQ = NH * HS;
	int QKV = lethe_layer__qkv_width(d), KVC = NKV * HS;
	size_t N = (size_t)B * T;
	const int *past = kv ? kv->past : NULL;
	int decode = past != NULL;

	/* Attention: x -> xmid. */
	lethe_layer__rmsnorm_forward(acts->h, acts->rstd1, acts->x, w->n1, N, C, d->eps);
	lethe_layer__weight_matmul(decode, (int)N, QKV, C, acts->h, w->wqkv, 0.0f, acts->qkv, QKV);
	if (w->lora.A[LORA_Q])
		lora_forward(d, w, acts, LORA_Q, acts->h, C, acts->qkv, HQ, QKV, N);
	if (w->lora.A[LORA_K])
		lora_forward(d, w, acts, LORA_K, acts->h, C, acts->qkv + HQ, KVC, QKV, N);
	if (w->lora.A[LORA_V])
		lora_forward(d, w, acts, LORA_V, acts->h, C, acts->qkv + HQ + KVC, KVC, QKV, N);
	lethe_layer__rope_forward(acts->qkv, past, B, T, NH, NKV, HS, d->rope_cos, d->rope_sin);
	float *kc = NULL, *vc = NULL;
	if (kv) {
		size_t per_layer = (size_t)kv->B * kv->S * KVC;
		kc = kv->k + (size_t)layer * per_layer;
		vc = kv->v + (size_t)layer * per_layer;
		for (int b = 0; b < B; b++) {
			int s = kv->slot ? kv->slot[b] : b, p0 = past ? past[b] : 0;
			for (int t = 0; t < T; t++) {
				const float *row = acts->qkv + ((size_t)b * T + t) * QKV;
				size_t at = ((size_t)s * kv->S + p0 + t) * KVC;
				memcpy(kc + at, row + HQ, (size_t)KVC * sizeof(float));
				memcpy(vc + at, row + HQ + KVC, (size_t)KVC * sizeof(float));
			}
		}
	}
	if (past)
		lethe_layer__attention_cached_forward(acts->y, acts->scores, acts->qkv, kc, vc,
		                                      past, kv->slot, B, T, kv->S, NH, NKV, HS);
	else
		lethe_layer__attention_forward(acts->y, acts->att, acts->qkv, B, T, NH, NKV, HS);
	if (acts->xmid != acts->x)
		memcpy(acts->xmid, acts->x, N * C * sizeof(float));
	lethe_layer__weight_matmul(decode, (int)N, C, HQ, acts->y, w->wo, 1.0f, acts->xmid, C);
	if (w->lora.A[LORA_O])
		lora_forward(d, w, acts, LORA_O, acts->y, HQ, acts->xmid, C, C, N);

	/* MLP: xmid -> xout. */
	lethe_layer__rmsnorm_forward(acts->h, acts->rstd2, acts->xmid, w->n2, N, C, d->eps);
	lethe_layer__weight_matmul(decode, (int)N, FF, C, acts->h, w->w1, 0.0f, acts->a, FF);
	lethe_layer__weight_matmul(decode, (int)N, FF, C, acts->h, w->w3, 0.0f, acts->b, FF);
	if (w->lora.A[LORA_GATE])
		lora_forward(d, w, acts, LORA_GATE, acts->h, C, acts->a, FF, FF, N);
	if (w->lora.A[LORA_UP])
		lora_forward(d, w, acts, LORA_UP, acts->h, C, acts->b, FF, FF, N);
	lethe_layer__swiglu_forward(acts->g, acts->a, acts->b, N * FF);
	if (acts->xout != acts->xmid)
		memcpy(acts->xout, acts->xmid, N * C * sizeof(float));
	lethe_layer__weight_matmul(decode, (int)N, C, FF, acts->g, w->w2, 1.0f, acts->xout, C);
	if (w->lora.A[LORA_DOWN])
		lora_forward(d, w, acts, LORA_DOWN, acts->g, FF, acts->xout, C, C, N);
}

void lethe_layer__backward(const layer_dims *d, const layer_view *w, layer_view *gw,
                           const unsigned char *trainable, const layer_acts *acts, layer_grads *gr,
                           float *dx, int B, int T)
{
	int C = d->C, FF = d->FF, NH = d->NH, NKV = d->NKV, HS = d->HS, HQ = NH * HS;
	int QKV = lethe_layer__qkv_width(d), KVC = NKV * HS;
	size_t N = (size_t)B * T;
	int n = (int)N;
	float *h = acts->h, *dg = acts->g;
	const layer_lora *ad = &w->lora;

	/* MLP branch: dx is d(xout). */
	rmsnorm_recompute(h, acts->xmid, w->n2, acts->rstd2, N, C);
	if (trainable[T_W2] || ad->A[LORA_DOWN])
		lethe_layer__swiglu_forward(gr->da, acts->a, acts->b, N * FF); /* g, recomputed */
	if (trainable[T_W2])
		lethe_layer__matmul(1, 0, C, FF, n, 1.0f, dx, C, gr->da, FF, 1.0f, gw->w2, FF);
	lethe_layer__matmul(0, 0, n, FF, C, 1.0f, dx, C, w->w2, FF, 0.0f, dg, FF);
	if (ad->A[LORA_DOWN])
		lora_backward(d, w, gw, acts, gr, LORA_DOWN, gr->da, FF, dx, C, C, dg, N);
	lethe_layer__swiglu_backward(gr->da, gr->db, dg, acts->a, acts->b, N * FF);
	if (trainable[T_W1])
		lethe_layer__matmul(1, 0, FF, C, n, 1.0f, gr->da, FF, h, C, 1.0f, gw->w1, C);
	if (trainable[T_W3])
		lethe_layer__matmul(1, 0, FF, C, n, 1.0f, gr->db, FF, h, C, 1.0f, gw->w3, C);
	lethe_layer__matmul(0, 0, n, C, FF, 1.0f, gr->da, FF, w->w1, C, 0.0f, gr->dh, C);
	lethe_layer__matmul(0, 0, n, C, FF, 1.0f, gr->db, FF, w->w3, C, 1.0f, gr->dh, C);
	if (ad->A[LORA_GATE])
		lora_backward(d, w, gw, acts, gr, LORA_GATE, h, C, gr->da, FF, FF, gr->dh, N);
	if (ad->A[LORA_UP])
		lora_backward(d, w, gw, acts, gr, LORA_UP, h, C, gr->db, FF, FF, gr->dh, N);
	memcpy(gr->dxmid, dx, N * C * sizeof(float));
	lethe_layer__rmsnorm_backward(gr->dxmid, trainable[T_N2] ? gw->n2 : NULL, gr->dh,
	                              acts->xmid, w->n2, acts->rstd2, N, C);

	/* Attention branch: dxmid is d(xmid). */
	if (trainable[T_WO])
		lethe_layer__matmul(1, 0, C, HQ, n, 1.0f, gr->dxmid, C, acts->y, HQ, 1.0f, gw->wo,
		                    HQ);
	lethe_layer__matmul(0, 0, n, HQ, C, 1.0f, gr->dxmid, C, w->wo, HQ, 0.0f, gr->dy, HQ);
	if (ad->A[LORA_O])
		lora_backward(d, w, gw, acts, gr, LORA_O, acts->y, HQ, gr->dxmid, C, C, gr->dy, N);
	lethe_layer__attention_backward(gr->dqkv, gr->dp, gr->dy, acts->qkv, acts->att, B, T, NH,
	                                NKV, HS);
	lethe_layer__rope_backward(gr->dqkv, B, T, NH, NKV, HS, d->rope_cos, d->rope_sin);
	rmsnorm_recompute(h, acts->x, w->n1, acts->rstd1, N, C);
	if (trainable[T_WQKV])
		lethe_layer__matmul(1, 0, QKV, C, n, 1.0f, gr->dqkv, QKV, h, C, 1.0f, gw->wqkv, C);
	lethe_layer__matmul(0, 0, n, C, QKV, 1.0f, gr->dqkv, QKV, w->wqkv, C, 0.0f, gr->dh, C);
	if (ad->A[LORA_Q])
		lora_backward(d, w, gw, acts, gr, LORA_Q, h, C, gr->dqkv, HQ, QKV, gr->dh, N);
	if (ad->A[LORA_K])
		lora_backward(d, w, gw, acts, gr, LORA_K, h, C, gr->dqkv + HQ, KVC, QKV, gr->dh, N);
	if (ad->A[LORA_V])
		lora_backward(d, w, gw, acts, gr, LORA_V, h, C, gr->dqkv + HQ + KVC, KVC, QKV,
		              gr->dh, N);
	memcpy(dx, gr->dxmid, N * C * sizeof(float));
	lethe_layer__rmsnorm_backward(dx, trainable[T_N1] ? gw->n1 : NULL, gr->dh, acts->x, w->n1,
	                              acts->rstd1, N, C);
}
