/*
 * cmd_generate.c: `lethe generate MODEL`, greedy decoding with the KV cache: MODEL is a Hugging
 * Face directory, a llama2.c checkpoint or a run file (a trained stage's model). Each prompt is
 * fed as BOS followed by its tokens, exactly what --json reports as prompt_ids; generation stops
 * at the model's end token or after --max-new-tokens. What a user types first after loading a
 * model, and what the tests compare with a PyTorch reference.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <lethe/lethe.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lethe generate [options] MODEL [FILE]\n\n"
	    "Continues each prompt greedily (the KV cache) with MODEL: a Hugging Face model\n"
	    "directory, a llama2.c checkpoint, or a run file (--stage picks a trained stage,\n"
	    "default the last). Prompts: --prompt TEXT, or one per line of FILE (or standard\n"
	    "input). Each prompt is fed as BOS then its tokens; generation stops at the model's\n"
	    "end token.\n\n"
	    "      --prompt TEXT         one prompt\n"
	    "  -n, --max-new-tokens N    at most N new tokens (default 64)\n"
	    "      --stage NAME          a run file's stage\n"
	    "      --threads N           threads (default 1)\n"
	    "      --json                one line per prompt: {\"prompt\", \"prompt_ids\", "
	    "\"ids\", \"text\"}\n"
	    "  -h, --help                show this help\n");
}

static cJSON *id_array(const int32_t *ids, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

/* Generates one prompt's continuation and prints it. */
static int one(lethe_tokenizer *tok, lethe_model *m, const char *text, size_t len, int max_new,
               int json)
{
	int32_t *ids = NULL, *out = NULL;
	size_t n;
	int rc = lethe_tokenizer_encode(tok, text, len, &ids, &n);
	if (rc) {
		lethe_cli_error("%s", lethe_tokenizer_errmsg(tok));
		return rc;
	}
	int32_t bos = lethe_tokenizer_special(tok, LETHE_SPECIAL_BOS);
	int32_t eos = lethe_tokenizer_special(tok, LETHE_SPECIAL_EOS);
	int context = lethe_model_config_of(m)->context;
	int32_t *prompt = malloc((n + 1) * sizeof(*prompt));
	if (!prompt) {
		free(ids);
		return LETHE_ENOMEM;
	}
	int np = 0;
	if (bos >= 0)
		prompt[np++] = bos;
	memcpy(prompt + np, ids, n * sizeof(*ids));
	np += (int)n;
	free(ids);
	if (np == 0 || np >= context) {
		lethe_cli_error(
		    "generate: a prompt of %d tokens does not leave room in the model's "
		    "context of %d",
		    np, context);
		free(prompt);
		return LETHE_EINVAL;
	}
	const int32_t *prompts[1] = {prompt};
	int lens[1] = {np}, out_len = 0;
	if ((rc = lethe_model_generate(m, prompts, lens, 1, max_new, eos >= 0 ? eos : -1, &out,
	                               &out_len))) {
		lethe_cli_error("generate: %s", lethe_model_errmsg(m));
		free(prompt);
		return rc;
	}
	char *raw = NULL, *gen = NULL;
	size_t gen_len;
	if ((rc = lethe_tokenizer_decode(tok, out, (size_t)out_len, &raw, &gen_len)))
		lethe_cli_error("%s", lethe_tokenizer_errmsg(tok));
	else if (!(gen = lethe_cli_utf8_lossy(raw, gen_len)))
		rc = LETHE_ENOMEM;
	else if (json) {
		cJSON *o = cJSON_CreateObject();
		char *t = strndup(text, len), *s = NULL;
		if (o && t && cJSON_AddStringToObject(o, "prompt", t) &&
		    cJSON_AddItemToObject(o, "prompt_ids", id_array(prompt, (size_t)np)) &&
		    cJSON_AddItemToObject(o, "ids", id_array(out, (size_t)out_len)) &&
		    cJSON_AddStringToObject(o, "text", gen) && (s = cJSON_PrintUnformatted(o)))
			printf("%s\n", s);
		else
			rc = LETHE_ENOMEM;
		free(s);
		free(t);
		cJSON_Delete(o);
	} else
		printf("%s\n", gen);
	free(gen);
	free(raw);
	free(out);
	free(prompt);
	return rc;
}

int lethe_cmd_generate(int argc, char **argv)
{
	enum { OPT_PROMPT = 256, OPT_STAGE, OPT_JSON, OPT_THREADS };
	static const struct option longopts[] = {
	    {"prompt", required_argument, NULL, OPT_PROMPT},
	    {"max-new-tokens", required_argument, NULL, 'n'},
	    {"stage", required_argument, NULL, OPT_STAGE},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *prompt = NULL, *stage = NULL;
	int c, json = 0, threads = 1;
	long max_new = 64;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_PROMPT: prompt = optarg; break;
		case OPT_STAGE: stage = optarg; break;
		case OPT_JSON: json = 1; break;
		case 'n':
		case OPT_THREADS: {
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > (c == 'n' ? 65536 : 256)) {
				lethe_cli_error(
				    "generate: %s: expected an integer from 1 to %d, got '%s'",
				    c == 'n' ? "--max-new-tokens" : "--threads",
				    c == 'n' ? 65536 : 256, optarg);
				return LETHE_EXIT_USAGE;
			}
			if (c == 'n')
				max_new = v;
			else
				threads = (int)v;
			break;
		}
		case 'h': help(stdout); return LETHE_EXIT_OK;
		case ':':
			lethe_cli_error("generate: option '%s' needs a value", argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		default:
			lethe_cli_error(
			    "generate: unknown option '%s' (try 'lethe generate --help')",
			    argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	int rest = argc - optind;
	if (rest < 1 || rest > 2 || (prompt && rest == 2)) {
		lethe_cli_error("generate: expected a MODEL and either --prompt TEXT or a FILE");
		return LETHE_EXIT_USAGE;
	}
	const char *model = argv[optind], *file = rest == 2 ? argv[optind + 1] : "-";
	FILE *in = NULL;
	if (!prompt && !(in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb"))) {
		lethe_cli_error("%s: cannot open: %s", file, strerror(errno));
		return LETHE_EXIT_USAGE;
	}
	lethe_set_threads(threads);
	lethe_tokenizer *tok;
	lethe_model *m;
	/* The checkpoint's own context: the KV cache is sized by it (prompts are only known after
	 * the tokenizer is open, so it is not cut to what they need). */
	int rc = lethe_cli_model_source(model, stage, 0, &tok, &m);
	int status =
	    rc ? (rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE) : LETHE_EXIT_OK;
	if (!rc && prompt)
		rc = one(tok, m, prompt, strlen(prompt), (int)max_new, json);
	else if (!rc) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while (!rc && (n = getline(&line, &cap, in)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				line[--n] = 0;
			rc = one(tok, m, line, (size_t)n, (int)max_new, json);
		}
		free(line);
	}
	if (rc && status == LETHE_EXIT_OK)
		status = rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
	if (in && in != stdin)
		fclose(in);
	lethe_model_free(m);
	lethe_tokenizer_free(tok);
	return status;
}
