/*
 * errsink.h: what the rest of liblethe may use of a curriculum beyond lethe/curriculum.h: the
 * handle's message buffer, where lethe_run_curriculum() (run/) leaves the reason of a failed run,
 * read back with lethe_curriculum_errmsg(), and the samples a run took of its tasks' data.
 * Hidden symbols; not for the command.
 */
#ifndef LETHE_CURRICULUM_ERRSINK_H
#define LETHE_CURRICULUM_ERRSINK_H

#include <lethe/curriculum.h>

#include "util/errbuf.h"

lethe_errbuf *lethe_curriculum__err(lethe_curriculum *c);
/* The examples a run kept of task t's split (run/sample.c: kind "random", "stratified" or
 * "first", idx the original indices, copied), for the run-file writer; NULL when the run keeps
 * the whole split. */
int lethe_curriculum__set_sample(lethe_curriculum *c, size_t t, lethe_split split, const char *kind,
                                 const size_t *idx, size_t n);
const size_t *lethe_curriculum__sample(const lethe_curriculum *c, size_t t, lethe_split split,
                                       const char **kind, size_t *n);

#endif
