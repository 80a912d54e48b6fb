/*
 * matmul_bf16.c: the bf16 matrix product behind lethe_layer__matmul when a model trains with
 * precision bf16 (docs/performance.md#bf16), and the check that the build and the CPU can run
 * it. Both inputs are rounded to bf16 (to nearest, ties to even) into per-thread scratch, the
 * product is oneDNN's matmul primitive (bf16 source and weights, fp32 destination, fp32
 * accumulation) and alpha and beta are its output scale and sum post-op. It is not the fp32 path:
 * that one is OpenBLAS's sgemm in layer.c, unchanged, and the only one without oneDNN.
 *
 * Threads: lethe's pool stays the only one. Large products are split by rows across it as the
 * fp32 path splits them, and oneDNN runs single-threaded inside each range: Debian's libdnnl is
 * built on OpenMP, so every thread that calls it first sets its own OpenMP thread count to 1
 * (an OpenMP team spinning beside lethe's workers on the same cores is the trap named in
 * docs/performance.md). With one thread, oneDNN runs its kernels inline and starts no team.
 *
 * Primitives are created once per shape and kept for the life of the process in a table
 * (creating one per call costs far more than a small product); they run with a user scratchpad
 * from the calling thread's slot, so that concurrent calls share nothing writable. A thread's
 * slot (its stream and scratch buffers) goes back to a free list when the thread exits.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/model.h>

#include "layer.h"
#include "parallel.h"

#ifdef HAVE_DNNL
#include <immintrin.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdint.h>
#endif

#ifdef HAVE_DNNL

/* ---- bf16 rounding ----------------------------------------------------------------------------
 */

/* Branch-free, so that loops of it vectorise. */
static inline uint16_t round_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u; /* NaN: keep it a quiet NaN */
	uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
	return (uint16_t)(nan ? (u >> 16) | 0x40u : r);
}

uint16_t lethe_layer__to_bf16(float f)
{
	return round_bf16(f);
}

/* A row with the CPU's own rounding (vcvtneps2bf16: nearest even, as round_bf16, except that it
 * flushes subnormal inputs to zero); bf16 is only ever enabled on CPUs that have it. */
__attribute__((target("avx512f,avx512bf16"))) static void row_bf16(uint16_t *d, const float *s,
                                                                   int n)
{
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(s + i));
		memcpy(d + i, &h, sizeof(h));
	}
	for (; i < n; i++)
		d[i] = round_bf16(s[i]);
}

float lethe_layer__from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* ---- per-thread slots -------------------------------------------------------------------------
 */

#define MAX_SLOTS 256

typedef struct slot {
	dnnl_stream_t stream;
	uint16_t *a, *b; /* dense bf16 copies of A and B in their own layouts */
	size_t a_cap, b_cap;
	void *scratch;
	size_t scratch_cap;
	int next_free; /* free list link, -1: end */
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static slot slots[MAX_SLOTS];
static int n_slots, free_head = -1;
static pthread_key_t slot_key;
static _Thread_local int my_slot = -1;

static void slot_release(void *value)
{
	int i = (int)(intptr_t)value - 1;
	pthread_mutex_lock(&lock);
	slots[i].next_free = free_head;
	free_head = i;
	pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
	if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
		engine = NULL;
	if (pthread_key_create(&slot_key, slot_release))
		engine = NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The calling thread's slot, NULL when none is left or oneDNN has no CPU engine. */
static slot *get_slot(void)
{
	if (my_slot >= 0)
		return &slots[my_slot];
	pthread_once(&once, init_once);
	if (!engine)
		return NULL;
	pthread_mutex_lock(&lock);
	int i = -1;
	if (free_head >= 0) {
		i = free_head;
		free_head = slots[i].next_free;
	} else if (n_slots < MAX_SLOTS)
		i = n_slots++;
	pthread_mutex_unlock(&lock);
	if (i < 0)
		return NULL;
	if (!slots[i].stream && dnnl_stream_create(&slots[i].stream, engine,
	                                           dnnl_stream_default_flags) != dnnl_success) {
		slot_release((void *)(intptr_t)(i + 1));
		return NULL;
	}
	pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1));
	/* oneDNN asks OpenMP how many threads it may use: one, inside lethe's pool. */
	omp_set_num_threads(1);
	my_slot = i;
	return &slots[i];
}

static int grow(void **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	void *q = realloc(*p, need);
	if (!q)
		return -1;
	*p = q;
	*cap = need;
	return 0;
}

/* ---- primitive table --------------------------------------------------------------------------
 */

typedef struct prim_key {
	int trans_a, trans_b, M, N, K, lda, ldc;
	float alpha, beta;
} prim_key;

typedef struct prim_entry {
	prim_key key;
	dnnl_primitive_t prim; /* NULL: empty */
	size_t scratch;        /* its scratchpad's bytes */
} prim_entry;

#define TABLE_SIZE 4096 /* a power of two; a training run uses a few dozen shapes */

static prim_entry table[TABLE_SIZE];
static int table_used;

static uint32_t key_hash(const prim_key *k)
{
	uint32_t h = 2166136261u;
	const unsigned char *p = (const unsigned char *)k;
	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int create(const prim_key *k, dnnl_primitive_t *out, size_t *scratch)
{
	/* src op(A) (M, K) from a dense bf16 A: (M, K) rows of lda, or, transposed, (K, lda)
	 * whose columns are op(A)'s rows; weights op(B) (K, N) from a dense B (K, N) or,
	 * transposed, (N, K); dst (M, N) fp32 with row stride ldc. */
	dnnl_memory_desc_t src, wei, dst;
	dnnl_dims_t sd = {k->M, k->K}, ss = {k->lda, 1}, st = {1, k->lda};
	dnnl_dims_t wd = {k->K, k->N}, ws = {k->N, 1}, wt = {1, k->K};
	dnnl_dims_t dd = {k->M, k->N}, ds = {k->ldc, 1};
	if (dnnl_memory_desc_init_by_strides(&src, 2, sd, dnnl_bf16, k->trans_a ? st : ss) ||
	    dnnl_memory_desc_init_by_strides(&wei, 2, wd, dnnl_bf16, k->trans_b ? wt : ws) ||
	    dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, ds))
		return -1;
	dnnl_matmul_desc_t md;
	if (dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst))
		return -1;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	int rc = -1;
	if (dnnl_primitive_attr_create(&attr) ||
	    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))
		goto free_attr;
	if (k->alpha != 1.0f && dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha))
		goto free_attr;
	if (k->beta != 0.0f) {
		if (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, k->beta) ||
		    dnnl_primitive_attr_set_post_ops(attr, po))
			goto free_post_ops;
	}
	if (dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL))
		goto free_post_ops;
	const dnnl_memory_desc_t *smd =
	    dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	*scratch = smd ? dnnl_memory_desc_get_size(smd) : 0;
	if (dnnl_primitive_create(out, pd) == dnnl_success)
		rc = 0;
	dnnl_primitive_desc_destroy(pd);
free_post_ops:
	if (po)
		dnnl_post_ops_destroy(po);
free_attr:
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return rc;
}

/* The primitive for k, created on first use; *owned set when the table is full and the caller
 * must destroy it after use. */
static dnnl_primitive_t lookup(const prim_key *k, size_t *scratch, int *owned)
{
	uint32_t h = key_hash(k) & (TABLE_SIZE - 1);
	*owned = 0;
	pthread_mutex_lock(&lock);
	for (;; h = (h + 1) & (TABLE_SIZE - 1)) {
		prim_entry *e = &table[h];
		if (!e->prim)
			break;
		if (!memcmp(&e->key, k, sizeof(*k))) {
			*scratch = e->scratch;
			pthread_mutex_unlock(&lock);
			return e->prim;
		}
	}
	/* Created under the lock: another thread asking for the same shape waits for this one. */
	dnnl_primitive_t p = NULL;
	if (create(k, &p, scratch)) {
		p = NULL;
	} else if (table_used < TABLE_SIZE / 2) {
		table[h].key = *k;
		table[h].prim = p;
		table[h].scratch = *scratch;
		table_used++;
	} else
		*owned = 1;
	pthread_mutex_unlock(&lock);
	return p;
}

/* ---- the product ------------------------------------------------------------------------------
 */

typedef struct bf16_job {
	int trans_a, trans_b, M, N, K, lda, ldc;
	float alpha, beta;
	const uint16_t *a, *b;
	float *C;
	int failed;
} bf16_job;

/* Rows begin..end of C from rows begin..end of the bf16 A. */
static int run_rows(const bf16_job *j, size_t begin, size_t end)
{
	prim_key k;
	memset(&k, 0, sizeof(k)); /* padding too: keys are hashed and compared bytewise */
	k.trans_a = j->trans_a;
	k.trans_b = j->trans_b;
	k.lda = j->lda;
	k.M = (int)(end - begin);
	k.N = j->N;
	k.K = j->K;
	k.ldc = j->ldc;
	k.alpha = j->alpha;
	k.beta = j->beta;
	slot *s = get_slot();
	if (!s)
		return -1;
	size_t scratch = 0;
	int owned;
	dnnl_primitive_t p = lookup(&k, &scratch, &owned);
	if (!p || grow(&s->scratch, &s->scratch_cap, scratch ? scratch : 1))
		goto fail;
	dnnl_memory_desc_t src, wei, dst, spd;
	dnnl_dims_t sd = {k.M, k.K}, ss = {k.lda, 1}, st = {1, k.lda};
	dnnl_dims_t wd = {k.K, k.N}, ws = {k.N, 1}, wt = {1, k.K};
	dnnl_dims_t dd = {k.M, k.N}, ds = {k.ldc, 1};
	dnnl_dims_t pdim = {(dnnl_dim_t)(scratch ? scratch : 1)};
	dnnl_memory_desc_init_by_strides(&src, 2, sd, dnnl_bf16, k.trans_a ? st : ss);
	dnnl_memory_desc_init_by_strides(&wei, 2, wd, dnnl_bf16, k.trans_b ? wt : ws);
	dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, ds);
	dnnl_memory_desc_init_by_tag(&spd, 1, pdim, dnnl_u8, dnnl_a);
	dnnl_memory_t ms = NULL, mw = NULL, md = NULL, mp = NULL;
	int rc = -1;
	/* Rows begin..end of op(A): rows of A, or columns when A is transposed. */
	const uint16_t *a = j->trans_a ? j->a + begin : j->a + begin * (size_t)j->lda;
	if (dnnl_memory_create(&ms, &src, engine, (void *)a) ||
	    dnnl_memory_create(&mw, &wei, engine, (void *)j->b) ||
	    dnnl_memory_create(&md, &dst, engine, j->C + begin * (size_t)j->ldc) ||
	    dnnl_memory_create(&mp, &spd, engine, s->scratch))
		goto free_memory;
	dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, ms},
	                          {DNNL_ARG_WEIGHTS, mw},
	                          {DNNL_ARG_DST, md},
	                          {DNNL_ARG_SCRATCHPAD, mp}};
	if (dnnl_primitive_execute(p, s->stream, 4, args) == dnnl_success &&
	    dnnl_stream_wait(s->stream) == dnnl_success)
		rc = 0;
free_memory:
	if (ms)
		dnnl_memory_destroy(ms);
	if (mw)
		dnnl_memory_destroy(mw);
	if (md)
		dnnl_memory_destroy(md);
	if (mp)
		dnnl_memory_destroy(mp);
	if (owned)
		dnnl_primitive_destroy(p);
	return rc;
fail:
	if (p && owned)
		dnnl_primitive_destroy(p);
	return -1;
}

static void bf16_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	bf16_job *j = arg;
	if (run_rows(j, begin, end))
		j->failed = 1; /* only ever set to 1: a benign race between ranges */
}

/* Rows of a bf16 conversion: dst row r (cols wide, dense) from src row r (stride ld). */
typedef struct conv_job {
	uint16_t *dst;
	const float *src;
	int cols, ld;
} conv_job;

static void conv_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	conv_job *j = arg;
	for (size_t r = begin; r < end; r++)
		row_bf16(j->dst + r * (size_t)j->cols, j->src + r * (size_t)j->ld, j->cols);
}

static void convert(uint16_t *dst, const float *src, size_t rows, int cols, int ld)
{
	conv_job j = {dst, src, cols, ld};
	if (lethe_in_parallel() || rows * (size_t)cols < 65536)
		conv_range(&j, 0, 0, rows);
	else
		lethe_parallel_for(rows, conv_range, &j);
}

int lethe_layer__matmul_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *out, int ldc)
{
	if (M <= 0 || N <= 0)
		return 0;
	slot *s = get_slot();
	if (!s)
		return -1;
	/* A (M, K) or (K, M), B (K, N) or (N, K): dense bf16 copies. */
	if (grow((void **)&s->a, &s->a_cap, (size_t)M * K * sizeof(uint16_t) + 2) ||
	    grow((void **)&s->b, &s->b_cap, (size_t)K * N * sizeof(uint16_t) + 2))
		return -1;
	/* Dense copies in the inputs' own layouts: oneDNN reads the transposed ones by strides
	 * (transposing them here cost more than the products). */
	if (trans_a)
		convert(s->a, A, (size_t)K, M, lda);
	else
		convert(s->a, A, (size_t)M, K, lda);
	if (trans_b)
		convert(s->b, B, (size_t)N, K, ldb);
	else
		convert(s->b, B, (size_t)K, N, ldb);
	bf16_job j = {trans_a, trans_b, M,    N,   K, trans_a ? M : K, ldc, alpha,
	              beta,    s->a,    s->b, out, 0};
	int threads = lethe_threads();
	if (threads > 1 && !lethe_in_parallel() && M >= 8 * threads &&
	    (double)M * N * K >= 262144.0)
		lethe_parallel_for((size_t)M, bf16_range, &j);
	else
		bf16_range(&j, 0, 0, (size_t)M);
	return j.failed ? -1 : 0;
}

#endif /* HAVE_DNNL */

/* ---- availability -----------------------------------------------------------------------------
 */

int lethe_precision_check(lethe_precision p, char *why, size_t why_size)
{
	if (p == LETHE_PRECISION_FP32)
		return 0;
	if (p != LETHE_PRECISION_BF16) {
		snprintf(why, why_size, "unknown precision %d", (int)p);
		return LETHE_EINVAL;
	}
#ifndef HAVE_DNNL
	snprintf(why, why_size,
	         "lethe was built without oneDNN; install libdnnl-dev and reconfigure");
	return LETHE_EUNSUPPORTED;
#else
	/* LETHE_BF16_UNSUPPORTED set: behave as on a CPU without bf16 (tests of this message). */
	const char *force = getenv("LETHE_BF16_UNSUPPORTED");
	__builtin_cpu_init();
	if ((force && *force && strcmp(force, "0")) || !__builtin_cpu_supports("avx512bf16")) {
		snprintf(why, why_size,
		         "this CPU lacks AVX512_BF16 (oneDNN would emulate bf16 products, slower "
		         "than fp32); use precision: fp32");
		return LETHE_EUNSUPPORTED;
	}
	if (!get_slot()) {
		snprintf(why, why_size, "oneDNN found no CPU engine");
		return LETHE_EUNSUPPORTED;
	}
	return 0;
#endif
}
