/*
 * fuzz_curriculum.c: YAML text -> lethe_curriculum_load(): the YAML reader and every check of
 * validation (docs/curriculum.md), with the bundled plugins resolved but no data loaded.
 */
#include <lethe/lethe.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lethe_registry *reg;
	if (!reg && lethe_registry_new(&reg) != 0)
		abort();
	const char *path = fuzz_write("c.yaml", data, size);
	lethe_curriculum *c = NULL;
	lethe_curriculum_load(&c, path, reg, 0);
	if (c)
		(void)lethe_curriculum_errmsg(c);
	lethe_curriculum_free(c);
	return 0;
}
