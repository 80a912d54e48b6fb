/*
 * runner.h: running a curriculum (runner.c). The entry point is public, in lethe/run.h; nothing
 * else of the runner is used outside it.
 */
#ifndef LETHE_RUNNER_H
#define LETHE_RUNNER_H

#include <lethe/run.h>

#endif
