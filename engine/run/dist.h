/*
 * dist.h: data-parallel runs over MPI (docs/distributed.md): which rank this process is, how many
 * there are, and the few collective operations the runner needs. Without MPI (a build configured
 * --with-mpi=no, or a process not started by mpirun or srun) there is one rank and every call is a
 * no-op, so a plain `lethe run` behaves exactly as before.
 *
 * Every rank runs the whole curriculum on the same data streams and holds the same parameters;
 * the runner gives each rank a share of each batch's rows and of each evaluation's examples and
 * puts the results together with these sums. The collectives must be called by every rank in the
 * same order; a failing rank calls lethe_dist__abort(), which ends the whole job.
 */
#ifndef LETHE_DIST_H
#define LETHE_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Joins the MPI job when the process was started by mpirun or srun (their environment says so);
 * once per process, later calls are no-ops; MPI_Finalize runs at exit. 0, or LETHE_EIO with one
 * line in why (why_size bytes) when MPI cannot start. */
int lethe_dist__start(char *why, size_t why_size);
int lethe_dist__rank(void); /* 0 without MPI */
int lethe_dist__size(void); /* 1 without MPI */

/* The element-wise sum over ranks of v[0..n), in place on every rank. deterministic: summed on
 * rank 0 in rank order and broadcast (bit-identical repeated runs; --deterministic-reduce),
 * otherwise MPI_Allreduce (whose order Open MPI chooses). The time spent is counted in
 * lethe_dist__reduce_seconds(). */
void lethe_dist__sum_floats(float *v, size_t n, int deterministic);
/* The same for doubles and 32-bit integers, always MPI_Allreduce: used where at most one rank
 * holds a non-zero value per element (each rank's share of an evaluation), so that the sum is
 * exact whatever the order, and for EWC's Fisher sums (methods.c; doubles, far below float's
 * precision whatever the order). */
void lethe_dist__sum_doubles(double *v, size_t n);
void lethe_dist__sum_i32(int32_t *v, size_t n);
/* 1 when every rank passed the same value (a checksum of its parameters), 0 otherwise. */
int lethe_dist__same_u64(uint64_t v);
/* Seconds spent in lethe_dist__sum_floats() since the process started. With the environment
 * variable LETHE_DIST_PROFILE=1 each sum first waits at a barrier, and that wait (for the slowest
 * rank) is counted apart, in lethe_dist__wait_seconds(), for bench/dist-throughput. */
double lethe_dist__reduce_seconds(void);
double lethe_dist__wait_seconds(void);
/* Rows [*begin, *end) of n that this rank takes: contiguous shares in rank order, the first
 * n % size ranks one row more. */
void lethe_dist__share(size_t n, size_t *begin, size_t *end);

/* ---- gradient buckets overlapping the backward pass ------------------------------------------
 * The step's gradient sum in buckets (docs/distributed.md): the caller lists the gradient ranges
 * to sum, each with the backward stage that makes it final (engine/model/grad_hook.h); plan
 * groups consecutive ranges that are adjacent in memory into buckets of at most
 * LETHE_DIST_BUCKET_BYTES bytes (default 4 MiB; a range larger than that is a bucket of its own),
 * ordered by the stage that makes the whole bucket final. During the step's last backward, ready
 * is called after each stage: it starts, with MPI_Iallreduce, every bucket not yet started whose
 * stage has ended, in bucket order, and lets the outstanding ones progress (MPI_Test). finish
 * starts the buckets not yet started (all of them on a rank whose share had no backward) and
 * waits for every bucket. Every rank starts the same buckets in the same order, so the
 * collectives match, and each bucket's sum is MPI_Allreduce's sum of the same floats. The
 * --deterministic-reduce mode does not use buckets (lethe_dist__sum_floats in rank order). */
typedef struct lethe_dist_range {
	float *v;
	size_t n;
	int stage; /* the backward stage after which v[0..n) is final */
	int block; /* ranges of different blocks (allocations) never share a bucket */
} lethe_dist_range;
/* The buckets of the next finish, from ranges listed in the same order on every rank (the plan
 * depends on that order, the stages and adjacency within a block, never on addresses across
 * blocks). 0 or LETHE_ENOMEM. Without MPI or with one rank a no-op. */
int lethe_dist__buckets_plan(const lethe_dist_range *ranges, size_t n);
void lethe_dist__buckets_ready(int stage);
void lethe_dist__buckets_finish(void);
/* Buckets summed since the process started, and how many of them were started while the
 * backward still had stages to compute (by lethe_dist__buckets_ready before the plan's last
 * stage): the sums that could overlap computation. */
void lethe_dist__buckets_counts(uint64_t *started, uint64_t *during_backward);

/* Ends the whole job (MPI_Abort) with status after printing msg, naming this rank, on stderr.
 * Only when there is more than one rank; a no-op otherwise. */
void lethe_dist__abort(int status, const char *msg);

#endif
