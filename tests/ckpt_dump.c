/*
 * ckpt_dump.c: a test driver for the checkpoint reader (engine/model/checkpoint.c): opens a
 * Hugging Face directory or a llama2.c file, prints its configuration and tensor table, and
 * writes every tensor, in table order, as raw float32 to OUT, which tests/checkpoint.py compares
 * with the weights it wrote. A refused checkpoint prints its message with exit 2.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lethe/common.h>

#include "../engine/model/checkpoint.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ckpt_dump CHECKPOINT OUT\n");
		return 2;
	}
	lethe_checkpoint *c;
	if (lethe_checkpoint_open(&c, argv[1])) {
		fprintf(stderr, "%s\n", lethe_checkpoint_errmsg(c));
		lethe_checkpoint_free(c);
		return 2;
	}
	const lethe_ckpt_config *g = lethe_checkpoint_config(c);
	lethe_ckpt_tokenizer kind;
	const char *tok = lethe_checkpoint_tokenizer(c, &kind);
	printf(
	    "format %d vocab %d dim %d layers %d heads %d kv_heads %d head_dim %d ff %d context %d "
	    "tied %d norm_eps %.9g rope_theta %.9g llama3 %d factor %.9g low %.9g high %.9g "
	    "original %d bos %d eos %d tokenizer %d %s\n",
	    (int)lethe_checkpoint_format(c), g->vocab, g->dim, g->layers, g->heads, g->kv_heads,
	    g->head_dim, g->ff, g->context, g->tied, g->norm_eps, g->rope_theta, g->rope_llama3,
	    g->rope_factor, g->rope_low_freq_factor, g->rope_high_freq_factor,
	    g->rope_original_context, (int)g->bos, (int)g->eos, (int)kind, tok ? tok : "-");
	FILE *o = fopen(argv[2], "wb");
	if (!o) {
		perror(argv[2]);
		return 1;
	}
	int status = 0;
	for (size_t i = 0; i < lethe_checkpoint_n_tensors(c); i++) {
		size_t rows, cols;
		const char *name = lethe_checkpoint_tensor_name(c, i, &rows, &cols);
		printf("%s %zu %zu\n", name, rows, cols);
		float *buf = malloc(rows * cols * sizeof *buf);
		if (!buf || lethe_checkpoint_read(c, i, buf)) {
			fprintf(stderr, "%s\n", buf ? lethe_checkpoint_errmsg(c) : "out of memory");
			status = 1;
		} else
			fwrite(buf, sizeof *buf, rows * cols, o);
		free(buf);
	}
	fclose(o);
	lethe_checkpoint_free(c);
	return status;
}
