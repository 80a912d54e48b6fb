/*
 * cmd_export.c: `lethe export MODEL DIR`, a run's model (a trained row of a run file, or any
 * checkpoint lethe reads) written as a Hugging Face Llama directory that transformers loads
 * without conversion and `model: {from: DIR}` reads back bit for bit (lethe_model_export);
 * with --adapter, the row's unmerged LoRA adapter beside it as PEFT's files
 * (lethe_model_export_adapter).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <lethe/lethe.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe export [--stage NAME] [--weights-only] [--adapter] MODEL DIR\n\n"
	    "Writes MODEL as a Hugging Face Llama directory DIR (config.json, model.safetensors\n"
	    "in float32, generation_config.json and the tokenizer) that\n"
	    "transformers.LlamaForCausalLM.from_pretrained(DIR) and AutoTokenizer load. MODEL is\n"
	    "a run file (its last trained stage, or --stage NAME), a Hugging Face directory or a\n"
	    "llama2.c checkpoint. DIR must not exist or be empty.\n\n"
	    "  -s, --stage NAME    the model after stage NAME of a run file\n"
	    "      --adapter       keep the stage's unmerged LoRA adapter apart: the base (with\n"
	    "                      earlier per-stage adapters merged into it) as above, plus\n"
	    "                      PEFT's adapter_config.json and adapter_model.safetensors\n"
	    "      --weights-only  leave the tokenizer out (a llama2.c tokenizer has no Hugging\n"
	    "                      Face form)\n"
	    "  -h, --help          show this help\n");
}

int lethe_cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {{"stage", required_argument, NULL, 's'},
	                                         {"weights-only", no_argument, NULL, 'w'},
	                                         {"adapter", no_argument, NULL, 'a'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	const char *stage = NULL;
	int weights_only = 0, adapter = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': stage = optarg; break;
		case 'w': weights_only = 1; break;
		case 'a': adapter = 1; break;
		case 'h': help(stdout); return LETHE_EXIT_OK;
		case ':':
			lethe_cli_error("export: option '%s' needs a value", argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		default:
			lethe_cli_error("export: unknown option '%s' (try 'lethe export --help')",
			                argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		lethe_cli_error("export: expected MODEL and DIR (try 'lethe export --help')");
		return LETHE_EXIT_USAGE;
	}
	const char *src = argv[optind], *dir = argv[optind + 1];
	lethe_tokenizer *tok = NULL;
	lethe_model *m;
	int rc = lethe_cli_model_source(src, stage, 0, weights_only ? NULL : &tok, &m);
	/* --adapter: the row's unmerged adapter as PEFT's files beside the base it goes on (with
	 * per-stage adapters, the earlier stages' already merged into that base). */
	if (!rc && adapter) {
		if (!lethe_model_lora(m)) {
			lethe_cli_error(
			    "%s: %s has no unmerged LoRA adapter to export (--adapter needs "
			    "a stage that left its adapter unmerged)",
			    src, stage ? stage : "the last trained stage");
			rc = LETHE_EINVAL;
		} else if ((rc = lethe_model_export_adapter(m, tok, dir)))
			lethe_cli_error("%s", lethe_model_errmsg(m));
	}
	/* A row's unmerged LoRA adapter is part of its model: exported merged into the base
	 * (PEFT's merge_and_unload), so transformers computes what the row evaluated. */
	else if (!rc && lethe_model_lora(m) && (rc = lethe_model_lora_merge(m)))
		lethe_cli_error("%s: merging its adapter: %s", src, lethe_model_errmsg(m));
	else if (!rc && (rc = lethe_model_export(m, tok, dir)))
		lethe_cli_error("%s", lethe_model_errmsg(m));
	lethe_model_free(m);
	lethe_tokenizer_free(tok);
	if (rc)
		return rc == LETHE_ENOMEM || rc == LETHE_EIO ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
	return LETHE_EXIT_OK;
}
