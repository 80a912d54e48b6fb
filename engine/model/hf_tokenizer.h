/*
 * hf_tokenizer.h: Hugging Face byte-level BPE tokenizers (tokenizer.json of the GPT-2, Llama 3,
 * SmolLM and Qwen families), encoding and decoding exactly as the `tokenizers` library does:
 * added tokens matched first (leftmost, then longest), each other segment split by the
 * pre-tokenizers (Split with a regular expression, Digits, ByteLevel with or without GPT-2's
 * pattern), bytes mapped to GPT-2's printable characters, then BPE merges by rank (with
 * `ignore_merges`, a piece that is itself in the vocabulary is one token).
 *
 * Split patterns use \p{L}, \p{N} and look-ahead: they are compiled by PCRE2 (UTF and Unicode
 * properties, JIT when available), not by a hand-written matcher. What the file asks for and this
 * reader does not do (another model type, a normalizer, byte fallback, lstrip on added tokens, an
 * unknown pre-tokenizer) is refused by name. Private to liblethe.
 */
#ifndef LETHE_HF_TOKENIZER_H
#define LETHE_HF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct lethe_hf_tokenizer lethe_hf_tokenizer;

/* Reads tokenizer.json at path. *out is set even on failure (except LETHE_ENOMEM) so that
 * lethe_hf_tokenizer_errmsg() can say why; free it either way. */
int lethe_hf_tokenizer_load(lethe_hf_tokenizer **out, const char *path);
void lethe_hf_tokenizer_free(lethe_hf_tokenizer *t);
const char *lethe_hf_tokenizer_errmsg(const lethe_hf_tokenizer *t);

/* Token ids of text (UTF-8; LETHE_EINVAL with the byte offset for invalid UTF-8). No BOS or EOS
 * is added. *ids is malloc'd. Not thread-safe (one match context per tokenizer). */
int lethe_hf_tokenizer_encode(lethe_hf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                              size_t *n);
/* The bytes of ids, as the ByteLevel decoder gives them (special tokens included as their
 * text), NUL-terminated; *out is malloc'd. LETHE_EINVAL for an id outside the vocabulary. */
int lethe_hf_tokenizer_decode(lethe_hf_tokenizer *t, const int32_t *ids, size_t n, char **out,
                              size_t *len);
/* One more than the largest id (the model's vocabulary must be at least this). */
size_t lethe_hf_tokenizer_vocab_size(const lethe_hf_tokenizer *t);
/* The id of a token given by its text (an added token's content or a vocabulary entry), or -1. */
int32_t lethe_hf_tokenizer_token_id(const lethe_hf_tokenizer *t, const char *text);

#endif
