/*
 * fuzz_tokenizer.c: the readers of pretrained tokenizers. The first byte picks one (0:
 * tokenizer.json, 1: llama2.c tokenizer.bin with a vocabulary size from the second byte, 2:
 * SentencePiece tokenizer.model); the rest is the file. A tokenizer that loads encodes and
 * decodes a fixed text with characters from several scripts.
 */
#include "fuzz.h"
#include "model/hf_tokenizer.h"
#include "model/l2c_tokenizer.h"
#include "model/sp_tokenizer.h"

static const char text[] = "Hello, wörld! 東京 🙂 \t  a  b\n<s></s>";

/* One format's round trip: load path (with a vocabulary size for llama2.c's, which does not
 * store one), encode text, decode the ids. P is the format's prefix (lethe_P_tokenizer_*). */
#define ROUND_TRIP(P, ...)                                                                         \
	static void round_trip_##P(const char *path, size_t vocab)                                 \
	{                                                                                          \
		lethe_##P##_tokenizer *t = NULL;                                                   \
		int32_t *ids = NULL;                                                               \
		size_t n = 0, len = 0;                                                             \
		char *out = NULL;                                                                  \
		(void)vocab;                                                                       \
		if (lethe_##P##_tokenizer_load(&t, __VA_ARGS__) == 0 &&                            \
		    lethe_##P##_tokenizer_encode(t, text, strlen(text), &ids, &n) == 0)            \
			lethe_##P##_tokenizer_decode(t, ids, n, &out, &len);                       \
		free(out);                                                                         \
		free(ids);                                                                         \
		lethe_##P##_tokenizer_free(t);                                                     \
	}
ROUND_TRIP(hf, path)
ROUND_TRIP(l2c, path, vocab)
ROUND_TRIP(sp, path)

/* Per first byte (mod 3): the file's name, the header bytes before it (the selector, and for
 * llama2.c the vocabulary size above 259) and its round trip. */
static const struct format {
	const char *file;
	size_t header;
	void (*round_trip)(const char *path, size_t vocab);
} formats[3] = {{"tokenizer.json", 1, round_trip_hf},
                {"tokenizer.bin", 2, round_trip_l2c},
                {"tokenizer.model", 1, round_trip_sp}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const struct format *f = &formats[data[0] % 3];
	f->round_trip(fuzz_write(f->file, data + f->header, size - f->header), 259 + data[1]);
	return 0;
}
