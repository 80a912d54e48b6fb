/*
 * sp_tokenizer.h: SentencePiece tokenizers (tokenizer.model of Llama 2, TinyLlama, Mistral)
 * through Debian's libsentencepiece, the library that wrote them, so ids are the reference's by
 * construction. libsentencepiece is C++: sp_tokenizer.cc is a thin C shim that turns its
 * statuses and exceptions into lethe's codes and messages. Private to liblethe.
 */
#ifndef LETHE_SP_TOKENIZER_H
#define LETHE_SP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lethe_sp_tokenizer lethe_sp_tokenizer;

/* Loads a SentencePiece model file. *out is set even on failure (except LETHE_ENOMEM) so that
 * lethe_sp_tokenizer_errmsg() can say why; free it either way. */
int lethe_sp_tokenizer_load(lethe_sp_tokenizer **out, const char *path);
void lethe_sp_tokenizer_free(lethe_sp_tokenizer *t);
const char *lethe_sp_tokenizer_errmsg(const lethe_sp_tokenizer *t);

/* Ids of text, without BOS or EOS; *ids is malloc'd. */
int lethe_sp_tokenizer_encode(lethe_sp_tokenizer *t, const char *text, size_t len, int32_t **ids,
                              size_t *n);
/* Text of ids, NUL-terminated; *out is malloc'd. LETHE_EINVAL for an id outside the vocabulary. */
int lethe_sp_tokenizer_decode(lethe_sp_tokenizer *t, const int32_t *ids, size_t n, char **out,
                              size_t *len);
size_t lethe_sp_tokenizer_vocab_size(const lethe_sp_tokenizer *t);
/* The model's BOS and EOS ids, -1 when it has none. */
int32_t lethe_sp_tokenizer_bos(const lethe_sp_tokenizer *t);
int32_t lethe_sp_tokenizer_eos(const lethe_sp_tokenizer *t);

#ifdef __cplusplus
}
#endif

#endif
