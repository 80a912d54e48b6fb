/*
 * fuzz_score.c: the input reader of `lethe score` and each metric behind it. The first byte
 * picks the metric; the rest is the JSON-lines file. Standard output goes to /dev/null.
 */
#include <fcntl.h>

#include "cli/cli.h"
#include "fuzz.h"

void lethe_cli_error(const char *fmt, ...)
{
	(void)fmt; /* the messages are not what is fuzzed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const metrics[] = {"bleu", "chrf", "rouge", "seqeval", "classify"};
	static int quiet;
	if (!quiet) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 1) < 0)
			abort();
		close(fd);
		quiet = 1;
	}
	if (size < 1)
		return 0;
	char metric[16];
	snprintf(metric, sizeof(metric), "%s", metrics[data[0] % 5]);
	char *path = strdup(fuzz_write("in.jsonl", data + 1, size - 1));
	char name[] = "score", sentence[] = "--sentence";
	char *argv[] = {name, metric, path, NULL, NULL};
	int argc = 3;
	if (data[0] & 0x80) { /* per-sentence scores too */
		argv[2] = sentence;
		argv[3] = path;
		argc = 4;
	}
	lethe_cmd_score(argc, argv);
	fflush(stdout);
	free(path);
	return 0;
}
