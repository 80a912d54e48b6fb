/*
 * checkpoint.h: pretrained checkpoints of the Llama family, read and checked before any weight
 * is used: a Hugging Face model directory (config.json of model_type llama, or mistral without
 * a sliding window; model.safetensors or shards listed by model.safetensors.index.json; F32,
 * F16 or BF16), or a llama2.c checkpoint (.bin: the legacy header, version 1 in float32 or
 * version 2 in Q8_0). Whatever the format, tensors are handed out under Hugging Face's names in
 * Hugging Face's layout (rotate-half RoPE: llama2.c's interleaved q and k rows are permuted as
 * transformers' convert_llama_weights_to_hf does) and in float32.
 *
 * Every value is checked before use: config keys that would change the computation (biases,
 * another activation, another rope scaling, a sliding window, tensor parallel slices) are refused
 * by name; every expected tensor must be present with the shape the configuration implies and no
 * tensor may be left over; a llama2.c file must have exactly the size its header implies. A
 * refusal is one line naming the file and the key or tensor. Private to liblethe.
 */
#ifndef LETHE_CHECKPOINT_H
#define LETHE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef enum lethe_ckpt_format {
	LETHE_CKPT_HF,     /* a Hugging Face directory */
	LETHE_CKPT_LLAMA2C /* a llama2.c .bin file */
} lethe_ckpt_format;

typedef enum lethe_ckpt_tokenizer {
	LETHE_CKPT_TOK_NONE,
	LETHE_CKPT_TOK_HF_JSON, /* tokenizer.json (byte-level BPE) */
	LETHE_CKPT_TOK_SP,      /* tokenizer.model (SentencePiece) */
	LETHE_CKPT_TOK_LLAMA2C  /* tokenizer.bin beside a llama2.c checkpoint */
} lethe_ckpt_tokenizer;

typedef struct lethe_ckpt_config {
	int vocab;    /* V */
	int dim;      /* C */
	int layers;   /* L */
	int heads;    /* NH */
	int kv_heads; /* NKV: NH % NKV == 0 (grouped-query attention when smaller) */
	int head_dim; /* HS */
	int ff;       /* SwiGLU hidden size */
	int context;  /* max_position_embeddings (llama2.c: seq_len) */
	int tied;     /* lm_head shares the embeddings */
	float norm_eps;
	float rope_theta;
	int rope_llama3; /* rope_scaling of type llama3, with: */
	float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
	int rope_original_context;
	int32_t bos, eos; /* -1 when the checkpoint does not say */
} lethe_ckpt_config;

typedef struct lethe_checkpoint lethe_checkpoint;

/* Opens a directory (Hugging Face) or a file (llama2.c). *out is set even on failure (except
 * LETHE_ENOMEM) so that lethe_checkpoint_errmsg() can say why; free it either way. */
int lethe_checkpoint_open(lethe_checkpoint **out, const char *path);
void lethe_checkpoint_free(lethe_checkpoint *c);
const char *lethe_checkpoint_errmsg(const lethe_checkpoint *c);

lethe_ckpt_format lethe_checkpoint_format(const lethe_checkpoint *c);
const lethe_ckpt_config *lethe_checkpoint_config(const lethe_checkpoint *c);
/* The tokenizer file found beside the weights (NULL and NONE when there is none). */
const char *lethe_checkpoint_tokenizer(const lethe_checkpoint *c, lethe_ckpt_tokenizer *kind);

/* The tensors the configuration implies, under Hugging Face's names, in the order of a
 * transformers state dict: model.embed_tokens.weight, then per layer input_layernorm,
 * self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj, then model.norm
 * and, when untied, lm_head. rows x cols (cols 1 for a vector). */
size_t lethe_checkpoint_n_tensors(const lethe_checkpoint *c);
const char *lethe_checkpoint_tensor_name(const lethe_checkpoint *c, size_t i, size_t *rows,
                                         size_t *cols);
/* Reads tensor i as rows * cols floats into out. */
int lethe_checkpoint_read(lethe_checkpoint *c, size_t i, float *out);

#endif
