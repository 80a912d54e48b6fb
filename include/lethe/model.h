/*
 * lethe/model.h: the language model lethe fine-tunes: a Llama-style decoder-only transformer
 * (token embeddings, RMSNorm pre-normalisation, causal multi-head self-attention with rotary
 * position embeddings, SwiGLU feed-forward, final RMSNorm, output head tied to the embeddings or
 * not), trained on the CPU with OpenBLAS, and the byte-level BPE tokenizer that feeds it.
 *
 * Memory: every parameter lives in one contiguous float block, in the order of
 * lethe_model_tensor(); gradients and the AdamW moments are blocks of the same layout, so a
 * checkpoint is one array and a gradient could be all-reduced in one call.
 */
#ifndef LETHE_MODEL_H
#define LETHE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads ----------------------------------------------------------------------------------
 */

/* Sets the threads of every pool lethe uses (OpenBLAS's); n <= 0 keeps the current setting.
 * Returns the number in effect. */
LETHE_EXPORT int lethe_set_threads(int n);
/* Joins the worker threads lethe started (a lower lethe_set_threads() joins the ones above it).
 * The setting is kept: the next parallel loop starts them again. Call it before exit, or before
 * unloading liblethe; liblethe also does it when it is unloaded. Not from inside lethe's own
 * loops (a no-op there). */
LETHE_EXPORT void lethe_stop_threads(void);

/* ---- precision (train: {precision: bf16}, docs/performance.md#bf16) -------------------------
 */

/* How a model's matrix products compute: fp32 (OpenBLAS, the default) or bf16 inputs with fp32
 * accumulation (oneDNN). Weights, gradients, optimizer state, loss, norms and softmax stay fp32
 * in both. */
typedef enum lethe_precision { LETHE_PRECISION_FP32 = 0, LETHE_PRECISION_BF16 = 1 } lethe_precision;

/* 0 when this build on this CPU can compute in p; else LETHE_EUNSUPPORTED (or LETHE_EINVAL for
 * an unknown p) with the reason in why: lethe built without oneDNN, or a CPU without
 * AVX512_BF16 (or the environment variable LETHE_BF16_UNSUPPORTED set, which tests use). */
LETHE_EXPORT int lethe_precision_check(lethe_precision p, char *why, size_t why_size);

/* ---- tokenizer --------------------------------------------------------------------------------
 */

/* Special tokens: ids 0..255 are the bytes, then these four, then the merges. */
enum {
	LETHE_TOKEN_BOS = 256,
	LETHE_TOKEN_EOS = 257,
	LETHE_TOKEN_PAD = 258,
	LETHE_TOKEN_SEP = 259,
	LETHE_TOKEN_FIRST_MERGE = 260
};

typedef struct lethe_tokenizer lethe_tokenizer;

/* Trains byte-level BPE on texts[0..n) (lens[i] bytes each) up to vocab_size tokens
 * (>= LETHE_TOKEN_FIRST_MERGE; fewer when the text has no more pairs to merge). Deterministic:
 * the same texts give the same merges. */
LETHE_EXPORT int lethe_tokenizer_train(lethe_tokenizer **out, const char *const *texts,
                                       const size_t *lens, size_t n, size_t vocab_size);
/* A tokenizer from its merges: pairs[2*i], pairs[2*i+1] make token LETHE_TOKEN_FIRST_MERGE + i. */
LETHE_EXPORT int lethe_tokenizer_from_merges(lethe_tokenizer **out, const int32_t *pairs,
                                             size_t n_merges);
LETHE_EXPORT void lethe_tokenizer_free(lethe_tokenizer *tok);
LETHE_EXPORT size_t lethe_tokenizer_vocab_size(const lethe_tokenizer *tok);
LETHE_EXPORT size_t lethe_tokenizer_n_merges(const lethe_tokenizer *tok);
LETHE_EXPORT const int32_t *lethe_tokenizer_merges(const lethe_tokenizer *tok);
/* Encodes any byte string (invalid UTF-8 included) losslessly. *out is malloc'd. */
LETHE_EXPORT int lethe_tokenizer_encode(lethe_tokenizer *tok, const char *text, size_t len,
                                        int32_t **out, size_t *n_out);
/* Decodes ids (special tokens decode to nothing) into a malloc'd, NUL-terminated buffer. */
LETHE_EXPORT int lethe_tokenizer_decode(const lethe_tokenizer *tok, const int32_t *ids, size_t n,
                                        char **out, size_t *len);

/* The tokenizer of a pretrained model (docs/models.md): path is a Hugging Face model directory
 * (its tokenizer.json, byte-level BPE, or tokenizer.model, SentencePiece) or a llama2.c checkpoint
 * (its tokenizer.bin beside it). Such a tokenizer has no merges of lethe's (n_merges 0), encodes
 * without adding special tokens, decodes special tokens as their text and ids it does not have
 * (a padded embedding table's) as nothing. *out is set even on failure (except LETHE_ENOMEM) so
 * that lethe_tokenizer_errmsg() can say why; free it either way.
 * Not thread-safe, like encode. */
LETHE_EXPORT int lethe_tokenizer_open(lethe_tokenizer **out, const char *path);
LETHE_EXPORT const char *lethe_tokenizer_errmsg(const lethe_tokenizer *tok);
/* Where lethe_tokenizer_open() found it (the path it was given), NULL for lethe's own BPE. */
LETHE_EXPORT const char *lethe_tokenizer_source(const lethe_tokenizer *tok);
/* "lethe-bpe", "huggingface-bpe", "sentencepiece" or "llama2c". */
LETHE_EXPORT const char *lethe_tokenizer_kind(const lethe_tokenizer *tok);

typedef enum lethe_special_token {
	LETHE_SPECIAL_BOS = 0,
	LETHE_SPECIAL_EOS = 1,
	LETHE_SPECIAL_PAD = 2,
	LETHE_SPECIAL_SEP = 3
} lethe_special_token;
/* The id of a special token: LETHE_TOKEN_* for lethe's own tokenizer, the model's for a
 * pretrained one (its padding falls back to EOS; it has no separator), -1 when absent. */
LETHE_EXPORT int32_t lethe_tokenizer_special(const lethe_tokenizer *tok, lethe_special_token which);

/* ---- model ------------------------------------------------------------------------------------
 */

typedef struct lethe_model_config {
	int vocab;        /* V */
	int context;      /* T: longest sequence */
	int dim;          /* C */
	int layers;       /* L */
	int heads;        /* NH; C % NH == 0 unless head_dim is given */
	int ff;           /* SwiGLU hidden size */
	int tied;         /* output head shares the token embeddings */
	float norm_eps;   /* 1e-5 */
	float rope_theta; /* 10000 */
	/* Pretrained shapes (0 keeps lethe's own: kv_heads = heads, head_dim = dim / heads). */
	int kv_heads; /* NKV: grouped-query attention when fewer than heads; heads % NKV == 0 */
	int head_dim; /* HS, even */
	/* RoPE frequencies scaled as Llama 3.x does (transformers' rope_type "llama3") when set. */
	int rope_llama3;
	float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
	int rope_original_context;
} lethe_model_config;

/* Named presets "tiny" (C 128, L 4, NH 4, T 128), "small" (256, 6, 8, 256), "base"
 * (512, 8, 8, 256); ff = 8C/3 rounded up to a multiple of 32, tied head. LETHE_ENOTFOUND for
 * another name. */
LETHE_EXPORT int lethe_model_preset(lethe_model_config *cfg, const char *name, int vocab);
/* Fills ff = 8*dim/3 rounded up to 32 and the defaults for eps and theta when they are 0, then
 * checks the ranges. The one fallible call without a handle (no model exists yet): on LETHE_EINVAL
 * it writes one line saying why into why (why_size bytes; why may be NULL), as snprintf() would.
 * lethe_model_new() refuses the same configurations. */
LETHE_EXPORT int lethe_model_config_check(lethe_model_config *cfg, char *why, size_t why_size);
LETHE_EXPORT size_t lethe_model_config_params(const lethe_model_config *cfg);

typedef enum lethe_param_group {
	LETHE_GROUP_EMBEDDINGS = 0, /* token embeddings and an untied head */
	LETHE_GROUP_ATTENTION = 1,
	LETHE_GROUP_MLP = 2,
	LETHE_GROUP_NORMS = 3,
	LETHE_GROUP_COUNT = 4
} lethe_param_group;

typedef struct lethe_tensor_info {
	const char *name; /* "wte", "layers.3.attn.wqkv", ... */
	size_t offset;    /* into the parameter block, in floats */
	size_t size;
	int rows, cols; /* cols 1 for vectors */
	lethe_param_group group;
	int layer; /* -1 for tensors outside the layers */
} lethe_tensor_info;

typedef struct lethe_model lethe_model;

/* A model with parameters drawn from N(0, 0.02) (norm weights 1) by a generator seeded with seed.
 */
LETHE_EXPORT int lethe_model_new(lethe_model **out, const lethe_model_config *cfg, uint64_t seed);
/* A model from a pretrained checkpoint (docs/models.md): a Hugging Face model directory of the
 * Llama family (safetensors, F32/F16/BF16) or a llama2.c checkpoint, checked before use. context
 * limits the longest sequence (0: the checkpoint's own). *out is set even on failure (except
 * LETHE_ENOMEM) so that lethe_model_errmsg() can say why; free it either way. */
LETHE_EXPORT int lethe_model_open(lethe_model **out, const char *path, int context);
/* The configuration of the checkpoint at path, checked as lethe_model_open() checks it but
 * without reading weights (for validation). On failure why receives one line naming the file. */
LETHE_EXPORT int lethe_model_config_from(lethe_model_config *cfg, const char *path, char *why,
                                         size_t why_size);
LETHE_EXPORT void lethe_model_free(lethe_model *m);
LETHE_EXPORT const lethe_model_config *lethe_model_config_of(const lethe_model *m);
LETHE_EXPORT const char *lethe_model_errmsg(const lethe_model *m);
LETHE_EXPORT size_t lethe_model_num_params(const lethe_model *m);
LETHE_EXPORT float *lethe_model_params(lethe_model *m);
/* The gradient block, allocated (zero) on first use: NULL on LETHE_ENOMEM. */
LETHE_EXPORT float *lethe_model_grads(lethe_model *m);
LETHE_EXPORT size_t lethe_model_num_tensors(const lethe_model *m);
LETHE_EXPORT const lethe_tensor_info *lethe_model_tensor(const lethe_model *m, size_t i);
/* Freezes (0) or unfreezes (1) a group, in one layer or in all (layer -1). Frozen tensors get no
 * gradient and no update. */
LETHE_EXPORT void lethe_model_set_trainable(lethe_model *m, lethe_param_group group, int layer,
                                            int trainable);
LETHE_EXPORT int lethe_model_tensor_trainable(const lethe_model *m, size_t i);

/* A batch of B padded sequences of length T (<= context): tokens[b*T + t]; targets[b*T + t] is
 * the token expected after position t, or -1 where no loss is taken (prompt, padding). */
typedef struct lethe_batch {
	int B, T;
	const int32_t *tokens;
	const int32_t *targets;
} lethe_batch;

/* The precision of m's matrix products in forward, backward and generation from now on
 * (lethe_model_new() starts in fp32). Refused as lethe_precision_check() refuses, with the reason
 * in lethe_model_errmsg(); m is unchanged then. */
LETHE_EXPORT int lethe_model_set_precision(lethe_model *m, lethe_precision p);
LETHE_EXPORT lethe_precision lethe_model_precision(const lethe_model *m);

/* How a training batch's loss weighs its target tokens (loss_weighting, docs/curriculum.md):
 * TOKEN, the mean over every target token of the batch; EXAMPLE, each sequence's mean token loss
 * averaged over the batch's sequences that have targets. */
typedef enum lethe_loss_weighting {
	LETHE_LOSS_WEIGHTING_TOKEN = 0,
	LETHE_LOSS_WEIGHTING_EXAMPLE = 1
} lethe_loss_weighting;

/* Sets the loss weighting of the following forward passes (TOKEN when never set). */
LETHE_EXPORT void lethe_model_set_loss_weighting(lethe_model *m, lethe_loss_weighting w);

/* Forward pass: *loss = mean cross-entropy over the targeted positions (with EXAMPLE weighting:
 * the mean over sequences of each sequence's mean, and backward follows). When nll is not NULL,
 * nll[b] is sequence b's summed target NLL and counts[b] its targeted positions. train keeps what
 * lethe_model_backward() needs. */
LETHE_EXPORT int lethe_model_forward(lethe_model *m, const lethe_batch *batch, int train,
                                     float *loss, double *nll, int *counts);
/* Logits of the last forward, [NT, V]: the rows of the targeted positions only, in batch order
 * (valid until the next forward or backward, which turns them into their gradient). */
LETHE_EXPORT const float *lethe_model_logits(const lethe_model *m);
/* Backward pass of the last training forward: accumulates d(loss)/d(params) into the gradients. */
LETHE_EXPORT int lethe_model_backward(lethe_model *m);
/* The same, with dlogits_add (NT x V, the rows of the targeted positions in batch order, as
 * lethe_model_logits() lays them out) added to d(loss)/d(logits) before it is propagated: the
 * gradient of a second term of the objective at the same logits (LwF, docs/methods.md).
 * NULL: lethe_model_backward(). */
LETHE_EXPORT int lethe_model_backward_with(lethe_model *m, const float *dlogits_add);
LETHE_EXPORT void lethe_model_zero_grad(lethe_model *m);

typedef struct lethe_adamw {
	float beta1, beta2, eps, weight_decay;
	int decay_embeddings; /* apply weight decay to the embeddings (matrices are always decayed,
	                         norms never) */
} lethe_adamw;

/* One AdamW step (decoupled weight decay, bias correction) at learning rate lr, after scaling the
 * gradients by grad_scale (1/accumulation steps) and clipping their global norm to clip (0: no
 * clipping). *grad_norm receives the norm before clipping. A non-finite gradient fails with
 * LETHE_ENUMERIC and leaves the parameters untouched. */
LETHE_EXPORT int lethe_model_step(lethe_model *m, const lethe_adamw *opt, float lr, float clip,
                                  float grad_scale, float *grad_norm);
LETHE_EXPORT uint64_t lethe_model_steps_taken(const lethe_model *m);
/* Whether the base's AdamW moments exist (they are allocated by the first step that trains a
 * base tensor, or by asking for them below). */
LETHE_EXPORT int lethe_model_has_moments(const lethe_model *m);
/* The AdamW moments, same layout as the parameters (for checkpoints); allocated (zero) when
 * they do not exist yet, NULL on LETHE_ENOMEM. */
LETHE_EXPORT float *lethe_model_adam_m(lethe_model *m);
LETHE_EXPORT float *lethe_model_adam_v(lethe_model *m);
LETHE_EXPORT void lethe_model_set_steps_taken(lethe_model *m, uint64_t steps);

/* ---- LoRA adapters ----------------------------------------------------------------------------
 *
 * A low-rank adapter (Hu et al. 2021, as PEFT defines it) on chosen projections of every layer:
 * y = W x + (alpha / rank) B (A drop(x)), A (rank, in), B (out, rank). The fused q/k/v projection
 * gets one adapter per target, each covering its own rows. While an adapter is attached the base
 * tensors are frozen: backward skips their gradient products (the input gradients still flow),
 * lethe_model_step() updates the adapter alone, and the base's gradient and moment blocks are not
 * allocated unless a caller unfreezes a base tensor or asks for them (lethe_model_grads(),
 * lethe_model_adam_m()). Forward, backward, evaluation and lethe_model_generate() all apply it.
 * The adapter has its own contiguous block of parameters, gradients and AdamW moments, in the
 * order of lethe_model_lora_tensor(): for each layer, for each target present in the order
 * q, k, v, o, gate, up, down, its A then its B.
 */
typedef enum lethe_lora_target {
	LETHE_LORA_Q = 1 << 0,
	LETHE_LORA_K = 1 << 1,
	LETHE_LORA_V = 1 << 2,
	LETHE_LORA_O = 1 << 3,
	LETHE_LORA_GATE = 1 << 4,
	LETHE_LORA_UP = 1 << 5,
	LETHE_LORA_DOWN = 1 << 6,
	LETHE_LORA_ALL = 0x7f
} lethe_lora_target;

typedef struct lethe_lora_options {
	int rank;         /* r >= 1 */
	float alpha;      /* > 0; the update is scaled by alpha / rank */
	float dropout;    /* on the adapters' inputs in training forwards, 0 <= p < 1 (0: off) */
	unsigned targets; /* a non-empty set of LETHE_LORA_* */
} lethe_lora_options;

/* Attaches an adapter: A drawn as PEFT draws it (kaiming-uniform with a = sqrt(5), i.e.
 * U(-1/sqrt(in), 1/sqrt(in))) from a generator seeded with seed, B zero, so that the model's
 * output is unchanged. Freezes every base tensor (the flags are restored by detach). Dropout
 * masks come from seed and the count of training forwards (lethe_model_lora_calls()).
 * LETHE_EINVAL (message on the handle) for bad options or when an adapter is already attached;
 * LETHE_ENOMEM. */
LETHE_EXPORT int lethe_model_lora_attach(lethe_model *m, const lethe_lora_options *opt,
                                         uint64_t seed);
/* Adds (alpha / rank) B A into every adapted base tensor, then detaches the adapter. LETHE_EINVAL
 * without an adapter. */
LETHE_EXPORT int lethe_model_lora_merge(lethe_model *m);
/* Drops the adapter (a no-op without one) and restores the base's trainable flags as they were
 * before attaching. */
LETHE_EXPORT void lethe_model_lora_detach(lethe_model *m);
/* The attached adapter's options, or NULL without one (owned by the model). */
LETHE_EXPORT const lethe_lora_options *lethe_model_lora(const lethe_model *m);
/* The adapter's blocks (owned by the model, valid until detach; NULL without an adapter, and
 * the moments also on LETHE_ENOMEM), and the number of floats in each. */
LETHE_EXPORT size_t lethe_model_lora_num_params(const lethe_model *m);
LETHE_EXPORT float *lethe_model_lora_params(lethe_model *m);
LETHE_EXPORT float *lethe_model_lora_grads(lethe_model *m);
LETHE_EXPORT float *lethe_model_lora_adam_m(lethe_model *m);
LETHE_EXPORT float *lethe_model_lora_adam_v(lethe_model *m);
/* The adapter's tensors ("layers.3.q.lora_A", rows x cols, offsets into its block), 0 / NULL
 * without one. */
LETHE_EXPORT size_t lethe_model_lora_num_tensors(const lethe_model *m);
LETHE_EXPORT const lethe_tensor_info *lethe_model_lora_tensor(const lethe_model *m, size_t i);
/* The dropout's state (training forwards so far, and the seed), for checkpoints: restoring both
 * continues the same sequence of masks. */
LETHE_EXPORT uint64_t lethe_model_lora_seed(const lethe_model *m);
LETHE_EXPORT uint64_t lethe_model_lora_calls(const lethe_model *m);
LETHE_EXPORT void lethe_model_lora_set_calls(lethe_model *m, uint64_t calls);
/* The adapter's AdamW steps: its bias correction counts from its attachment, not from the
 * model's lethe_model_steps_taken() (which counts every step). For checkpoints. */
LETHE_EXPORT uint64_t lethe_model_lora_steps_taken(const lethe_model *m);
LETHE_EXPORT void lethe_model_lora_set_steps_taken(lethe_model *m, uint64_t steps);

/* ---- Per-stage adapters (adapter: {per_stage: true}) and O-LoRA's penalty ----
 * Freezing the attached adapter keeps a copy of it (with its options and an opaque tag: the run
 * file's row that stored it), adds its delta (alpha / rank) B A to the parameters, exactly as
 * lethe_model_lora_merge() would, and detaches it; a fresh adapter can then be attached. The
 * parameters as they were before the first freeze are kept and returned by
 * lethe_model_lora_base(), so base + the frozen deltas in order + the attached adapter is the
 * model. lethe_model_lora_merge() with frozen adapters merges the attached one too and then
 * forgets the frozen ones and the saved base: the parameters become the new base.
 * LETHE_EINVAL without an attached adapter; LETHE_ENOMEM. */
LETHE_EXPORT int lethe_model_lora_freeze(lethe_model *m, int64_t tag);
LETHE_EXPORT size_t lethe_model_lora_num_frozen(const lethe_model *m);
/* Frozen adapter i (0 is the first frozen): its block (owned by the model, *n floats, in the
 * order of lethe_model_lora_tensor() of a model with these options), options and tag; NULL when
 * i is out of range. */
LETHE_EXPORT const float *lethe_model_lora_frozen(const lethe_model *m, size_t i,
                                                  lethe_lora_options *opt, int64_t *tag, size_t *n);
/* The parameters before the first frozen adapter's delta was added (lethe_model_params() when
 * none is frozen); lethe_model_num_params() floats, owned by the model. */
LETHE_EXPORT const float *lethe_model_lora_base(const lethe_model *m);
/* O-LoRA's orthogonality penalty (Wang et al. 2023, as its code computes it):
 * lambda * sum over frozen adapters i and adapted projections of sum_jk |(A_i A^T)_jk|, with A
 * (rank, in) the attached adapter's and A_i the frozen one's. With grad_scale > 0 its gradient
 * times grad_scale, lambda sign(A_i A^T)^T A_i summed, is added to the attached adapter's
 * gradient block. 0 without an attached adapter; frozen adapters whose rank or targets differ
 * from the attached one's are skipped. Sums in double. */
LETHE_EXPORT double lethe_model_lora_orthogonal(lethe_model *m, float lambda, float grad_scale);

/* Greedy generation with a KV cache for n prompts (each at least one token): up to max_new tokens
 * each, stopping at stop_token (not included in the output) or at the context length.
 * out[i] (malloc'd, free each) receives the new tokens of prompt i, out_lens[i] their number. */
LETHE_EXPORT int lethe_model_generate(lethe_model *m, const int32_t *const *prompts,
                                      const int *prompt_lens, int n, int max_new, int stop_token,
                                      int32_t **out, int *out_lens);

/* Writes m, and tok unless it is NULL, as a Hugging Face Llama directory dir (docs/models.md):
 * config.json, model.safetensors (F32, Hugging Face's tensor names), generation_config.json, and
 * the tokenizer: lethe's own BPE as a byte-level BPE tokenizer.json with tokenizer_config.json, a
 * pretrained one's files copied from where it was opened (a llama2.c tokenizer has no such form:
 * LETHE_EINVAL). dir must not exist or be an empty directory (LETHE_EEXISTS otherwise); the files
 * are written into a temporary directory beside it and renamed into place, so a failed export
 * leaves nothing. lethe_model_open() on dir gives back the same parameters bit for bit. The
 * reason for a failure is lethe_model_errmsg(m). */
LETHE_EXPORT int lethe_model_export(lethe_model *m, const lethe_tokenizer *tok, const char *dir);
/* lethe_model_export() of m's parameters without its attached LoRA adapter (unmerged; with
 * per-stage adapters, the parameters hold the frozen earlier adapters' deltas), plus that adapter
 * as Hugging Face PEFT writes one: adapter_config.json (peft_type LORA, r, lora_alpha,
 * lora_dropout, target_modules, task_type CAUSAL_LM, bias none, fan_in_fan_out false,
 * base_model_name_or_path the absolute path of dir) and adapter_model.safetensors (F32, PEFT's
 * names: base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight [r, in], ...lora_B.weight
 * [out, r]). LETHE_EINVAL when m has no attached adapter; otherwise as lethe_model_export(). */
LETHE_EXPORT int lethe_model_export_adapter(lethe_model *m, const lethe_tokenizer *tok,
                                            const char *dir);
/* Learning-rate schedules. */
typedef enum lethe_schedule {
	LETHE_SCHEDULE_CONSTANT,
	LETHE_SCHEDULE_LINEAR,
	LETHE_SCHEDULE_COSINE
} lethe_schedule;
/* The learning rate at step (0-based) of total: linear warm-up over warmup steps, then constant,
 * linear decay to 0, or cosine decay to 0. */
LETHE_EXPORT float lethe_schedule_lr(lethe_schedule s, float lr, uint64_t step, uint64_t warmup,
                                     uint64_t total);

#ifdef __cplusplus
}
#endif

#endif
