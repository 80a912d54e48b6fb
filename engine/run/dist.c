/*
 * dist.c: the MPI side of data-parallel runs (dist.h). The only file that includes <mpi.h>;
 * without HAVE_MPI it is the one-rank stub. It does not know what is summed (runner.c decides).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lethe/common.h>

#include "dist.h"

static int g_rank = 0, g_size = 1;
static double g_reduce_seconds, g_wait_seconds;

int lethe_dist__rank(void)
{
	return g_rank;
}

int lethe_dist__size(void)
{
	return g_size;
}

double lethe_dist__reduce_seconds(void)
{
	return g_reduce_seconds;
}

double lethe_dist__wait_seconds(void)
{
	return g_wait_seconds;
}

void lethe_dist__share(size_t n, size_t *begin, size_t *end)
{
	size_t q = n / (size_t)g_size, rem = n % (size_t)g_size, r = (size_t)g_rank;
	*begin = r * q + (r < rem ? r : rem);
	*end = *begin + q + (r < rem ? 1 : 0);
}

#ifdef HAVE_MPI
#include <mpi.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* MPI counts are ints: large blocks go in pieces of this many elements. */
#define PIECE ((size_t)1 << 24)

static int g_started, g_profile;

static void finish(void)
{
	int done = 0;
	MPI_Finalized(&done);
	if (!done)
		MPI_Finalize();
}

int lethe_dist__start(char *why, size_t why_size)
{
	if (g_started)
		return 0;
	g_started = 1;
	/* Started by a launcher: Open MPI's mpirun, or srun with PMIx or PMI-2. A process started
	 * by hand stays one rank, without MPI_Init (no singleton job, nothing printed). */
	if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK") &&
	    !getenv("PMI_SIZE"))
		return 0;
	int provided = 0, already = 0;
	MPI_Initialized(&already);
	if (!already) { /* a program that started MPI itself also finalises it */
		if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
			snprintf(why, why_size, "MPI_Init_thread failed");
			return LETHE_EIO;
		}
		atexit(finish);
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &g_size);
	const char *p = getenv("LETHE_DIST_PROFILE");
	g_profile = p && *p && strcmp(p, "0") != 0;
	return 0;
}

void lethe_dist__sum_floats(float *v, size_t n, int deterministic)
{
	if (g_size == 1)
		return;
	double t0 = now();
	if (g_profile) { /* waiting for the slowest rank, apart from the transfer */
		MPI_Barrier(MPI_COMM_WORLD);
		double t1 = now();
		g_wait_seconds += t1 - t0;
		t0 = t1;
	}
	if (!deterministic) {
		for (size_t i = 0; i < n; i += PIECE) {
			int k = (int)(n - i < PIECE ? n - i : PIECE);
			MPI_Allreduce(MPI_IN_PLACE, v + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		}
		g_reduce_seconds += now() - t0;
		return;
	}
	/* Rank order: gathered to rank 0, summed 0 + 1 + ... + (size-1), broadcast. */
	size_t piece = n < PIECE ? n : PIECE;
	float *all =
	    g_rank == 0 ? malloc((piece ? piece : 1) * (size_t)g_size * sizeof(float)) : NULL;
	if (g_rank == 0 && !all)
		lethe_dist__abort(1, "out of memory for --deterministic-reduce");
	for (size_t i = 0; i < n; i += PIECE) {
		int k = (int)(n - i < PIECE ? n - i : PIECE);
		MPI_Gather(v + i, k, MPI_FLOAT, all, k, MPI_FLOAT, 0, MPI_COMM_WORLD);
		if (g_rank == 0)
			for (int j = 0; j < k; j++) {
				float s = all[j];
				for (int r = 1; r < g_size; r++)
					s += all[(size_t)r * (size_t)k + (size_t)j];
				v[i + (size_t)j] = s;
			}
		MPI_Bcast(v + i, k, MPI_FLOAT, 0, MPI_COMM_WORLD);
	}
	free(all);
	g_reduce_seconds += now() - t0;
}

void lethe_dist__sum_doubles(double *v, size_t n)
{
	for (size_t i = 0; g_size > 1 && i < n; i += PIECE) {
		int k = (int)(n - i < PIECE ? n - i : PIECE);
		MPI_Allreduce(MPI_IN_PLACE, v + i, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	}
}

void lethe_dist__sum_i32(int32_t *v, size_t n)
{
	for (size_t i = 0; g_size > 1 && i < n; i += PIECE) {
		int k = (int)(n - i < PIECE ? n - i : PIECE);
		MPI_Allreduce(MPI_IN_PLACE, v + i, k, MPI_INT32_T, MPI_SUM, MPI_COMM_WORLD);
	}
}

int lethe_dist__same_u64(uint64_t v)
{
	if (g_size == 1)
		return 1;
	uint64_t lo = v, hi = v;
	MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
	return lo == hi;
}

/* ---- gradient buckets (dist.h) ---- */

typedef struct bucket {
	float *lo; /* the bucket is lo[0..n), built downwards from the highest range */
	size_t n;
	int stage, block, open;
} bucket;

static bucket *g_bk;
static MPI_Request *g_req;
static size_t g_nbk, g_capbk, g_next; /* buckets planned; started so far */
static int g_last_stage;              /* the plan's last stage (the end of the backward) */
static uint64_t g_started_total, g_started_early;

static size_t bucket_limit(void)
{
	static size_t limit;
	if (!limit) {
		const char *e = getenv("LETHE_DIST_BUCKET_BYTES");
		char *end;
		unsigned long long v = e && *e ? strtoull(e, &end, 10) : 0;
		limit =
		    v > 0 && e && *end == '\0' ? (size_t)v / sizeof(float) : ((size_t)4 << 20) / 4;
		if (limit == 0)
			limit = 1;
		if (limit > PIECE)
			limit = PIECE;
	}
	return limit;
}

static int push_bucket(float *lo, size_t n, int stage, int block)
{
	if (g_nbk == g_capbk) {
		size_t cap = g_capbk ? 2 * g_capbk : 64;
		bucket *b = realloc(g_bk, cap * sizeof(*b));
		if (b)
			g_bk = b;
		MPI_Request *q = b ? realloc(g_req, cap * sizeof(*q)) : NULL;
		if (!q)
			return LETHE_ENOMEM;
		g_req = q;
		g_capbk = cap;
	}
	g_bk[g_nbk++] = (bucket){lo, n, stage, block, 1};
	return 0;
}

int lethe_dist__buckets_plan(const lethe_dist_range *ranges, size_t n)
{
	g_nbk = g_next = 0;
	if (g_size == 1)
		return 0;
	size_t limit = bucket_limit();
	/* Ranges by stage (a stable order: the caller's within a stage); each extends its block's
	 * last bucket when it ends where that bucket begins and the sum fits the limit. */
	int max_stage = 0;
	for (size_t i = 0; i < n; i++)
		max_stage = ranges[i].stage > max_stage ? ranges[i].stage : max_stage;
	g_last_stage = max_stage;
	for (int s = 0; s <= max_stage; s++)
		for (size_t i = 0; i < n; i++) {
			const lethe_dist_range *r = &ranges[i];
			if (r->stage != s || r->n == 0)
				continue;
			bucket *last = NULL;
			for (size_t k = g_nbk; k-- > 0 && !last;)
				if (g_bk[k].block == r->block)
					last = &g_bk[k];
			if (last && last->open && r->v + r->n == last->lo &&
			    last->n + r->n <= limit) {
				last->lo = r->v;
				last->n += r->n;
				last->stage = s;
				continue;
			}
			if (last)
				last->open = 0;
			/* A range above the limit: pieces of it, from its top down. */
			for (size_t left = r->n; left > 0;) {
				size_t k = left < limit ? left : limit;
				left -= k;
				if (push_bucket(r->v + left, k, s, r->block))
					return LETHE_ENOMEM;
				if (left)
					g_bk[g_nbk - 1].open = 0;
			}
		}
	/* By the stage that makes each bucket final, creation order within a stage. */
	for (size_t i = 1; i < g_nbk; i++)
		for (size_t k = i; k > 0 && g_bk[k - 1].stage > g_bk[k].stage; k--) {
			bucket t = g_bk[k];
			g_bk[k] = g_bk[k - 1];
			g_bk[k - 1] = t;
		}
	return 0;
}

static void start_bucket(size_t i)
{
	MPI_Iallreduce(MPI_IN_PLACE, g_bk[i].lo, (int)g_bk[i].n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
	               &g_req[i]);
	g_started_total++;
}

void lethe_dist__buckets_ready(int stage)
{
	if (g_size == 1 || g_next == g_nbk)
		return;
	double t0 = now();
	for (; g_next < g_nbk && g_bk[g_next].stage <= stage; g_next++) {
		start_bucket(g_next);
		g_started_early += stage < g_last_stage;
	}
	/* Open MPI progresses a collective only inside MPI calls: one test per stage lets the
	 * started buckets move while the next layers compute. */
	if (g_next > 0) {
		int flag;
		MPI_Testall((int)g_next, g_req, &flag, MPI_STATUSES_IGNORE);
	}
	g_reduce_seconds += now() - t0;
}

void lethe_dist__buckets_finish(void)
{
	if (g_size == 1)
		return;
	double t0 = now();
	for (; g_next < g_nbk; g_next++)
		start_bucket(g_next);
	if (g_profile) { /* waiting for the slowest rank to end its backward */
		MPI_Barrier(MPI_COMM_WORLD);
		double t1 = now();
		g_wait_seconds += t1 - t0;
		t0 = t1;
	}
	MPI_Waitall((int)g_nbk, g_req, MPI_STATUSES_IGNORE);
	g_nbk = g_next = 0;
	g_reduce_seconds += now() - t0;
}

void lethe_dist__buckets_counts(uint64_t *started, uint64_t *during_backward)
{
	*started = g_started_total;
	*during_backward = g_started_early;
}

void lethe_dist__abort(int status, const char *msg)
{
	if (g_size == 1)
		return;
	fprintf(stderr, "lethe: rank %d of %d: %s; ending the job\n", g_rank, g_size, msg);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, status);
}

#else /* one rank */

int lethe_dist__start(char *why, size_t why_size)
{
	(void)why;
	(void)why_size;
	return 0;
}

void lethe_dist__sum_floats(float *v, size_t n, int deterministic)
{
	(void)v;
	(void)n;
	(void)deterministic;
}

void lethe_dist__sum_doubles(double *v, size_t n)
{
	(void)v;
	(void)n;
}

void lethe_dist__sum_i32(int32_t *v, size_t n)
{
	(void)v;
	(void)n;
}

int lethe_dist__same_u64(uint64_t v)
{
	(void)v;
	return 1;
}

int lethe_dist__buckets_plan(const lethe_dist_range *ranges, size_t n)
{
	(void)ranges;
	(void)n;
	return 0;
}

void lethe_dist__buckets_ready(int stage)
{
	(void)stage;
}

void lethe_dist__buckets_finish(void) {}

void lethe_dist__buckets_counts(uint64_t *started, uint64_t *during_backward)
{
	*started = *during_backward = 0;
}

void lethe_dist__abort(int status, const char *msg)
{
	(void)status;
	(void)msg;
}

#endif
