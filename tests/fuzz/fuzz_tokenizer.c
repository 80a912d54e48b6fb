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

static lethe_hf_tokenizer *hf;
static char *hf_decode(const int32_t *ids, size_t n)
{
	char *out = NULL;
	size_t len;
	lethe_hf_tokenizer_decode(hf, ids, n, &out, &len);
	return out;
}
static lethe_l2c_tokenizer *l2c;
static char *l2c_decode(const int32_t *ids, size_t n)
{
	char *out = NULL;
	size_t len;
	lethe_l2c_tokenizer_decode(l2c, ids, n, &out, &len);
	return out;
}
static lethe_sp_tokenizer *sp;
static char *sp_decode(const int32_t *ids, size_t n)
{
	char *out = NULL;
	size_t len;
	lethe_sp_tokenizer_decode(sp, ids, n, &out, &len);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int32_t *ids = NULL;
	size_t n = 0;
	switch (data[0] % 3) { /* ids is freed after the switch */
	case 0:
		if (lethe_hf_tokenizer_load(
		        &hf, fuzz_write("tokenizer.json", data + 1, size - 1)) == 0 &&
		    lethe_hf_tokenizer_encode(hf, text, strlen(text), &ids, &n) == 0)
			free(hf_decode(ids, n));
		lethe_hf_tokenizer_free(hf);
		hf = NULL;
		break;
	case 1:
		if (lethe_l2c_tokenizer_load(&l2c, fuzz_write("tokenizer.bin", data + 2, size - 2),
		                             259 + data[1]) == 0 &&
		    lethe_l2c_tokenizer_encode(l2c, text, strlen(text), &ids, &n) == 0)
			free(l2c_decode(ids, n));
		lethe_l2c_tokenizer_free(l2c);
		l2c = NULL;
		break;
	default:
		if (lethe_sp_tokenizer_load(
		        &sp, fuzz_write("tokenizer.model", data + 1, size - 1)) == 0 &&
		    lethe_sp_tokenizer_encode(sp, text, strlen(text), &ids, &n) == 0)
			free(sp_decode(ids, n));
		lethe_sp_tokenizer_free(sp);
		sp = NULL;
		break;
	}
	free(ids);
	return 0;
}
