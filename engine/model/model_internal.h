/*
 * model_internal.h: the model's private state, shared by model.c (layout, forward, backward),
 * optim.c (AdamW) and generate.c (KV-cache decoding); the layer itself is layer.h's. Shapes use
 * one vocabulary: B batch, T time, C channels, NH heads, HS head size, FF feed-forward size,
 * V vocabulary, L layers.
 */
#ifndef LETHE_MODEL_INTERNAL_H
#define LETHE_MODEL_INTERNAL_H

#include <lethe/model.h>

#include "grad_hook.h"
#include "layer.h"

/* The generator of the model's initialisation (model.c): splitmix64 seeds xoshiro256**. */
typedef struct model_rng {
	uint64_t s[4];
} model_rng;

typedef struct model_view {
	float *wte;  /* (V, C) */
	float *nf;   /* (C) */
	float *head; /* (V, C): wte when tied */
	layer_view *layer;
} model_view;

struct lethe_model {
	lethe_model_config cfg;
	int HS, C3;
	size_t n_params;
	float *params, *grads, *adam_m, *adam_v;
	model_view p, g;
	lethe_tensor_info *tensors;
	size_t n_tensors;
	char *names;
	unsigned char *trainable;
	size_t t_wte, t_nf, t_head; /* tensor indices; t_head == t_wte when tied */
	float *rope_cos, *rope_sin; /* (T, HS/2) */
	layer_dims dims;
	uint64_t steps;

	/* Activations of the last forward, sized for cap_bt rows, cap_btt = B T^2 attention
	 * entries per head and layer, cap_T positions and cap_nt targets. */
	size_t cap_bt, cap_btt, cap_nt;
	int cap_T;
	float *x;    /* (L+1, BT, C) residual stream: x[0] embeddings, x[l+1] after layer l */
	float *xmid; /* (L, BT, C) after the attention residual */
	float *rstd1, *rstd2; /* (L, BT) */
	float *qkv;           /* (L, BT, 3C), q and k after RoPE */
	float *att;           /* (L, B, NH, T, T) attention probabilities */
	float *y;             /* (L, BT, C) attention output before the projection */
	float *a, *b3;        /* (L, BT, FF) gate and up projections */
	float *rstdf;         /* (BT) */
	float *hf;            /* (BT, C) final normalised stream */
	float *hf_t;          /* (NT, C) rows with targets */
	float *logits;        /* (NT, V) */
	/* Scratch for forward and backward. */
	float *s_h;                          /* (BT, C) */
	float *s_g;                          /* (BT, FF) */
	float *s_dx, *s_dxmid, *s_dh, *s_dy; /* (BT, C) */
	float *s_dqkv;                       /* (BT, 3C) */
	float *s_da, *s_db;                  /* (BT, FF) */
	float *s_dp;                         /* (threads, T, T) */
	double *s_lp;                        /* (NT) -log p(target) per targeted row */
	int cap_threads;

	int B, T, n_targets;
	int loss_count;            /* loss_count.h: backward's divisor when > 0, else n_targets */
	int32_t *tokens, *targets; /* copies of the batch */
	int32_t *target_rows;      /* (NT) row index of each target */
	int train_ready;
	char errmsg[640];

	/* LoRA (lora.c): at most one adapter, in its own block of parameters with gradients and
	 * moments of the same layout; the base block's gradients (and moments) exist only once
	 * something asks for them or a base tensor is trainable. */
	int has_lora, lora_drop_on;
	lethe_lora_options lora_opt;
	size_t n_lora, n_lora_tensors;
	float *lora_p, *lora_g, *lora_m, *lora_v;
	lethe_tensor_info *lora_tensors;
	char *lora_names;
	unsigned char *lora_saved_trainable; /* the base's flags before attaching */
	uint64_t lora_seed, lora_calls;      /* dropout: the key of each training forward */
	uint64_t lora_steps;                 /* AdamW steps of this adapter */
	size_t lora_cap_bt;
	float *s_lora_u, *s_lora_x,
	    *s_lora_du; /* (L, LORA_TARGETS, BT, r), (BT, max in), (BT, r) */

	/* loss_weighting (lethe_model_set_loss_weighting): with EXAMPLE, a training forward sets
	 * row_w (NT) to each targeted row's weight in the loss, 1 / (sequences x the row's
	 * sequence's targets), and backward scales by it instead of 1 / NT. */
	lethe_loss_weighting loss_weighting;
	float *row_w;
	size_t row_w_cap;
	int row_w_on;
	/* Per-stage adapters (lora.c): earlier adapters, frozen and kept in the order they were
	 * frozen; their deltas are added to params in that order, and lora_base holds the
	 * parameters as they were before the first (NULL while none is frozen). */
	struct lora_frozen {
		lethe_lora_options opt;
		float *p; /* the adapter's block, n floats */
		size_t n;
		int64_t tag;
	} * lora_frozen;
	size_t n_lora_frozen;
	float *lora_base;
	/* grad_hook.h: called by backward as each stage's gradients become final (NULL: none). */
	lethe_grad_hook grad_hook;
	void *grad_hook_ctx;
	/* lethe_model_set_precision: its matrix products' precision (a lethe_precision), set
	 * around forward, backward and generation (lethe_layer__set_precision). */
	int precision;
};

/* lethe_model_new() with the random initialisation skipped when init is 0 (the parameters are
 * then uninitialised: a checkpoint is about to fill every one). */
int lethe_model__create(lethe_model **out, const lethe_model_config *config, uint64_t seed,
                        int init);
void lethe_model__views(lethe_model *m, float *block, model_view *v);
/* lethe_model_forward, and with kv, the keys and values of every layer written to the cache at
 * positions 0..T-1 (a prefill; kv->past must be NULL). */
int lethe_model__forward(lethe_model *m, const lethe_batch *batch, int train, float *loss,
                         double *nll, int *counts, const kv_cache *kv);

void lethe_model__rng_seed(model_rng *r, uint64_t seed);
double lethe_model__rng_uniform(model_rng *r); /* in (0, 1) */
/* The base gradient block, allocated (zeroed) on first use; LETHE_ENOMEM with the message set. */
int lethe_model__ensure_grads(lethe_model *m);
/* Whether any base tensor is trainable. */
int lethe_model__base_trainable(const lethe_model *m);
/* lora.c: the adapter's buffers for BT rows (no-op without an adapter); its memory released. */
int lethe_model__lora_buffers(lethe_model *m, size_t BT);
void lethe_model__lora_free(lethe_model *m);
/* The frozen adapters and the saved base released (the parameters stay as they are). */
void lethe_model__lora_frozen_free(lethe_model *m);
/* The adapter's AdamW moments, allocated (zeroed) on first use. */
int lethe_model__lora_moments(lethe_model *m);
/* The key of layer l's dropout in the current training forward, 0 when dropout is off. */
uint64_t lethe_model__lora_key(const lethe_model *m, int l);

#endif
