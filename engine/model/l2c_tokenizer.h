/*
 * l2c_tokenizer.h: llama2.c's tokenizer.bin (its export of a SentencePiece vocabulary: each
 * piece's score and bytes, '▁' written as a space, <0xXX> byte pieces), encoding as llama2.c's
 * run.c does: a dummy-prefix space, one piece per UTF-8 character (or byte fallback to ids
 * 3 + byte), then merging the adjacent pair whose joined text is in the vocabulary with the highest
 * score, leftmost first, until none is left. Private to liblethe.
 */
#ifndef LETHE_L2C_TOKENIZER_H
#define LETHE_L2C_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct lethe_l2c_tokenizer lethe_l2c_tokenizer;

/* Reads path, which holds vocab_size pieces (the checkpoint's vocabulary). *out is set even on
 * failure (except LETHE_ENOMEM) so that lethe_l2c_tokenizer_errmsg() can say why. */
int lethe_l2c_tokenizer_load(lethe_l2c_tokenizer **out, const char *path, size_t vocab_size);
void lethe_l2c_tokenizer_free(lethe_l2c_tokenizer *t);
const char *lethe_l2c_tokenizer_errmsg(const lethe_l2c_tokenizer *t);
/* Ids of text without BOS or EOS (run.c's encode with bos = eos = 0); *ids is malloc'd. */
int lethe_l2c_tokenizer_encode(lethe_l2c_tokenizer *t, const char *text, size_t len, int32_t **ids,
                               size_t *n);
/* Text of ids: byte pieces (ids 3..258) as their byte, the leading space of the first piece
 * (the dummy prefix) or of a piece after BOS dropped, as SentencePiece decodes. run.c differs in
 * two ways that would corrupt text: it prints byte pieces >= 0x80 as two-byte characters and
 * keeps the first piece's space. *out is malloc'd. */
int lethe_l2c_tokenizer_decode(lethe_l2c_tokenizer *t, const int32_t *ids, size_t n, char **out,
                               size_t *len);

#endif
