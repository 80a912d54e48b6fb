/*
 * fuzz_safetensors.c: bytes -> a .safetensors file -> the header parser and the conversion of
 * every tensor (up to 1 Mi values) to float32.
 */
#include "fuzz.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write("m.safetensors", data, size);
	lethe_safetensors *st = NULL;
	if (lethe_safetensors_open(&st, path) == 0) {
		for (size_t i = 0; i < lethe_safetensors_count(st); i++) {
			const lethe_st_tensor *t = lethe_safetensors_at(st, i);
			uint64_t n = t->numel;
			if (n > ((size_t)1 << 20))
				continue;
			float *out = malloc((size_t)(n ? n : 1) * sizeof(*out));
			if (out)
				lethe_safetensors_to_f32(st, t, out);
			free(out);
		}
	}
	lethe_safetensors_free(st);
	return 0;
}
