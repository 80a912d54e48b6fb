/*
 * fuzz_runfile.c: bytes -> an HDF5 file -> lethe_runfile_open() (which checks class, rank and
 * shape of every dataset it returns) and the accessors report and compare use first.
 */
#include <lethe/lethe.h>
#include <lethe/runfile.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write("r.h5", data, size);
	lethe_runfile *rf = NULL;
	if (lethe_runfile_open(&rf, path) == 0) {
		size_t n = lethe_runfile_n_rows(rf);
		const char *const *rows = lethe_runfile_row_names(rf);
		for (size_t i = 0; rows && i < n; i++)
			(void)strlen(rows[i]);
		(void)lethe_runfile_name(rf);
	}
	lethe_runfile_free(rf);
	return 0;
}
