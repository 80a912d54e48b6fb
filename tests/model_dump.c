/*
 * model_dump.c: a test helper, not a test. Builds a model from a seed, runs one training
 * forward and backward on a deterministic batch and one AdamW step, and writes everything to a
 * directory as raw little-endian arrays plus meta.json, for tests/parity.py to replay in PyTorch:
 *   params.bin (float32, the parameter block), tokens.bin, targets.bin (int32, B x T),
 *   logits.bin (float32, targeted rows x V), grads.bin, params_after.bin (float32 blocks).
 * Usage: model_dump DIR VOCAB CONTEXT DIM LAYERS HEADS TIED B SEED
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
		fprintf(stderr, "model_dump: cannot write %s\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr,
		        "usage: model_dump DIR VOCAB CONTEXT DIM LAYERS HEADS TIED B SEED\n");
		return 2;
	}
	const char *dir = argv[1];
	lethe_model_config c = {.vocab = atoi(argv[2]),
	                        .context = atoi(argv[3]),
	                        .dim = atoi(argv[4]),
	                        .layers = atoi(argv[5]),
	                        .heads = atoi(argv[6]),
	                        .tied = atoi(argv[7])};
	int B = atoi(argv[8]), T = c.context;
	unsigned seed = (unsigned)atoi(argv[9]);
	char err[256];
	if (lethe_model_config_check(&c, err, sizeof(err))) {
		fprintf(stderr, "model_dump: %s\n", err);
		return 2;
	}
	const char *threads = getenv("LETHE_DUMP_THREADS");
	lethe_set_threads(threads ? atoi(threads) : 1);
	lethe_model *m;
	if (lethe_model_new(&m, &c, seed))
		return 1;
	/* LETHE_DUMP_PRECISION=bf16: the products in bf16 (tests/parity.py's bf16 case); exit 77
	 * (skip) where this build or CPU cannot. */
	const char *precision = getenv("LETHE_DUMP_PRECISION");
	if (precision && !strcmp(precision, "bf16") &&
	    lethe_model_set_precision(m, LETHE_PRECISION_BF16)) {
		fprintf(stderr, "model_dump: %s\n", lethe_model_errmsg(m));
		lethe_model_free(m);
		return 77;
	}
	size_t n = lethe_model_num_params(m), BT = (size_t)B * T;
	int32_t *tok = malloc(BT * sizeof(int32_t)), *tgt = malloc(BT * sizeof(int32_t));
	unsigned s = seed * 7919u + 1;
	for (size_t i = 0; i < BT; i++) {
		s = s * 1103515245u + 12345u;
		tok[i] = (int32_t)((s >> 8) % (unsigned)c.vocab);
	}
	/* Sequence b: a prompt of 2 + b tokens without loss, padding for the last b positions. */
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			int prompt = t < 2 + b, pad = t >= T - 1 - b;
			tgt[(size_t)b * T + t] = prompt || pad ? -1 : tok[(size_t)b * T + t + 1];
		}
	int rc = write_file(dir, "params.bin", lethe_model_params(m), n * sizeof(float)) ||
	         write_file(dir, "tokens.bin", tok, BT * sizeof(int32_t)) ||
	         write_file(dir, "targets.bin", tgt, BT * sizeof(int32_t));
	lethe_batch batch = {B, T, tok, tgt};
	float loss, norm;
	lethe_model_zero_grad(m);
	if (rc || lethe_model_forward(m, &batch, 1, &loss, NULL, NULL)) {
		fprintf(stderr, "model_dump: forward: %s\n", lethe_model_errmsg(m));
		return 1;
	}
	size_t nt = 0;
	for (size_t i = 0; i < BT; i++)
		nt += tgt[i] >= 0;
	rc = write_file(dir, "logits.bin", lethe_model_logits(m),
	                nt * (size_t)c.vocab * sizeof(float));
	lethe_model_backward(m);
	rc = rc || write_file(dir, "grads.bin", lethe_model_grads(m), n * sizeof(float));
	lethe_adamw opt = {0.9f, 0.95f, 1e-8f, 0.1f, 1};
	if (rc || lethe_model_step(m, &opt, 1e-3f, 0.0f, 1.0f, &norm))
		return 1;
	rc = write_file(dir, "params_after.bin", lethe_model_params(m), n * sizeof(float));
	char path[1024];
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f,
	        "{\"vocab\": %d, \"context\": %d, \"dim\": %d, \"layers\": %d, \"heads\": %d, "
	        "\"ff\": %d, "
	        "\"tied\": %d, \"B\": %d, \"loss\": %.9g, \"grad_norm\": %.9g, \"lr\": 0.001, "
	        "\"betas\": [0.9, 0.95], "
	        "\"eps\": 1e-8, \"weight_decay\": 0.1, \"norm_eps\": %.9g, \"rope_theta\": %.9g, "
	        "\"tensors\": [",
	        c.vocab, c.context, c.dim, c.layers, c.heads, c.ff, c.tied, B, (double)loss,
	        (double)norm, (double)c.norm_eps, (double)c.rope_theta);
	for (size_t i = 0; i < lethe_model_num_tensors(m); i++) {
		const lethe_tensor_info *t = lethe_model_tensor(m, i);
		fprintf(f, "%s{\"name\": \"%s\", \"offset\": %zu, \"rows\": %d, \"cols\": %d}",
		        i ? ", " : "", t->name, t->offset, t->rows, t->cols);
	}
	fprintf(f, "]}\n");
	fclose(f);
	free(tok);
	free(tgt);
	lethe_model_free(m);
	return rc;
}
