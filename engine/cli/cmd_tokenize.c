/*
 * cmd_tokenize.c: `lethe tokenize MODEL [FILE]`, the tokenizer of a pretrained model (a Hugging
 * Face directory or a llama2.c checkpoint) or of a run file applied to each line of FILE or
 * standard input: one JSON line {"ids": [...]} per input line (the newline is not part of it), or
 * with --decode the reverse, one {"text": ...} per input line holding {"ids": [...]} or a JSON
 * array of ids. It is what a user runs first after pointing lethe at a model, and what the tests
 * compare with the reference tokenizers.
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
	    f, "Usage: lethe tokenize [--add-special] [--decode] MODEL [FILE]\n\n"
	       "Tokenizes each line of FILE (or standard input) with the tokenizer of MODEL, a\n"
	       "Hugging Face model directory (tokenizer.json or tokenizer.model) or a llama2.c\n"
	       "checkpoint (tokenizer.bin beside it), printing one JSON line {\"ids\": [...]} per\n"
	       "line. Special tokens are not added unless --add-special (then BOS first, as Llama\n"
	       "tokenizers do).\n\n"
	       "      --add-special  put the model's BOS token first\n"
	       "  -d, --decode       the reverse: read {\"ids\": [...]} or [...] lines, print\n"
	       "                     {\"text\": ...}\n"
	       "  -h, --help         show this help\n");
}

/* Prints {"ids": [...]} for one line. */
static int encode_line(lethe_tokenizer *tok, const char *line, size_t n, int add_special)
{
	int32_t *ids;
	size_t m;
	int rc = lethe_tokenizer_encode(tok, line, n, &ids, &m);
	if (rc)
		return rc;
	int32_t bos = lethe_tokenizer_special(tok, LETHE_SPECIAL_BOS);
	fputs("{\"ids\": [", stdout);
	int first = 1;
	if (add_special && bos >= 0) {
		printf("%d", (int)bos);
		first = 0;
	}
	for (size_t i = 0; i < m; i++, first = 0)
		printf(first ? "%d" : ", %d", (int)ids[i]);
	fputs("]}\n", stdout);
	free(ids);
	return 0;
}

/* Prints {"text": ...} for one line of ids; a one-line reason in why on failure. */
static int decode_line(lethe_tokenizer *tok, const char *line, char *why, size_t why_size)
{
	cJSON *j = cJSON_Parse(line);
	const cJSON *arr = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "ids") : j;
	int rc = LETHE_EPARSE;
	int32_t *ids = NULL;
	if (!cJSON_IsArray(arr)) {
		snprintf(why, why_size, "expected {\"ids\": [...]} or a JSON array of ids");
		goto out;
	}
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	ids = malloc((n ? n : 1) * sizeof *ids);
	if (!ids) {
		rc = LETHE_ENOMEM;
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	for (const cJSON *v = arr->child; v; v = v->next, i++) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2147483647.0 ||
		    (double)(int32_t)v->valuedouble != v->valuedouble) {
			snprintf(why, why_size, "id %zu is not a non-negative integer", i + 1);
			goto out;
		}
		ids[i] = (int32_t)v->valuedouble;
	}
	char *text;
	size_t len;
	if ((rc = lethe_tokenizer_decode(tok, ids, n, &text, &len))) {
		snprintf(why, why_size, "%s", lethe_tokenizer_errmsg(tok));
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	char *s = NULL, *clean = lethe_cli_utf8_lossy(text, len);
	if (o && clean && cJSON_AddStringToObject(o, "text", clean) &&
	    (s = cJSON_PrintUnformatted(o)))
		printf("%s\n", s);
	else {
		rc = LETHE_ENOMEM;
		snprintf(why, why_size, "out of memory");
	}
	free(clean);
	free(s);
	cJSON_Delete(o);
	free(text);
out:
	free(ids);
	cJSON_Delete(j);
	return rc;
}

int lethe_cmd_tokenize(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"add-special", no_argument, NULL, 'a'},
	    {"decode", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, add_special = 0, decode = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': add_special = 1; break;
		case 'd': decode = 1; break;
		case 'h': help(stdout); return LETHE_EXIT_OK;
		default:
			lethe_cli_error(
			    "tokenize: unknown option '%s' (try 'lethe tokenize --help')",
			    argv[optind - 1]);
			return LETHE_EXIT_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		lethe_cli_error("tokenize: expected a MODEL and at most one FILE");
		return LETHE_EXIT_USAGE;
	}
	const char *model = argv[optind], *file = argc - optind == 2 ? argv[optind + 1] : "-";
	lethe_tokenizer *tok;
	if (lethe_cli_model_source(model, NULL, 0, &tok, NULL)) {
		lethe_tokenizer_free(tok);
		return LETHE_EXIT_USAGE;
	}
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!in) {
		lethe_cli_error("%s: cannot open: %s", file, strerror(errno));
		lethe_tokenizer_free(tok);
		return LETHE_EXIT_USAGE;
	}
	const char *name = in == stdin ? "<stdin>" : file;
	char *line = NULL, why[600];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int status = LETHE_EXIT_OK;
	while ((n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		int rc;
		if (decode)
			rc = decode_line(tok, line, why, sizeof why);
		else if ((rc = encode_line(tok, line, (size_t)n, add_special)))
			snprintf(why, sizeof why, "%s", lethe_tokenizer_errmsg(tok));
		if (rc) {
			/* The tokenizer's message names its file; say which input line it was
			 * about. */
			lethe_cli_error("%s:%zu: %s", name, lineno, why);
			status = rc == LETHE_ENOMEM ? LETHE_EXIT_FAILED : LETHE_EXIT_USAGE;
			break;
		}
	}
	free(line);
	if (in != stdin)
		fclose(in);
	lethe_tokenizer_free(tok);
	if (fflush(stdout) != 0 && status == LETHE_EXIT_OK) {
		lethe_cli_error("writing the output failed: %s", strerror(errno));
		status = LETHE_EXIT_FAILED;
	}
	return status;
}
