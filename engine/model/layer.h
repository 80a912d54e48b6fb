/*
 * layer.h: one transformer layer, the only one lethe has: training (model.c) and KV-cache
 * decoding (generate.c) both run lethe_layer__forward, and training runs lethe_layer__backward.
 * Its kernels come in llm.c's *_forward / *_backward pairs whose arguments are outputs, then
 * inputs, then dimensions; backward kernels accumulate into parameter gradients (dw += ...) and
 * say so where they write an input gradient instead. Each has a naive reference of plain loops
 * in layer_ref.c, and tests/check_layer.c holds the two together. Private to engine/model/.
 *
 * Shapes use one vocabulary: B batch (sequences), T time (positions in this call), P past
 * (positions already in a KV cache), S cache length per sequence, N = B*T rows, C channels,
 * NH query heads, NKV key/value heads (fewer than NH: grouped-query attention), HS head
 * size, QKV = (NH + 2 NKV) HS the fused projection's width, FF feed-forward size, V vocabulary.
 *
 * The kernels keep the exact floating-point order that lethe's results (and the quick start's
 * digest) were produced with: matrix products through lethe_layer__matmul with the same shapes,
 * sums in index order, work split over the thread pool in the same contiguous ranges.
 */
#ifndef LETHE_LAYER_H
#define LETHE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "fastmath.h"

/* LoRA adapter targets, in the order of their tensors in the adapter block. */
enum { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_TARGETS };

/* A layer's LoRA adapters (or their gradients) inside the adapter block: target t adds
 * scale * B[t] (A[t] x) to its projection's output; A[t] NULL: no adapter on t. */
typedef struct layer_lora {
	float *A[LORA_TARGETS]; /* (r, in) */
	float *B[LORA_TARGETS]; /* (out, r) */
} layer_lora;

/* A layer's parameters (or their gradients) inside a block. */
typedef struct layer_view {
	float *n1;       /* (C) */
	float *wqkv;     /* (QKV, C): rows are q, k, v output features */
	float *wo;       /* (C, NH*HS) */
	float *n2;       /* (C) */
	float *w1;       /* (FF, C) gate */
	float *w3;       /* (FF, C) up */
	float *w2;       /* (C, FF) down */
	layer_lora lora; /* adapters; all NULL without */
} layer_view;

/* Indices of a layer's tensors, in parameter order (and in a layer's trainable flags). */
enum { T_N1, T_WQKV, T_WO, T_N2, T_W1, T_W3, T_W2, T_PER_LAYER };

typedef struct layer_dims {
	int C, NH, NKV, HS, FF;
	float eps;                        /* RMSNorm */
	const float *rope_cos, *rope_sin; /* (context, HS/2) */
	/* LoRA (when a layer_view has adapters): rank r, alpha / r, dropout probability on the
	 * adapters' inputs (applied only when layer_acts.lora_drop is not 0). */
	int lora_rank;
	float lora_scale, lora_dropout;
} layer_dims;

static inline int lethe_layer__qkv_width(const layer_dims *d)
{
	return (d->NH + 2 * d->NKV) * d->HS;
}

/* One layer's activations over N rows. Training keeps one set per layer for backward; decoding
 * passes step buffers and may alias x, xmid and xout (the residual stream updated in place). */
typedef struct layer_acts {
	float *x;             /* (N, C) input residual stream */
	float *xmid;          /* (N, C) after the attention residual */
	float *xout;          /* (N, C) output residual stream */
	float *rstd1, *rstd2; /* (N) or NULL: the norms' reciprocal RMS */
	float *qkv;           /* (N, QKV) q and k after RoPE */
	float *att;           /* (B, NH, T, T) probabilities; full sequences only */
	float *y;             /* (N, NH*HS) attention output before the projection */
	float *a, *b;         /* (N, FF) gate and up projections */
	float *h;             /* (N, C) scratch: a normalised stream */
	float *g;             /* (N, FF) scratch: silu(a) * b */
	float *scores;        /* (threads, S) scratch for cached attention */
	/* With adapters only. */
	float *lora_u;      /* (LORA_TARGETS, N, r) each adapter's A x, kept for backward */
	float *lora_x;      /* (N, max(C, NH*HS, FF)) scratch: an adapter's input after dropout */
	uint64_t lora_drop; /* 0: no dropout (evaluation); else this call's dropout key */
} layer_acts;

/* A KV cache: keys and values after RoPE for every layer, sequence and position. */
typedef struct kv_cache {
	float *k, *v;    /* (L, B, S, NKV*HS) */
	int B, S;        /* sequences, positions per sequence */
	const int *past; /* (B) per batch row, the positions its sequence already has in the
	                    cache; NULL: none (a prefill) */
	const int *slot; /* (B) per batch row, its sequence in the cache; NULL: row b is b */
} kv_cache;

/* Gradient scratch for lethe_layer__backward, N rows. */
typedef struct layer_grads {
	float *dxmid, *dh, *dy; /* (N, C) */
	float *dqkv;            /* (N, QKV) */
	float *da, *db;         /* (N, FF) */
	float *dp;              /* (threads, T, T) */
	float *lora_du;         /* (N, r) with adapters */
} layer_grads;

/* ---- the layer -------------------------------------------------------------------------------
 */

/* x -> xout for B sequences of T positions. With kv, this layer's keys and values are written to
 * the cache at positions past..past+T-1 (0..T-1 without past) and, with past, attention reads the
 * cache: incremental decoding. acts->att is needed without past only. */
void lethe_layer__forward(const layer_dims *d, const layer_view *w, layer_acts *acts,
                          const kv_cache *kv, int layer, int B, int T);
/* Backward of a training forward (no cache): dx holds d(xout) on entry and d(x) on return;
 * gradients accumulate into gw where trainable[T_*] is set (the others are not touched: their
 * gradient products are skipped, only the input gradients flow through them), and into
 * gw->lora for every adapter w->lora has. */
void lethe_layer__backward(const layer_dims *d, const layer_view *w, layer_view *gw,
                           const unsigned char *trainable, const layer_acts *acts, layer_grads *gr,
                           float *dx, int B, int T);

/* ---- kernels ---------------------------------------------------------------------------------
 */

/* Row-major sgemm, out = alpha op(A) op(B) + beta out (M, N); large products split by rows over
 * the thread pool. */
void lethe_layer__matmul(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *out, int ldc);

/* matmul_skinny.c: out (M, N) = alpha A (M, K) B^T + beta out, B (N, K) row-major, for a few
 * rows (a decoding step): B streamed once over the thread pool, every element one dot product in
 * a fixed order, so the bits depend neither on M nor on the thread count nor on the path. path
 * LETHE_SKINNY_AUTO takes the AVX-512 kernel where the CPU has it, LETHE_SKINNY_GENERIC the
 * portable one (the tests compare them). */
typedef enum lethe_skinny_path {
	LETHE_SKINNY_AUTO = 0,
	LETHE_SKINNY_GENERIC = 1
} lethe_skinny_path;
void lethe_layer__matmul_skinny(lethe_skinny_path path, int M, int N, int K, float alpha,
                                const float *A, int lda, const float *B, int ldb, float beta,
                                float *out, int ldc);
/* Whether LETHE_SKINNY_AUTO runs the AVX-512 kernel here; the layer decodes through this product
 * only then (the portable path is for tests and correctness, not speed). */
int lethe_layer__matmul_skinny_native(void);
/* A weight product y (N, out; rows ldy apart) = x (N, in) W^T + beta y, W (out, in): the one
 * place that chooses its kernel. decode (a step's few rows, fp32, AVX-512) streams W through
 * lethe_layer__matmul_skinny; everything else goes through lethe_layer__matmul. */
void lethe_layer__weight_matmul(int decode, int N, int out, int in, const float *x, const float *W,
                                float beta, float *y, int ldy);

/* The precision of lethe_layer__matmul's products in this process (a lethe_precision): the model
 * sets its own around forward, backward and generation (model.c) and restores the previous one.
 * Returns the previous setting. */
int lethe_layer__set_precision(int precision);
int lethe_layer__precision(void);
/* matmul_bf16.c (built with oneDNN only): lethe_layer__matmul's product with A and B rounded to
 * bf16 and fp32 accumulation; nonzero when oneDNN failed (out of memory), nothing written then
 * except possibly out. */
int lethe_layer__matmul_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *out, int ldc);
/* fp32 -> bf16 rounded to nearest, ties to even (NaN stays NaN), and back. */
uint16_t lethe_layer__to_bf16(float f);
float lethe_layer__from_bf16(uint16_t h);

/* out (N, C) = x * rstd * w with rstd (N) = 1/sqrt(mean(x^2) + eps); rstd may be NULL. */
void lethe_layer__rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N,
                                  int C, float eps);
/* dx (N, C) += d(out)/dx . dout; dw (C) += sum over rows of dout * x * rstd (dw may be NULL). */
void lethe_layer__rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                                   const float *w, const float *rstd, size_t N, int C);

/* Rotate-half RoPE in place on the q heads (NH) and k heads (NKV) of qkv (B*T, QKV), position
 * past[b] + t (past NULL: t). */
void lethe_layer__rope_forward(float *qkv, const int *past, int B, int T, int NH, int NKV, int HS,
                               const float *cos_t, const float *sin_t);
/* The transpose rotation in place on dqkv (B*T, QKV), positions t. */
void lethe_layer__rope_backward(float *dqkv, int B, int T, int NH, int NKV, int HS,
                                const float *cos_t, const float *sin_t);

/* Causal attention of full sequences: att (B, NH, T, T) = softmax(q k^T / sqrt(HS)) with zeros
 * above the diagonal, y (B*T, NH*HS) = att v, from qkv (B*T, QKV). Query head h reads key/value
 * head h / (NH / NKV). */
void lethe_layer__attention_forward(float *y, float *att, const float *qkv, int B, int T, int NH,
                                    int NKV, int HS);
/* dqkv (B*T, QKV) = d(y)/d(qkv) . dy (written, not accumulated); dp (threads, T, T) scratch. */
void lethe_layer__attention_backward(float *dqkv, float *dp, const float *dy, const float *qkv,
                                     const float *att, int B, int T, int NH, int NKV, int HS);
/* Attention of each sequence's new positions t (at past[b] + t) over its cached positions
 * 0..past[b]+t: y (B*T, NH*HS) from the queries of qkv (B*T, QKV) and the layer's cache k, v
 * (B, S, NKV*HS), scores (threads, S) scratch. */
void lethe_layer__attention_cached_forward(float *y, float *scores, const float *qkv,
                                           const float *k, const float *v, const int *past,
                                           const int *slot, int B, int T, int S, int NH, int NKV,
                                           int HS);

/* g (n) = silu(a) * b over flat arrays. */
void lethe_layer__swiglu_forward(float *g, const float *a, const float *b, size_t n);
/* da, db (n) = the gradients of a and b from dg (written, not accumulated). */
void lethe_layer__swiglu_backward(float *da, float *db, const float *dg, const float *a,
                                  const float *b, size_t n);

static inline float lethe_layer__silu(float x)
{
	return x / (1.0f + lethe_expf(-x));
}

/* ---- naive references (layer_ref.c): plain loops in double where a sum is long --------------
 */

void lethe_layer__matmul_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *out, int ldc);
void lethe_layer__rmsnorm_forward_ref(float *out, float *rstd, const float *x, const float *w,
                                      size_t N, int C, float eps);
void lethe_layer__rmsnorm_backward_ref(float *dx, float *dw, const float *dout, const float *x,
                                       const float *w, const float *rstd, size_t N, int C);
void lethe_layer__rope_forward_ref(float *qkv, const int *past, int B, int T, int NH, int NKV,
                                   int HS, float theta);
void lethe_layer__rope_backward_ref(float *dqkv, int B, int T, int NH, int NKV, int HS,
                                    float theta);
void lethe_layer__attention_forward_ref(float *y, float *att, const float *qkv, int B, int T,
                                        int NH, int NKV, int HS);
void lethe_layer__attention_backward_ref(float *dqkv, const float *dy, const float *qkv,
                                         const float *att, int B, int T, int NH, int NKV, int HS);
void lethe_layer__attention_cached_forward_ref(float *y, const float *qkv, const float *k,
                                               const float *v, const int *past, const int *slot,
                                               int B, int T, int S, int NH, int NKV, int HS);
void lethe_layer__swiglu_forward_ref(float *g, const float *a, const float *b, size_t n);
void lethe_layer__swiglu_backward_ref(float *da, float *db, const float *dg, const float *a,
                                      const float *b, size_t n);

#endif
