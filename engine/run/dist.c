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

void lethe_dist__abort(int status, const char *msg)
{
	(void)status;
	(void)msg;
}

#endif
