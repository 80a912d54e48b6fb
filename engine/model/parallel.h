/*
 * parallel.h: the model's parallel loops. Work that OpenBLAS does not do (attention per head,
 * softmax, normalisation, activations) is split into a fixed number of contiguous ranges, one per
 * thread, so that results depend only on the thread count. OpenBLAS itself runs single-threaded;
 * large matrix products are split by rows across this pool (lethe_layer__matmul), so there is one
 * pool and nothing else spinning on the cores. Private to liblethe.
 */
#ifndef LETHE_PARALLEL_H
#define LETHE_PARALLEL_H

#include <stddef.h>

/* fn(ctx, thread, begin, end) over [0, n) split into lethe_threads() ranges. */
typedef void (*lethe_range_fn)(void *ctx, int thread, size_t begin, size_t end);

void lethe_parallel_for(size_t n, lethe_range_fn fn, void *ctx);
/* The threads lethe uses (as set by lethe_set_threads); lethe_stop_threads() is public
 * (lethe/model.h). */
int lethe_threads(void);
/* Whether the calling thread is inside a lethe_parallel_for range (no nested splitting). */
int lethe_in_parallel(void);

#endif
