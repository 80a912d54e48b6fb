/*
 * runfile_format.h: the names of the run file's layout (docs/run-file.md), shared by its writer
 * (runfile_write.c) and its reader (runfile_read.c) and known to no other file. Private to the
 * run-file module.
 */
#ifndef LETHE_RUNFILE_FORMAT_H
#define LETHE_RUNFILE_FORMAT_H

#include <stdio.h>

#include <lethe/runfile.h>

#define RF_FORMAT "lethe-run"
#define RF_VERSION LETHE_RUNFILE_FORMAT_VERSION

/* Tables below may go unused in one of the two files. */
#define RF_TABLE __attribute__((unused))

/* Row r's group under /stages: "03_entities", so that groups sort in stage order. */
static inline void rf_row_name(char *buf, size_t size, size_t row, const char *name)
{
	snprintf(buf, size, "%02zu_%s", row, name);
}

/* The same from the file's root: "stages/03_entities". */
static inline void rf_row_group(char *buf, size_t size, size_t row, const char *name)
{
	snprintf(buf, size, "stages/%02zu_%s", row, name);
}

/* Metric names may hold '/', which HDF5 reads as a path: the matrix's dataset uses '.'. */
static inline void rf_matrix_dataset(char *buf, size_t size, const char *metric)
{
	snprintf(buf, size, "matrices/%s", metric);
	for (char *p = buf + sizeof("matrices/") - 1; *p; p++)
		if (*p == '/')
			*p = '.';
}

/* The drift kinds, and the groups of a drift vector (the model's groups, then all). */
RF_TABLE static const char *const rf_drift_kinds[4] = {"l2_previous", "relative_previous",
                                                       "l2_initial", "relative_initial"};
RF_TABLE static char *const rf_drift_groups[LETHE_RUNFILE_DRIFT_GROUPS] = {
    "embeddings", "attention", "mlp", "norms", "all"};

/* The two sets of stored forgetting measures. */
RF_TABLE static const char *const rf_measures[2] = {"primary", "target_nll"};

/* The model's integer attributes, in lethe_model_config's order. */
RF_TABLE static const char *const rf_model_ints[7] = {"vocab", "context", "dim", "layers",
                                                      "heads", "ff",      "tied"};

#endif
