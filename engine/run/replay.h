/*
 * replay.h: the replay memory (docs/methods.md, "Replay"): at most `cap` distinct examples per
 * task, reservoir-sampled (Vitter's algorithm R) from the examples the task's stages drew (each
 * example offered once, the first time it is drawn), and the
 * draws from it that later stages mix into their batches. Its random numbers come from its own
 * generator, seeded from the data seed, so a curriculum without replay draws exactly what it
 * drew before. The whole state is one array of uint64 for the run file's resume state. Private
 * to liblethe.
 */
#ifndef LETHE_REPLAY_H
#define LETHE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct lethe_replay_mem {
	size_t n_tasks, cap; /* cap: examples kept per task */
	uint64_t rng;
	uint64_t *seen;      /* per task: examples offered so far (the reservoir's stream) */
	uint64_t *count;     /* per task: examples held, <= cap */
	uint64_t *items;     /* (n_tasks, cap): example indices into the task's training split */
	uint64_t **drawn;    /* per task: a bit per training example, set once it was offered */
	size_t *n_examples;  /* per task: its training examples */
	unsigned char *done; /* per task: a stage that trained it has finished (replay draws it) */
} lethe_replay_mem;

/* An empty memory of cap examples per task for n_tasks tasks of n_examples[t] training examples,
 * seeded from the data seed. */
int lethe_replay__init(lethe_replay_mem *rm, size_t n_tasks, const size_t *n_examples, size_t cap,
                       uint64_t data_seed);
void lethe_replay__clear(lethe_replay_mem *rm);

/* Algorithm R: example (task, index < n_examples[task]), the next one the task's stage drew;
 * an example offered before is skipped. */
void lethe_replay__offer(lethe_replay_mem *rm, size_t task, uint64_t index);

/* Marks the tasks a finished stage trained: replay draws from them from now on. */
void lethe_replay__finish(lethe_replay_mem *rm, size_t task);

/* Examples held for finished tasks, all tasks together (0: nothing to replay yet). */
uint64_t lethe_replay__available(const lethe_replay_mem *rm);

/* One example drawn uniformly from what finished tasks hold (available() > 0). */
void lethe_replay__draw(lethe_replay_mem *rm, size_t *task, uint64_t *index);

/* How many of micro-batch number `micro` (0-based, counted over the stage) of `batch` examples
 * come from the memory at ratio: floor((micro+1) R B) - floor(micro R B), so that the stage as
 * a whole replays the fraction R exactly, up to one example. */
long lethe_replay__count(double ratio, long batch, uint64_t micro);

/* The state as one array: [n_tasks, cap, rng, then per task: seen, count, done, cap items,
 * ceil(n_examples / 64) words of drawn bits]. */
size_t lethe_replay__state_size(const lethe_replay_mem *rm);
void lethe_replay__save(const lethe_replay_mem *rm, uint64_t *out);
/* Restores a saved state of the same shape; -1 when it does not match or a count is out of
 * range. */
int lethe_replay__load(lethe_replay_mem *rm, const uint64_t *in, size_t n);

#endif
