/*
 * check_layer.c: the transformer layer's kernels (engine/model/layer.c) against their naive
 * references (engine/model/layer_ref.c), forward and backward, at one and two threads, each with
 * an explicit tolerance; and the layer itself: KV-cache decoding gives the logits of the full
 * forward at every position; the decoding product against the reference, its portable path
 * and itself row by row. Compiles the layer, its references and the thread pool in (they are
 * private to liblethe).
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/model.h>

#include "../engine/model/layer.h"

static unsigned rng_state;

static float uniform(float lo, float hi)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng_state >> 8) & 0xFFFFFF) / 16777216.0f;
}

static float *random_vec(size_t n, float lo, float hi)
{
	float *v = malloc((n ? n : 1) * sizeof(float));
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		v[i] = uniform(lo, hi);
	return v;
}

static float *copy_vec(const float *v, size_t n)
{
	float *c = malloc((n ? n : 1) * sizeof(float));
	ck_assert_ptr_nonnull(c);
	memcpy(c, v, n * sizeof(float));
	return c;
}

/* Every |got - want| <= atol + rtol |want|; names the first element that is not. */
static void assert_close(const char *what, const float *got, const float *want, size_t n,
                         double atol, double rtol)
{
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		ck_assert_msg(isfinite(got[i]) && d <= atol + rtol * fabs((double)want[i]),
		              "%s[%zu]: %.9g, reference %.9g (difference %.3g)", what, i,
		              (double)got[i], (double)want[i], d);
	}
}

/* RoPE tables as lethe_model_new computes them. */
static void rope_tables(float *cos_t, float *sin_t, int T, int HS, float theta)
{
	int half = HS / 2;
	for (int i = 0; i < half; i++) {
		float inv = 1.0f / powf(theta, (float)(2 * i) / (float)HS);
		for (int t = 0; t < T; t++) {
			cos_t[t * half + i] = cosf((float)t * inv);
			sin_t[t * half + i] = sinf((float)t * inv);
		}
	}
}

static void setup_threads(int i)
{
	rng_state = 12345u + (unsigned)i;
	lethe_set_threads(i + 1); /* loop tests: _i 0 runs at one thread, 1 at two */
}

START_TEST(matmul_matches_reference)
{
	/* Tolerance 1e-5 + 1e-5 |ref| for sums of K <= 96 products of values in [-1, 1]; the large
	 * shape is split by rows over the pool at two threads. */
	setup_threads(_i);
	const int shapes[][3] = {{5, 7, 3}, {64, 64, 64}, {96, 40, 80}};
	for (size_t s = 0; s < 3; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
				float *A = random_vec((size_t)M * K, -1, 1),
				      *B = random_vec((size_t)K * N, -1, 1);
				float *C = random_vec((size_t)M * N, -1, 1),
				      *R = copy_vec(C, (size_t)M * N);
				float beta = (ta + tb) % 2 ? 1.0f : 0.0f;
				lethe_layer__matmul(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B,
				                    tb ? K : N, beta, C, N);
				lethe_layer__matmul_ref(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B,
				                        tb ? K : N, beta, R, N);
				assert_close("matmul", C, R, (size_t)M * N, 1e-5, 1e-5);
				free(A);
				free(B);
				free(C);
				free(R);
			}
	lethe_set_threads(1);
}
END_TEST

START_TEST(matmul_skinny_matches_reference)
{
	/* The decoding product (matmul_skinny.c) over every edge of its 4 x 4 register block and
	 * of its 16 lanes (M 1..9, N not a multiple of 4, K below, at and past multiples of 16),
	 * with strides wider than the rows and beta 0 and 1. Held to the naive reference
	 * (1e-5 + 1e-5 |ref|, sums of up to 200 products in [-1, 1]); and bit for bit to the
	 * portable path and to itself one row at a time: every element is one dot product in a
	 * fixed order, whatever M, the thread count or the path. */
	setup_threads(_i);
	if (!lethe_layer__matmul_skinny_native() && _i == 0)
		printf("matmul_skinny: no AVX-512 here: the automatic path is the portable one\n");
	const int Ks[] = {0, 1, 15, 16, 17, 64, 200};
	for (int M = 1; M <= 9; M++)
		for (size_t ki = 0; ki < sizeof(Ks) / sizeof(Ks[0]); ki++) {
			/* N mod 4 runs through 1, 2, 3, 0: every width of the last column block. */
			int K = Ks[ki], N = 4 * M + M % 4, lda = K + 3, ldb = K + 5, ldc = N + 2;
			float beta = (M + (int)ki) % 2 ? 1.0f : 0.0f;
			float *A = random_vec((size_t)M * lda, -1, 1),
			      *B = random_vec((size_t)N * ldb, -1, 1);
			float *C = random_vec((size_t)M * ldc, -1, 1);
			float *R = copy_vec(C, (size_t)M * ldc), *G = copy_vec(C, (size_t)M * ldc),
			      *S = copy_vec(C, (size_t)M * ldc);
			lethe_layer__matmul_skinny(LETHE_SKINNY_AUTO, M, N, K, 0.5f, A, lda, B, ldb,
			                           beta, C, ldc);
			lethe_layer__matmul_ref(0, 1, M, N, K, 0.5f, A, lda, B, ldb, beta, R, ldc);
			lethe_layer__matmul_skinny(LETHE_SKINNY_GENERIC, M, N, K, 0.5f, A, lda, B,
			                           ldb, beta, G, ldc);
			for (int i = 0; i < M; i++)
				lethe_layer__matmul_skinny(LETHE_SKINNY_AUTO, 1, N, K, 0.5f,
				                           A + (size_t)i * lda, lda, B, ldb, beta,
				                           S + (size_t)i * ldc, ldc);
			for (int i = 0; i < M; i++) {
				size_t o = (size_t)i * ldc;
				assert_close("matmul_skinny", C + o, R + o, (size_t)N, 1e-5, 1e-5);
				ck_assert_msg(
				    memcmp(C + o, G + o, (size_t)N * sizeof(float)) == 0,
				    "M %d K %d row %d: the AVX-512 and portable paths differ", M, K,
				    i);
				ck_assert_msg(memcmp(C + o, S + o, (size_t)N * sizeof(float)) == 0,
				              "M %d K %d row %d: differs when computed alone", M, K,
				              i);
				/* The padding between rows is not written. */
				ck_assert(C[o + N] == R[o + N] && C[o + N + 1] == R[o + N + 1]);
			}
			free(A);
			free(B);
			free(C);
			free(R);
			free(G);
			free(S);
		}
	lethe_set_threads(1);
}
END_TEST

START_TEST(rmsnorm_matches_reference)
{
	/* Forward 1e-6 relative (float against double sums over C = 48); backward accumulates into
	 * dx and dw that start non-zero, 1e-5 + 1e-5 relative. */
	setup_threads(_i);
	size_t N = 9;
	int C = 48;
	float *x = random_vec(N * C, -2, 2), *w = random_vec((size_t)C, 0.5f, 1.5f);
	float *out = random_vec(N * C, 0, 1), *ref = random_vec(N * C, 0, 1);
	float rstd[9], rstd_ref[9];
	lethe_layer__rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
	lethe_layer__rmsnorm_forward_ref(ref, rstd_ref, x, w, N, C, 1e-5f);
	assert_close("rmsnorm out", out, ref, N * C, 1e-7, 1e-6);
	assert_close("rmsnorm rstd", rstd, rstd_ref, N, 0, 1e-6);

	float *dout = random_vec(N * C, -1, 1), *dx = random_vec(N * C, -1, 1);
	float *dw = random_vec((size_t)C, -1, 1);
	float *dx_ref = copy_vec(dx, N * C), *dw_ref = copy_vec(dw, (size_t)C);
	lethe_layer__rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C);
	lethe_layer__rmsnorm_backward_ref(dx_ref, dw_ref, dout, x, w, rstd, N, C);
	assert_close("rmsnorm dx", dx, dx_ref, N * C, 1e-5, 1e-5);
	assert_close("rmsnorm dw", dw, dw_ref, (size_t)C, 1e-5, 1e-5);
	free(x);
	free(w);
	free(out);
	free(ref);
	free(dout);
	free(dx);
	free(dw);
	free(dx_ref);
	free(dw_ref);
	lethe_set_threads(1);
}
END_TEST

START_TEST(rope_matches_reference)
{
	/* Against angles computed in double from theta (the kernel reads float tables): 2e-5
	 * absolute on values in [-1, 1] at positions below 40. Backward is the transpose. */
	setup_threads(_i);
	int B = 2, T = 5, NH = 4, NKV = 2, HS = 8, QKV = (NH + 2 * NKV) * HS, S = 40;
	float cos_t[40 * 4], sin_t[40 * 4];
	rope_tables(cos_t, sin_t, S, HS, 10000.0f);
	size_t n = (size_t)B * T * QKV;
	float *v = random_vec(n, -1, 1), *ref = copy_vec(v, n), *orig = copy_vec(v, n);
	int past[2] = {0, 31};
	lethe_layer__rope_forward(v, past, B, T, NH, NKV, HS, cos_t, sin_t);
	lethe_layer__rope_forward_ref(ref, past, B, T, NH, NKV, HS, 10000.0f);
	assert_close("rope", v, ref, n, 2e-5, 0);
	/* v columns are not rotated */
	for (int r = 0; r < B * T; r++)
		for (int c = (NH + NKV) * HS; c < QKV; c++)
			ck_assert(v[(size_t)r * QKV + c] == orig[(size_t)r * QKV + c]);

	float *d = random_vec(n, -1, 1), *dref = copy_vec(d, n);
	lethe_layer__rope_backward(d, B, T, NH, NKV, HS, cos_t, sin_t);
	lethe_layer__rope_backward_ref(dref, B, T, NH, NKV, HS, 10000.0f);
	assert_close("rope backward", d, dref, n, 2e-5, 0);
	free(v);
	free(ref);
	free(orig);
	free(d);
	free(dref);
	lethe_set_threads(1);
}
END_TEST

START_TEST(attention_matches_reference)
{
	/* Probabilities and outputs 2e-6 + 1e-5 relative; gradients 1e-5 + 1e-4 relative (float
	 * products of T = 9 terms against double). With and without grouped key/value heads. */
	setup_threads(_i);
	for (int grouped = 0; grouped < 2; grouped++) {
		int B = 3, T = 9, NH = 4, NKV = grouped ? 2 : 4, HS = 8;
		int QKV = (NH + 2 * NKV) * HS;
		size_t nq = (size_t)B * T * QKV, ny = (size_t)B * T * NH * HS;
		size_t na = (size_t)B * NH * T * T;
		float *qkv = random_vec(nq, -2, 2), *y = random_vec(ny, 0, 1),
		      *yr = random_vec(ny, 0, 1);
		float *att = random_vec(na, 0, 1), *attr = random_vec(na, 0, 1);
		lethe_layer__attention_forward(y, att, qkv, B, T, NH, NKV, HS);
		lethe_layer__attention_forward_ref(yr, attr, qkv, B, T, NH, NKV, HS);
		assert_close("attention y", y, yr, ny, 2e-6, 1e-5);
		assert_close("attention att", att, attr, na, 2e-6, 1e-5);
		{
			float *dy = random_vec(ny, -1, 1), *dq = random_vec(nq, 0, 1);
			float *dqr = random_vec(nq, 0, 1),
			      *dp = random_vec((size_t)2 * T * T, 0, 1);
			lethe_layer__attention_backward(dq, dp, dy, qkv, att, B, T, NH, NKV, HS);
			lethe_layer__attention_backward_ref(dqr, dy, qkv, att, B, T, NH, NKV, HS);
			assert_close("attention dqkv", dq, dqr, nq, 1e-5, 1e-4);
			free(dy);
			free(dq);
			free(dqr);
			free(dp);
		}

		/* The cache: keys and values of every position, then each position on its own,
		 * through sequence slots in another order. */
		int S = 12, KVC = NKV * HS, slot[3] = {2, 0, 1};
		float *k = calloc((size_t)B * S * KVC, sizeof(float));
		float *vv = calloc((size_t)B * S * KVC, sizeof(float));
		for (int b = 0; b < B; b++)
			for (int t = 0; t < T; t++) {
				const float *row = qkv + ((size_t)b * T + t) * QKV;
				size_t at = ((size_t)slot[b] * S + t) * KVC;
				memcpy(k + at, row + NH * HS, (size_t)KVC * sizeof(float));
				memcpy(vv + at, row + NH * HS + KVC, (size_t)KVC * sizeof(float));
			}
		float *scores = malloc((size_t)2 * S * sizeof(float));
		float *q1 = malloc((size_t)B * QKV * sizeof(float));
		float *y1 = malloc((size_t)B * NH * HS * sizeof(float));
		float *y1r = malloc((size_t)B * NH * HS * sizeof(float));
		for (int t = 0; t < T; t++) {
			int past[3] = {t, t, t};
			for (int b = 0; b < B; b++)
				memcpy(q1 + (size_t)b * QKV, qkv + ((size_t)b * T + t) * QKV,
				       (size_t)QKV * sizeof(float));
			lethe_layer__attention_cached_forward(y1, scores, q1, k, vv, past, slot, B,
			                                      1, S, NH, NKV, HS);
			lethe_layer__attention_cached_forward_ref(y1r, q1, k, vv, past, slot, B, 1,
			                                          S, NH, NKV, HS);
			assert_close("cached attention", y1, y1r, (size_t)B * NH * HS, 2e-6, 1e-5);
			for (int b = 0; b < B; b++)
				assert_close("cached attention against full",
				             y1 + (size_t)b * NH * HS,
				             yr + ((size_t)b * T + t) * NH * HS, (size_t)NH * HS,
				             2e-6, 1e-5);
		}
		free(k);
		free(vv);
		free(scores);
		free(q1);
		free(y1);
		free(y1r);
		free(qkv);
		free(y);
		free(yr);
		free(att);
		free(attr);
	}
	lethe_set_threads(1);
}
END_TEST

START_TEST(swiglu_matches_reference)
{
	/* lethe_expf is within 2 ulp of expf: 1e-6 + 1e-6 relative on a in [-8, 8]. */
	setup_threads(_i);
	size_t n = 1000;
	float *a = random_vec(n, -8, 8), *b = random_vec(n, -2, 2), *dg = random_vec(n, -1, 1);
	float *g = malloc(n * sizeof(float)), *gr = malloc(n * sizeof(float));
	float *da = malloc(n * sizeof(float)), *db = malloc(n * sizeof(float));
	float *dar = malloc(n * sizeof(float)), *dbr = malloc(n * sizeof(float));
	lethe_layer__swiglu_forward(g, a, b, n);
	lethe_layer__swiglu_forward_ref(gr, a, b, n);
	assert_close("swiglu", g, gr, n, 1e-6, 1e-6);
	lethe_layer__swiglu_backward(da, db, dg, a, b, n);
	lethe_layer__swiglu_backward_ref(dar, dbr, dg, a, b, n);
	assert_close("swiglu da", da, dar, n, 1e-6, 1e-6);
	assert_close("swiglu db", db, dbr, n, 1e-6, 1e-6);
	free(a);
	free(b);
	free(dg);
	free(g);
	free(gr);
	free(da);
	free(db);
	free(dar);
	free(dbr);
	lethe_set_threads(1);
}
END_TEST

/* ---- the layer: decoding from the cache against the full forward ----------------------------
 */

enum { L_ = 2, C_ = 16, NH_ = 2, HS_ = 8, FF_ = 24, V_ = 11, B_ = 2, T_ = 10, S_ = 12 };
#define QKV_ ((NH_ + 2 * NH_) * HS_)

typedef struct tiny {
	layer_dims d;
	layer_view w[L_];
	float *block, *nf, *head;
	float cos_t[S_ * HS_ / 2], sin_t[S_ * HS_ / 2];
} tiny;

static void tiny_init(tiny *m)
{
	size_t per = 2 * C_ + (size_t)QKV_ * C_ + (size_t)C_ * NH_ * HS_ + 3 * (size_t)FF_ * C_;
	m->block = random_vec(L_ * per + C_ + (size_t)V_ * C_, -0.4f, 0.4f);
	float *p = m->block;
	for (int l = 0; l < L_; l++) {
		layer_view *w = &m->w[l];
		w->n1 = p, p += C_;
		w->wqkv = p, p += (size_t)QKV_ * C_;
		w->wo = p, p += (size_t)C_ * NH_ * HS_;
		w->n2 = p, p += C_;
		w->w1 = p, p += (size_t)FF_ * C_;
		w->w3 = p, p += (size_t)FF_ * C_;
		w->w2 = p, p += (size_t)C_ * FF_;
		for (int i = 0; i < C_; i++)
			w->n1[i] += 1.0f, w->n2[i] += 1.0f;
	}
	m->nf = p, p += C_;
	m->head = p;
	rope_tables(m->cos_t, m->sin_t, S_, HS_, 10000.0f);
	m->d = (layer_dims){C_, NH_, NH_, HS_, FF_, 1e-5f, m->cos_t, m->sin_t, 0, 0.0f, 0.0f};
}

/* Runs the layers over B rows of T positions from x (B*T, C) (overwritten), then the final norm
 * and the head: logits (B*T, V). */
static void tiny_forward(tiny *m, float *x, float *logits, const kv_cache *kv, int B, int T)
{
	size_t N = (size_t)B * T;
	float *buf =
	    calloc(N * (3 * C_ + QKV_ + NH_ * HS_ + 3 * FF_ + 2) + (size_t)B * NH_ * T * T + 2 * S_,
	           sizeof(float));
	float *p = buf;
	layer_acts a;
	a.x = a.xmid = a.xout = x;
	a.rstd1 = p, p += N;
	a.rstd2 = p, p += N;
	a.h = p, p += N * C_;
	a.qkv = p, p += N * QKV_;
	a.y = p, p += N * NH_ * HS_;
	a.a = p, p += N * FF_;
	a.b = p, p += N * FF_;
	a.g = p, p += N * FF_;
	a.att = p, p += (size_t)B * NH_ * T * T;
	a.scores = p;
	for (int l = 0; l < L_; l++)
		lethe_layer__forward(&m->d, &m->w[l], &a, kv, l, B, T);
	lethe_layer__rmsnorm_forward(a.h, NULL, x, m->nf, N, C_, 1e-5f);
	lethe_layer__matmul(0, 1, (int)N, V_, C_, 1.0f, a.h, C_, m->head, C_, 0.0f, logits, V_);
	free(buf);
}

START_TEST(kv_cache_decoding_matches_full_forward)
{
	/* Two sequences of T positions: the full forward's logits at every position against a
	 * prefill of P positions followed by one decoding step per position (then a step with one
	 * sequence only, through its slot). Tolerance 1e-5 + 1e-5 relative on logits of about 1:
	 * the two attention evaluation orders differ by rounding. */
	setup_threads(_i);
	tiny m;
	tiny_init(&m);
	size_t N = (size_t)B_ * T_;
	float *emb = random_vec(N * C_, -1, 1), *x = copy_vec(emb, N * C_);
	float *full = malloc(N * V_ * sizeof(float));
	tiny_forward(&m, x, full, NULL, B_, T_);

	float *k = calloc((size_t)L_ * B_ * S_ * NH_ * HS_, sizeof(float));
	float *v = calloc((size_t)L_ * B_ * S_ * NH_ * HS_, sizeof(float));
	int P = 4;
	float *xp = malloc((size_t)B_ * P * C_ * sizeof(float));
	float *lp = malloc((size_t)B_ * P * V_ * sizeof(float));
	for (int b = 0; b < B_; b++)
		memcpy(xp + (size_t)b * P * C_, emb + (size_t)b * T_ * C_,
		       (size_t)P * C_ * sizeof(float));
	kv_cache prefill = {k, v, B_, S_, NULL, NULL};
	tiny_forward(&m, xp, lp, &prefill, B_, P);
	for (int b = 0; b < B_; b++)
		assert_close("prefill logits", lp + (size_t)b * P * V_, full + (size_t)b * T_ * V_,
		             (size_t)P * V_, 1e-5, 1e-5);
	float x1[B_ * C_], l1[B_ * V_];
	for (int t = P; t < T_; t++) {
		int past[B_] = {t, t};
		for (int b = 0; b < B_; b++)
			memcpy(x1 + b * C_, emb + ((size_t)b * T_ + t) * C_, C_ * sizeof(float));
		kv_cache step = {k, v, B_, S_, past, NULL};
		int rows = B_;
		if (t == T_ - 1) { /* the last step decodes the second sequence alone */
			static const int only[1] = {1};
			memcpy(x1, x1 + C_, C_ * sizeof(float));
			past[0] = t;
			step.slot = only;
			rows = 1;
		}
		tiny_forward(&m, x1, l1, &step, rows, 1);
		for (int r = 0; r < rows; r++) {
			int b = rows == 1 ? 1 : r;
			char what[64];
			snprintf(what, sizeof(what), "decoded logits, sequence %d position %d", b,
			         t);
			assert_close(what, l1 + (size_t)r * V_, full + ((size_t)b * T_ + t) * V_,
			             V_, 1e-5, 1e-5);
		}
	}
	free(emb);
	free(x);
	free(full);
	free(k);
	free(v);
	free(xp);
	free(lp);
	free(m.block);
	lethe_set_threads(1);
}
END_TEST

#ifdef HAVE_DNNL
/* bf16 products (matmul_bf16.c): exactly the reference on the bf16-rounded inputs up to fp32
 * accumulation order (1e-5 relative), and within bf16's rounding of the fp32 product (inputs
 * carry 2^-9 relative error each: 2^-7 of sum |a||b| bounds it). Strided A, B and out, alpha and
 * beta, every transposition, at one and two threads (the large shapes are split by rows). */
START_TEST(matmul_bf16_matches_reference)
{
	char why[256];
	if (lethe_precision_check(LETHE_PRECISION_BF16, why, sizeof(why))) {
		fprintf(stderr, "check_layer: bf16 skipped: %s\n", why);
		return;
	}
	setup_threads(_i);
	const int shapes[][3] = {{5, 7, 3}, {64, 64, 64}, {96, 40, 80}, {200, 72, 33}};
	int was = lethe_layer__set_precision(LETHE_PRECISION_BF16);
	for (size_t s = 0; s < 4; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
				int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
				size_t na = (size_t)(ta ? K : M) * lda,
				       nb = (size_t)(tb ? N : K) * ldb;
				size_t nc = (size_t)M * ldc;
				float *A = random_vec(na, -1, 1), *B = random_vec(nb, -1, 1);
				float *Ar = copy_vec(A, na), *Br = copy_vec(B, nb);
				for (size_t i = 0; i < na; i++)
					Ar[i] = lethe_layer__from_bf16(lethe_layer__to_bf16(A[i]));
				for (size_t i = 0; i < nb; i++)
					Br[i] = lethe_layer__from_bf16(lethe_layer__to_bf16(B[i]));
				float *C = random_vec(nc, -1, 1), *R = copy_vec(C, nc),
				      *F = copy_vec(C, nc);
				float beta = (ta + tb) % 2 ? 1.0f : 0.0f,
				      alpha = s % 2 ? 0.5f : 1.0f;
				lethe_layer__matmul(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
				                    ldc);
				lethe_layer__matmul_ref(ta, tb, M, N, K, alpha, Ar, lda, Br, ldb,
				                        beta, R, ldc);
				lethe_layer__matmul_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb,
				                        beta, F, ldc);
				assert_close("bf16 matmul (rounded inputs)", C, R, nc, 1e-5 * K,
				             1e-5);
				assert_close("bf16 matmul (fp32 inputs)", C, F, nc, K * 0.0079,
				             0.0);
				free(A);
				free(B);
				free(Ar);
				free(Br);
				free(C);
				free(R);
				free(F);
			}
	lethe_layer__set_precision(was);
	lethe_set_threads(1);
}
END_TEST
#endif

/* Round to nearest, ties to even, NaN kept. */
START_TEST(bf16_rounding)
{
#ifdef HAVE_DNNL
	ck_assert_uint_eq(lethe_layer__to_bf16(1.0f), 0x3f80);
	ck_assert_uint_eq(lethe_layer__to_bf16(1.0f + 1.0f / 256), 0x3f80); /* tie: to even */
	ck_assert_uint_eq(lethe_layer__to_bf16(1.0f + 3.0f / 256), 0x3f82); /* tie: to even */
	ck_assert_uint_eq(lethe_layer__to_bf16(1.0f + 1.5f / 256), 0x3f81);
	ck_assert_uint_eq(lethe_layer__to_bf16(-2.0f), 0xc000);
	ck_assert(isnan(lethe_layer__from_bf16(lethe_layer__to_bf16(NAN))));
	ck_assert(isinf(lethe_layer__from_bf16(lethe_layer__to_bf16(INFINITY))));
#endif
}
END_TEST

int main(void)
{
	lethe_set_threads(1);
	Suite *s = suite_create("layer");
	TCase *tc = tcase_create("layer");
	tcase_add_loop_test(tc, matmul_matches_reference, 0, 2);
	tcase_add_loop_test(tc, matmul_skinny_matches_reference, 0, 2);
	tcase_add_loop_test(tc, rmsnorm_matches_reference, 0, 2);
	tcase_add_loop_test(tc, rope_matches_reference, 0, 2);
	tcase_add_loop_test(tc, attention_matches_reference, 0, 2);
	tcase_add_loop_test(tc, swiglu_matches_reference, 0, 2);
	tcase_add_loop_test(tc, kv_cache_decoding_matches_full_forward, 0, 2);
#ifdef HAVE_DNNL
	tcase_add_loop_test(tc, matmul_bf16_matches_reference, 0, 2);
#endif
	tcase_add_test(tc, bf16_rounding);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
