/*
 * tokenizer_pretrained.h: the tokenizers of pretrained models behind lethe_tokenizer
 * (tokenizer.c dispatches to them): Hugging Face byte-level BPE (hf_tokenizer.c), SentencePiece
 * (sp_tokenizer.cc) and llama2.c's tokenizer.bin (l2c_tokenizer.c), with the model's special
 * tokens. Private to engine/model/.
 */
#ifndef LETHE_TOKENIZER_PRETRAINED_H
#define LETHE_TOKENIZER_PRETRAINED_H

#include <stddef.h>
#include <stdint.h>

#include <lethe/model.h>

typedef struct lethe_pretrained_tok lethe_pretrained_tok;

/* errmsg receives the reason on failure. */
int lethe_pretrained_tok_open(lethe_pretrained_tok **out, const char *path, char *errmsg,
                              size_t errmsg_size);
void lethe_pretrained_tok_free(lethe_pretrained_tok *p);
const char *lethe_pretrained_tok_errmsg(const lethe_pretrained_tok *p);
const char *lethe_pretrained_tok_kind(const lethe_pretrained_tok *p);
size_t lethe_pretrained_tok_vocab(const lethe_pretrained_tok *p);
int32_t lethe_pretrained_tok_special(const lethe_pretrained_tok *p, lethe_special_token which);
int lethe_pretrained_tok_encode(lethe_pretrained_tok *p, const char *text, size_t len,
                                int32_t **ids, size_t *n);
int lethe_pretrained_tok_decode(lethe_pretrained_tok *p, const int32_t *ids, size_t n, char **out,
                                size_t *len);

#endif
