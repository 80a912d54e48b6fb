/*
 * fuzz.h: what every libFuzzer harness of tests/fuzz/ shares: the readers take paths, so each
 * input is written to one file in a directory private to the process and read back from there.
 * Not part of liblethe; built only by `make fuzz` (tests/fuzz/local.mk).
 */
#ifndef LETHE_FUZZ_H
#define LETHE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes size bytes to NAME in the process's fuzz directory; returns its path (static). */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	static char dir[512], path[1024];
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/lethe-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	return path;
}

#endif
