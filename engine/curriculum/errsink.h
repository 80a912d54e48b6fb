/*
 * errsink.h: what the rest of liblethe may use of a curriculum beyond lethe/curriculum.h: the
 * handle's message buffer, where lethe_run_curriculum() (run/) leaves the reason of a failed run,
 * read back with lethe_curriculum_errmsg(). Hidden symbols; not for the command.
 */
#ifndef LETHE_CURRICULUM_ERRSINK_H
#define LETHE_CURRICULUM_ERRSINK_H

#include <lethe/curriculum.h>

#include "util/errbuf.h"

lethe_errbuf *lethe_curriculum__err(lethe_curriculum *c);

#endif
