/*
 * parallel.c: the thread pool behind lethe_parallel_for(). liblethe owns one pool per process:
 * workers are started on the first loop that needs them, spin briefly and then sleep on a
 * condition variable between loops (LETHE_SPIN_US, below: a pool that spun without bound would
 * take the CPU from the work on two cores; one that always sleeps pays a kernel round trip per
 * loop, and decoding runs hundreds of short loops per token), and are joined when
 * lethe_set_threads() lowers the count, at lethe_stop_threads() (the `lethe` command calls it
 * before exit) or, as a fallback, when the library is unloaded. The calling thread runs range 0
 * itself. One loop runs at a time: a second caller waits for the pool, and a loop started inside a
 * range runs serially. OpenBLAS is kept at one thread: lethe's pool is the only one.
 *
 * Every field of the pool is written under its lock and read under it, except: the thread
 * setting, atomic so that lethe_threads() (asked before every matrix product) never takes the
 * lock; and the loop counter and the count of workers still running, atomic so that the spins
 * can watch them without it (a spin is only a hint: each side checks again under the lock
 * before it sleeps). A
 * child of fork() starts with no workers (they are not copied) and starts its own on demand.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <lethe/model.h>

#include "parallel.h"

#define MAX_THREADS 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t go;   /* a loop or a stop for the workers */
	pthread_cond_t done; /* the last worker finished its range */
	pthread_cond_t idle; /* the pool is free for the next loop */
	pthread_t tid[MAX_THREADS];
	int started;             /* workers running: ids 1..started */
	int keep;                /* workers with id > keep exit */
	int busy;                /* a loop, or a join, holds the pool */
	atomic_ulong generation; /* counts loops and stops */
	int active;              /* threads in the current loop; 0 between loops */
	atomic_int pending;      /* workers still in the current loop */
	lethe_range_fn fn;
	void *ctx;
	size_t n;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER,
          .idle = PTHREAD_COND_INITIALIZER,
          .keep = MAX_THREADS};

static atomic_int setting = 1; /* threads in use, as set by lethe_set_threads */

static _Thread_local int inside; /* this thread is running a range */

/* Before sleeping on a condition variable, a worker waiting for the next loop and the caller
 * waiting for the workers first spin for up to this long on the (atomic) counter they wait for.
 * A decoding step runs ~10 loops per layer, microseconds apart: sleeping and being woken through
 * the kernel between each cost c4 generation 18% of its time in futex calls. Bounded, so that an
 * idle pool still sleeps; LETHE_SPIN_US sets it (0: always sleep). */
#define SPIN_US_DEFAULT 50
static long spin_ns; /* set once, before the first worker starts (pool_init) */

static void read_spin_setting(void)
{
	const char *e = getenv("LETHE_SPIN_US");
	long us = SPIN_US_DEFAULT;
	if (e && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (*end == '\0' && v >= 0 && v <= 1000000)
			us = v;
	}
	spin_ns = us * 1000;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Spins until *v != old or the budget is spent; called without the lock. */
static void spin_while_ulong(atomic_ulong *v, unsigned long old, long budget)
{
	if (budget <= 0)
		return;
	int64_t end = now_ns() + budget;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(v, memory_order_acquire) != old)
			return;
		cpu_relax();
		if (i % 64 == 0 && now_ns() >= end)
			return;
	}
}

static void spin_while_positive(atomic_int *v, long budget)
{
	if (budget <= 0)
		return;
	int64_t end = now_ns() + budget;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(v, memory_order_acquire) <= 0)
			return;
		cpu_relax();
		if (i % 64 == 0 && now_ns() >= end)
			return;
	}
}

int lethe_in_parallel(void)
{
	return inside;
}

int lethe_threads(void)
{
	return atomic_load_explicit(&setting, memory_order_relaxed);
}

static void range_of(int t, int threads, size_t n, size_t *b, size_t *e)
{
	*b = n * (size_t)t / (size_t)threads;
	*e = n * (size_t)(t + 1) / (size_t)threads;
}

static void *worker(void *arg)
{
	int t = (int)(size_t)arg;
	/* A worker is started inside a loop's critical section, before the loop's generation is
	 * announced: 0 makes it take part in that loop. */
	unsigned long seen = 0;
	long budget = spin_ns;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		if (pool.generation == seen && t <= pool.keep && budget > 0) {
			pthread_mutex_unlock(&pool.lock);
			spin_while_ulong(&pool.generation, seen, budget);
			pthread_mutex_lock(&pool.lock);
		}
		while (pool.generation == seen && t <= pool.keep)
			pthread_cond_wait(&pool.go, &pool.lock);
		if (t > pool.keep)
			break;
		seen = pool.generation;
		if (t >= pool.active)
			continue;
		lethe_range_fn fn = pool.fn;
		void *ctx = pool.ctx;
		size_t b, e;
		range_of(t, pool.active, pool.n, &b, &e);
		pthread_mutex_unlock(&pool.lock);
		inside = 1;
		if (b < e)
			fn(ctx, t, b, e);
		inside = 0;
		pthread_mutex_lock(&pool.lock);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Joins the workers with id > keep. Called with the lock held and the pool idle; returns with
 * both still true. */
static void join_above(int keep)
{
	if (pool.started <= keep)
		return;
	pool.keep = keep;
	pool.active = 0;
	pool.generation++;
	pthread_cond_broadcast(&pool.go);
	int from = keep, to = pool.started;
	pool.started = keep;
	pool.busy = 1; /* no loop starts while the lock is released */
	pthread_mutex_unlock(&pool.lock);
	for (int i = from; i < to; i++)
		pthread_join(pool.tid[i], NULL);
	pthread_mutex_lock(&pool.lock);
	pool.busy = 0;
	pool.keep = MAX_THREADS;
	pthread_cond_broadcast(&pool.idle);
}

/* Waits until no loop runs and takes the pool (lock held on return). */
static void acquire(void)
{
	pthread_mutex_lock(&pool.lock);
	while (pool.busy)
		pthread_cond_wait(&pool.idle, &pool.lock);
}

int lethe_set_threads(int n)
{
	if (n > 0) {
		if (n > MAX_THREADS)
			n = MAX_THREADS;
		/* One pool only: lethe's. OpenBLAS runs single-threaded inside each of its ranges
		 * (matrix products are split by rows, see lethe_layer__matmul), so no second pool
		 * spins. */
		openblas_set_num_threads(1);
		if (inside) /* from inside a range: the running loop keeps its threads */
			return lethe_threads();
		acquire();
		atomic_store_explicit(&setting, n, memory_order_relaxed);
		join_above(n - 1);
		pthread_mutex_unlock(&pool.lock);
	}
	return lethe_threads();
}

void lethe_stop_threads(void)
{
	if (inside)
		return;
	acquire();
	join_above(0);
	pthread_mutex_unlock(&pool.lock);
}

/* The fallback owner: a program that never called lethe_stop_threads() has its workers joined
 * when liblethe is unloaded (dlclose, or exit while no loop runs). */
__attribute__((destructor)) static void stop_at_unload(void)
{
	if (pthread_mutex_trylock(&pool.lock) != 0)
		return;
	int idle = !pool.busy;
	if (idle)
		join_above(0);
	pthread_mutex_unlock(&pool.lock);
}

/* fork() copies only the calling thread: the child's pool starts without workers. The lock is
 * held across fork so that the child's copy of the pool is consistent; the child then starts
 * from fresh synchronisation objects. */
static void before_fork(void)
{
	pthread_mutex_lock(&pool.lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&pool.lock);
}

static void after_fork_child(void)
{
	pool.started = 0;
	pool.keep = MAX_THREADS;
	pool.busy = 0;
	pool.active = 0;
	pool.pending = 0;
	/* New synchronisation objects: the copies may count waiters (the parent's workers) that
	 * do not exist here, and the lock is held by the parent's forking thread. */
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.go, NULL);
	pthread_cond_init(&pool.done, NULL);
	pthread_cond_init(&pool.idle, NULL);
}

static void pool_init(void)
{
	read_spin_setting();
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void lethe_parallel_for(size_t n, lethe_range_fn fn, void *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int threads = lethe_threads();
	if (threads <= 1 || n < 2 || inside) {
		if (n)
			fn(ctx, 0, 0, n);
		return;
	}
	if ((size_t)threads > n)
		threads = (int)n;
	pthread_once(&once, pool_init);
	acquire();
	while (pool.started < lethe_threads() - 1) {
		if (pthread_create(&pool.tid[pool.started], NULL, worker,
		                   (void *)(size_t)(pool.started + 1)) != 0)
			break;
		pool.started++;
	}
	if (pool.started < threads - 1)
		threads = pool.started + 1;
	pool.busy = 1;
	pool.active = threads;
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
	spin_while_positive(&pool.pending, spin_ns);
	pthread_mutex_lock(&pool.lock);
	while (pool.pending > 0)
		pthread_cond_wait(&pool.done, &pool.lock);
	pool.active = 0;
	pool.busy = 0;
	pthread_cond_broadcast(&pool.idle);
	pthread_mutex_unlock(&pool.lock);
}
