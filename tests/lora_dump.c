/*
 * lora_dump.c: a test helper, not a test. Builds a model from a seed, attaches a LoRA adapter
 * (its B filled with non-zero values, so that every adapter gradient matters), runs one training
 * forward and backward on a deterministic batch and writes everything to a directory as raw
 * little-endian arrays plus meta.json, for tests/lora.py to replay in PyTorch:
 *   params.bin, lora.bin (float32 blocks), tokens.bin, targets.bin (int32, B x T),
 *   logits.bin (float32, targeted rows x V), lora_grads.bin (float32, the adapter's block).
 * Usage: lora_dump DIR VOCAB CONTEXT DIM LAYERS HEADS KV_HEADS B RANK ALPHA TARGETS SEED
 * (threads: LETHE_DUMP_THREADS, default 1)
 * (TARGETS: the LETHE_LORA_* bit mask).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

static int write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, bytes, f) != bytes) {
		fprintf(stderr, "lora_dump: cannot write %s\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	if (argc != 13) {
		fprintf(stderr,
		        "usage: lora_dump DIR VOCAB CONTEXT DIM LAYERS HEADS KV_HEADS B RANK "
		        "ALPHA TARGETS SEED\n");
		return 2;
	}
	const char *dir = argv[1];
	lethe_model_config c = {.vocab = atoi(argv[2]),
	                        .context = atoi(argv[3]),
	                        .dim = atoi(argv[4]),
	                        .layers = atoi(argv[5]),
	                        .heads = atoi(argv[6]),
	                        .kv_heads = atoi(argv[7]),
	                        .tied = 1};
	int B = atoi(argv[8]), T = c.context;
	lethe_lora_options o = {.rank = atoi(argv[9]),
	                        .alpha = (float)atof(argv[10]),
	                        .targets = (unsigned)strtoul(argv[11], NULL, 0)};
	unsigned seed = (unsigned)atoi(argv[12]);
	char err[256];
	if (lethe_model_config_check(&c, err, sizeof(err))) {
		fprintf(stderr, "lora_dump: %s\n", err);
		return 2;
	}
	const char *threads = getenv("LETHE_DUMP_THREADS");
	lethe_set_threads(threads ? atoi(threads) : 1);
	lethe_model *m;
	if (lethe_model_new(&m, &c, seed))
		return 1;
	if (lethe_model_lora_attach(m, &o, seed + 1)) {
		fprintf(stderr, "lora_dump: %s\n", lethe_model_errmsg(m));
		return 1;
	}
	float *lp = lethe_model_lora_params(m);
	unsigned s = seed * 31u + 7;
	for (size_t t = 0; t < lethe_model_lora_num_tensors(m); t++) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
		if (strstr(ti->name, "lora_B"))
			for (size_t k = 0; k < ti->size; k++) {
				s = s * 1103515245u + 12345u;
				lp[ti->offset + k] =
				    0.2f * ((float)((s >> 8) % 2001u) / 1000.0f - 1.0f);
			}
	}
	size_t n = lethe_model_num_params(m), nl = lethe_model_lora_num_params(m);
	size_t BT = (size_t)B * T;
	int32_t *tok = malloc(BT * sizeof(int32_t)), *tgt = malloc(BT * sizeof(int32_t));
	for (size_t i = 0; i < BT; i++) {
		s = s * 1103515245u + 12345u;
		tok[i] = (int32_t)((s >> 8) % (unsigned)c.vocab);
	}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			tgt[(size_t)b * T + t] =
			    t < 2 + b || t == T - 1 ? -1 : tok[(size_t)b * T + t + 1];
	int rc = write_file(dir, "params.bin", lethe_model_params(m), n * sizeof(float)) ||
	         write_file(dir, "lora.bin", lp, nl * sizeof(float)) ||
	         write_file(dir, "tokens.bin", tok, BT * sizeof(int32_t)) ||
	         write_file(dir, "targets.bin", tgt, BT * sizeof(int32_t));
	lethe_batch batch = {B, T, tok, tgt};
	float loss;
	lethe_model_zero_grad(m);
	size_t nt = 0;
	for (size_t i = 0; i < BT; i++)
		nt += tgt[i] >= 0;
	/* The logits before backward, which turns them into their gradient in place. */
	if (rc || lethe_model_forward(m, &batch, 1, &loss, NULL, NULL) ||
	    write_file(dir, "logits.bin", lethe_model_logits(m),
	               nt * (size_t)c.vocab * sizeof(float)) ||
	    lethe_model_backward(m)) {
		fprintf(stderr, "lora_dump: %s\n", lethe_model_errmsg(m));
		return 1;
	}
	rc = write_file(dir, "lora_grads.bin", lethe_model_lora_grads(m), nl * sizeof(float));
	char path[1024];
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	FILE *f = fopen(path, "w");
	if (rc || !f)
		return 1;
	fprintf(f,
	        "{\"vocab\": %d, \"context\": %d, \"dim\": %d, \"layers\": %d, \"heads\": %d, "
	        "\"kv_heads\": %d, \"head_dim\": %d, \"ff\": %d, \"B\": %d, \"loss\": %.9g, "
	        "\"rank\": %d, \"alpha\": %.9g, \"norm_eps\": %.9g, \"rope_theta\": %.9g, "
	        "\"tensors\": [",
	        c.vocab, c.context, c.dim, c.layers, c.heads, c.kv_heads, c.head_dim, c.ff, B,
	        (double)loss, o.rank, (double)o.alpha, (double)c.norm_eps, (double)c.rope_theta);
	for (size_t i = 0; i < lethe_model_num_tensors(m); i++) {
		const lethe_tensor_info *t = lethe_model_tensor(m, i);
		fprintf(f, "%s{\"name\": \"%s\", \"offset\": %zu, \"rows\": %d, \"cols\": %d}",
		        i ? ", " : "", t->name, t->offset, t->rows, t->cols);
	}
	fprintf(f, "], \"lora\": [");
	for (size_t i = 0; i < lethe_model_lora_num_tensors(m); i++) {
		const lethe_tensor_info *t = lethe_model_lora_tensor(m, i);
		fprintf(f, "%s{\"name\": \"%s\", \"offset\": %zu, \"rows\": %d, \"cols\": %d}",
		        i ? ", " : "", t->name, t->offset, t->rows, t->cols);
	}
	fprintf(f, "]}\n");
	fclose(f);
	free(tok);
	free(tgt);
	lethe_model_free(m);
	return 0;
}
