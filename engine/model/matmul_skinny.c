/*
 * matmul_skinny.c: out (M, N) = alpha A (M, K) B^T + beta out with B (N, K) row-major, for the
 * handful of rows of a decoding step (one new position per sequence).
 *
 * Why not OpenBLAS: sgemm packs all of B into its own layout on every call, which for M = 4 costs
 * more than the product itself (perf on c4 greedy generation: sgemm_incopy 43% of the samples,
 * the sgemm kernel 13%), and lethe_layer__matmul runs products this small on one thread. A
 * decoding step reads every weight once, so its speed is the memory bandwidth: here each thread
 * streams the rows of B of its own columns once, four at a time, against up to four rows of A
 * held in registers.
 *
 * Every element is one dot product in a fixed order: sixteen lane sums over k (lane l takes
 * k = l, l + 16, ...; fused multiply-adds), then the lanes summed pairwise (l + 8, then + 4, + 2,
 * + 1). Results therefore depend neither on M, nor on the thread count, nor on which path ran: the
 * AVX-512 kernel and the portable one give the same bits (tests/check_layer.c holds them to each
 * other and to the naive reference).
 */
#include "config.h"

#include <math.h>
#include <stddef.h>

#include "layer.h"
#include "parallel.h"

#define LANES 16
#define RB 4 /* rows of A per block */
#define CB 4 /* rows of B (columns of out) per block */

typedef struct skinny_job {
	int M, N, K, lda, ldb, ldc;
	float alpha, beta;
	const float *A, *B;
	float *out;
	int generic;
} skinny_job;

/* The lanes summed pairwise: l + 8, then + 4, + 2, + 1. */
static float lanes_sum(float *v)
{
	for (int w = LANES / 2; w >= 1; w /= 2)
		for (int l = 0; l < w; l++)
			v[l] = v[l] + v[l + w];
	return v[0];
}

static void store(const skinny_job *j, int i, int c, float s)
{
	float *o = j->out + (size_t)i * j->ldc + c;
	float v = j->alpha * s;
	*o = j->beta != 0.0f ? v + j->beta * *o : v; /* as BLAS: beta 0 does not read out */
}

/* The portable path: the same lane sums with fmaf. */
static void block_generic(const skinny_job *j, int i0, int mr, int c0, int nc)
{
	for (int i = i0; i < i0 + mr; i++) {
		const float *a = j->A + (size_t)i * j->lda;
		for (int c = c0; c < c0 + nc; c++) {
			const float *b = j->B + (size_t)c * j->ldb;
			float acc[LANES] = {0};
			for (int k0 = 0; k0 < j->K; k0 += LANES)
				for (int l = 0; l < LANES; l++) {
					int k = k0 + l;
					acc[l] = k < j->K ? fmaf(a[k], b[k], acc[l])
					                  : fmaf(0.0f, 0.0f, acc[l]);
				}
			store(j, i, c, lanes_sum(acc));
		}
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SKINNY_AVX512 1

__attribute__((target("avx512f"))) static float sum512(__m512 v)
{
	__m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
	                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
	__m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
	__m128 p = _mm_add_ps(q, _mm_movehl_ps(q, q));
	__m128 s = _mm_add_ss(p, _mm_shuffle_ps(p, p, 1));
	return _mm_cvtss_f32(s);
}

/* One k step of the 4 x 4 register block: rows a0..a3 of A against rows b0..b3 of B. Written out
 * because arrays of accumulators are kept in memory by the compiler at -O2. */
#define SKINNY_STEP(LOAD)                                                                          \
	do {                                                                                       \
		__m512 v0 = LOAD(b0), v1 = LOAD(b1), v2 = LOAD(b2), v3 = LOAD(b3), u;              \
		u = LOAD(a0);                                                                      \
		s00 = _mm512_fmadd_ps(u, v0, s00);                                                 \
		s01 = _mm512_fmadd_ps(u, v1, s01);                                                 \
		s02 = _mm512_fmadd_ps(u, v2, s02);                                                 \
		s03 = _mm512_fmadd_ps(u, v3, s03);                                                 \
		u = LOAD(a1);                                                                      \
		s10 = _mm512_fmadd_ps(u, v0, s10);                                                 \
		s11 = _mm512_fmadd_ps(u, v1, s11);                                                 \
		s12 = _mm512_fmadd_ps(u, v2, s12);                                                 \
		s13 = _mm512_fmadd_ps(u, v3, s13);                                                 \
		u = LOAD(a2);                                                                      \
		s20 = _mm512_fmadd_ps(u, v0, s20);                                                 \
		s21 = _mm512_fmadd_ps(u, v1, s21);                                                 \
		s22 = _mm512_fmadd_ps(u, v2, s22);                                                 \
		s23 = _mm512_fmadd_ps(u, v3, s23);                                                 \
		u = LOAD(a3);                                                                      \
		s30 = _mm512_fmadd_ps(u, v0, s30);                                                 \
		s31 = _mm512_fmadd_ps(u, v1, s31);                                                 \
		s32 = _mm512_fmadd_ps(u, v2, s32);                                                 \
		s33 = _mm512_fmadd_ps(u, v3, s33);                                                 \
	} while (0)

/* Rows i0.. (mr <= RB) against columns c0.. (nc <= CB): absent rows and columns repeat the first
 * one (their sums are computed and dropped), so that one fixed 4 x 4 register block serves every
 * edge. */
__attribute__((target("avx512f"))) static void block_avx512(const skinny_job *j, int i0, int mr,
                                                            int c0, int nc)
{
	size_t lda = (size_t)j->lda, ldb = (size_t)j->ldb;
	const float *a0 = j->A + (size_t)i0 * lda, *b0 = j->B + (size_t)c0 * ldb;
	const float *a1 = mr > 1 ? a0 + lda : a0, *a2 = mr > 2 ? a0 + 2 * lda : a0,
	            *a3 = mr > 3 ? a0 + 3 * lda : a0;
	const float *b1 = nc > 1 ? b0 + ldb : b0, *b2 = nc > 2 ? b0 + 2 * ldb : b0,
	            *b3 = nc > 3 ? b0 + 3 * ldb : b0;
	__m512 s00 = _mm512_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00,
	       s12 = s00, s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00,
	       s31 = s00, s32 = s00, s33 = s00;
	int K = j->K, k = 0;
#define FULL(p) _mm512_loadu_ps((p) + k)
	for (; k + LANES <= K; k += LANES)
		SKINNY_STEP(FULL);
#undef FULL
	if (k < K) {
		__mmask16 m = (__mmask16)((1u << (K - k)) - 1);
#define TAIL(p) _mm512_maskz_loadu_ps(m, (p) + k)
		SKINNY_STEP(TAIL);
#undef TAIL
	}
	__m512 acc[RB][CB] = {
	    {s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
	for (int r = 0; r < mr; r++)
		for (int c = 0; c < nc; c++)
			store(j, i0 + r, c0 + c, sum512(acc[r][c]));
}
#endif

static void skinny_range(void *arg, int thread, size_t begin, size_t end)
{
	(void)thread;
	const skinny_job *j = arg;
	for (size_t blk = begin; blk < end; blk++) {
		int c0 = (int)blk * CB, nc = j->N - c0 < CB ? j->N - c0 : CB;
		for (int i0 = 0; i0 < j->M; i0 += RB) {
			int mr = j->M - i0 < RB ? j->M - i0 : RB;
#ifdef HAVE_SKINNY_AVX512
			if (!j->generic) {
				block_avx512(j, i0, mr, c0, nc);
				continue;
			}
#endif
			block_generic(j, i0, mr, c0, nc);
		}
	}
}

void lethe_layer__matmul_skinny(lethe_skinny_path path, int M, int N, int K, float alpha,
                                const float *A, int lda, const float *B, int ldb, float beta,
                                float *out, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	int generic = path == LETHE_SKINNY_GENERIC || !lethe_layer__matmul_skinny_native();
	skinny_job j = {M, N, K, lda, ldb, ldc, alpha, beta, A, B, out, generic};
	size_t blocks = ((size_t)N + CB - 1) / CB;
	lethe_parallel_for(blocks, skinny_range, &j);
}

int lethe_layer__matmul_skinny_native(void)
{
#ifdef HAVE_SKINNY_AVX512
	return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
	return 0;
#endif
}
