/*
 * parallel.c: a small persistent thread pool for lethe_parallel_for(). Workers sleep on a
 * condition variable between loops (passive waiting: on two cores a spinning pool would take the
 * CPU from the work). The calling thread runs range 0 itself. OpenBLAS is kept at one thread:
 * lethe's pool is the only one.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

#include <lethe/model.h>

#include "parallel.h"

#define MAX_THREADS 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	pthread_t tid[MAX_THREADS];
	int started; /* workers running */
	int threads; /* threads in use */
	unsigned long generation;
	int pending;
	lethe_range_fn fn;
	void *ctx;
	size_t n;
} pool = {PTHREAD_MUTEX_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          {0},
          0,
          1,
          0,
          0,
          NULL,
          NULL,
          0};

static __thread int inside; /* this thread is running a range */

int lethe_in_parallel(void)
{
	return inside;
}

static void range_of(int t, int threads, size_t n, size_t *b, size_t *e)
{
	*b = n * (size_t)t / (size_t)threads;
	*e = n * (size_t)(t + 1) / (size_t)threads;
}

static void *worker(void *arg)
{
	int t = (int)(size_t)arg;
	unsigned long seen = 0;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (pool.generation == seen)
			pthread_cond_wait(&pool.go, &pool.lock);
		seen = pool.generation;
		if (t >= pool.threads)
			continue;
		lethe_range_fn fn = pool.fn;
		void *ctx = pool.ctx;
		size_t b, e;
		range_of(t, pool.threads, pool.n, &b, &e);
		pthread_mutex_unlock(&pool.lock);
		inside = 1;
		if (b < e)
			fn(ctx, t, b, e);
		inside = 0;
		pthread_mutex_lock(&pool.lock);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
	}
	return NULL;
}

int lethe_threads(void)
{
	return pool.threads;
}

int lethe_set_threads(int n)
{
	if (n > 0) {
		if (n > MAX_THREADS)
			n = MAX_THREADS;
		/* One pool only: lethe's. OpenBLAS runs single-threaded inside each of its ranges
		 * (matrix products are split by rows, see lethe_model__mm), so no second pool
		 * spins. */
		openblas_set_num_threads(1);
		pthread_mutex_lock(&pool.lock);
		pool.threads = n;
		pthread_mutex_unlock(&pool.lock);
	}
	return pool.threads;
}

void lethe_parallel_for(size_t n, lethe_range_fn fn, void *ctx)
{
	int threads = pool.threads;
	if (threads <= 1 || n < 2) {
		if (n)
			fn(ctx, 0, 0, n);
		return;
	}
	if ((size_t)threads > n)
		threads = (int)n;
	pthread_mutex_lock(&pool.lock);
	while (pool.started < pool.threads - 1) {
		if (pthread_create(&pool.tid[pool.started], NULL, worker,
		                   (void *)(size_t)(pool.started + 1)) != 0)
			break;
		pthread_detach(pool.tid[pool.started]);
		pool.started++;
	}
	if (pool.started < threads - 1)
		threads = pool.started + 1;
	int saved_threads = pool.threads;
	pool.threads = threads;
	pool.fn = fn;
	pool.ctx = ctx;
	pool.n = n;
	pool.pending = threads - 1;
	pool.generation++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.lock);

	size_t b, e;
	range_of(0, threads, n, &b, &e);
	inside = 1;
	if (b < e)
		fn(ctx, 0, b, e);
	inside = 0;
	pthread_mutex_lock(&pool.lock);
	while (pool.pending > 0)
		pthread_cond_wait(&pool.done, &pool.lock);
	pool.threads = saved_threads;
	pthread_mutex_unlock(&pool.lock);
}
