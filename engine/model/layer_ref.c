/*
 * layer_ref.c: naive references for layer.c's kernels, written to be obviously correct rather
 * than fast: plain loops straight from the definitions, sums in double, libm's exp, RoPE angles
 * computed from theta instead of read from tables, no threads, no BLAS. They are not part of
 * liblethe: tests/check_layer.c compiles them in and holds every fast kernel to its reference.
 * Shapes as in layer.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

void lethe_layer__matmul_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *out, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double sum = 0.0;
			for (int k = 0; k < K; k++) {
				double a =
				    trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
				double b =
				    trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
				sum += a * b;
			}
			float *o = &out[(size_t)i * ldc + j];
			/* As BLAS: with beta 0 the output is not read. */
			*o = (float)(alpha * sum + (beta != 0.0f ? (double)beta * *o : 0.0));
		}
}

void lethe_layer__rmsnorm_forward_ref(float *out, float *rstd, const float *x, const float *w,
                                      size_t N, int C, float eps)
{
	for (size_t r = 0; r < N; r++) {
		double ss = 0.0;
		for (int i = 0; i < C; i++)
			ss += (double)x[r * C + i] * x[r * C + i];
		double s = 1.0 / sqrt(ss / C + eps);
		if (rstd)
			rstd[r] = (float)s;
		for (int i = 0; i < C; i++)
			out[r * C + i] = (float)(x[r * C + i] * s * w[i]);
	}
}

/* out_i = w_i x_i s with s = (mean(x^2) + eps)^(-1/2), ds/dx_j = -s^3 x_j / C:
 * dx_j = s w_j d_j - s^3 x_j / C * sum_i d_i w_i x_i. */
void lethe_layer__rmsnorm_backward_ref(float *dx, float *dw, const float *dout, const float *x,
                                       const float *w, const float *rstd, size_t N, int C)
{
	for (size_t r = 0; r < N; r++) {
		const float *xr = x + r * C, *d = dout + r * C;
		double s = rstd[r], dot = 0.0;
		for (int i = 0; i < C; i++)
			dot += (double)d[i] * w[i] * xr[i];
		for (int j = 0; j < C; j++) {
			dx[r * C + j] += (float)(s * w[j] * d[j] - s * s * s * xr[j] / C * dot);
			if (dw)
				dw[j] += (float)((double)d[j] * xr[j] * s);
		}
	}
}

/* Rotates pairs (i, i + HS/2) of n heads by pos * theta^(-2i/HS); sign -1 rotates back. */
static void rope_ref(float *v, int n, int HS, int pos, float theta, int sign)
{
	int half = HS / 2;
	for (int h = 0; h < n; h++)
		for (int i = 0; i < half; i++) {
			double ang = sign * pos * pow(theta, -2.0 * i / HS);
			double x1 = v[h * HS + i], x2 = v[h * HS + i + half];
			v[h * HS + i] = (float)(x1 * cos(ang) - x2 * sin(ang));
			v[h * HS + i + half] = (float)(x1 * sin(ang) + x2 * cos(ang));
		}
}

void lethe_layer__rope_forward_ref(float *qkv, const int *past, int B, int T, int NH, int NKV,
                                   int HS, float theta)
{
	size_t QKV = (size_t)(NH + 2 * NKV) * HS;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			float *row = qkv + ((size_t)b * T + t) * QKV;
			int pos = (past ? past[b] : 0) + t;
			rope_ref(row, NH, HS, pos, theta, 1);
			rope_ref(row + (size_t)NH * HS, NKV, HS, pos, theta, 1);
		}
}

void lethe_layer__rope_backward_ref(float *dqkv, int B, int T, int NH, int NKV, int HS, float theta)
{
	size_t QKV = (size_t)(NH + 2 * NKV) * HS;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			float *row = dqkv + ((size_t)b * T + t) * QKV;
			rope_ref(row, NH, HS, t, theta, -1);
			rope_ref(row + (size_t)NH * HS, NKV, HS, t, theta, -1);
		}
}

/* Query head h of row (b, t), and key/value head of that query head at row (b, i). */
#define QKV_W ((size_t)(NH + 2 * NKV) * HS)
#define QH(b, t, h) (qkv + ((size_t)(b)*T + (t)) * QKV_W + (size_t)(h)*HS)
#define KH(b, i, h) (qkv + ((size_t)(b)*T + (i)) * QKV_W + (size_t)(NH + (h) / (NH / NKV)) * HS)
#define VH(b, i, h) (KH(b, i, h) + (size_t)NKV * HS)

void lethe_layer__attention_forward_ref(float *y, float *att, const float *qkv, int B, int T,
                                        int NH, int NKV, int HS)
{
	double *p = malloc((size_t)T * sizeof(double));
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				double mx = -INFINITY, sum = 0.0;
				for (int i = 0; i <= t; i++) {
					double d = 0.0;
					for (int c = 0; c < HS; c++)
						d += (double)QH(b, t, h)[c] * KH(b, i, h)[c];
					p[i] = d / sqrt((double)HS);
					mx = p[i] > mx ? p[i] : mx;
				}
				for (int i = 0; i <= t; i++)
					sum += p[i] = exp(p[i] - mx);
				float *a = att + (((size_t)b * NH + h) * T + t) * T;
				for (int i = 0; i < T; i++)
					a[i] = i <= t ? (float)(p[i] / sum) : 0.0f;
				float *yr = y + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
				for (int c = 0; c < HS; c++) {
					double acc = 0.0;
					for (int i = 0; i <= t; i++)
						acc += p[i] / sum * VH(b, i, h)[c];
					yr[c] = (float)acc;
				}
			}
	free(p);
}

/* With s_ti = q_t.k_i / sqrt(HS) and p = softmax_i(s): dv_i = sum_t p_ti dy_t,
 * dp_ti = dy_t.v_i, ds_ti = p_ti (dp_ti - sum_j p_tj dp_tj), dq_t = sum_i ds_ti k_i / sqrt(HS),
 * dk_i = sum_t ds_ti q_t / sqrt(HS). */
void lethe_layer__attention_backward_ref(float *dqkv, const float *dy, const float *qkv,
                                         const float *att, int B, int T, int NH, int NKV, int HS)
{
	double scale = 1.0 / sqrt((double)HS);
	double *dp = malloc((size_t)T * sizeof(double));
	memset(dqkv, 0, (size_t)B * T * QKV_W * sizeof(float));
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *p = att + (((size_t)b * NH + h) * T + t) * T;
				const float *d =
				    dy + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
				double dot = 0.0;
				for (int i = 0; i <= t; i++) {
					dp[i] = 0.0;
					for (int c = 0; c < HS; c++)
						dp[i] += (double)d[c] * VH(b, i, h)[c];
					dot += p[i] * dp[i];
				}
				for (int i = 0; i <= t; i++) {
					double ds = p[i] * (dp[i] - dot) * scale;
					float *dq = dqkv + (QH(b, t, h) - qkv);
					float *dk = dqkv + (KH(b, i, h) - qkv);
					float *dv = dqkv + (VH(b, i, h) - qkv);
					for (int c = 0; c < HS; c++) {
						dq[c] += (float)(ds * KH(b, i, h)[c]);
						dk[c] += (float)(ds * QH(b, t, h)[c]);
						dv[c] += (float)(p[i] * d[c]);
					}
				}
			}
	free(dp);
}

void lethe_layer__attention_cached_forward_ref(float *y, const float *qkv, const float *k,
                                               const float *v, const int *past, const int *slot,
                                               int B, int T, int S, int NH, int NKV, int HS)
{
	size_t KVC = (size_t)NKV * HS;
	double *p = malloc((size_t)S * sizeof(double));
	for (int b = 0; b < B; b++) {
		int s = slot ? slot[b] : b;
		for (int t = 0; t < T; t++)
			for (int h = 0; h < NH; h++) {
				int pos = past[b] + t, kh = h / (NH / NKV);
				const float *K = k + (size_t)s * S * KVC + (size_t)kh * HS;
				const float *V = v + (size_t)s * S * KVC + (size_t)kh * HS;
				double mx = -INFINITY, sum = 0.0;
				for (int i = 0; i <= pos; i++) {
					double d = 0.0;
					for (int c = 0; c < HS; c++)
						d += (double)QH(b, t, h)[c] * K[i * KVC + c];
					p[i] = d / sqrt((double)HS);
					mx = p[i] > mx ? p[i] : mx;
				}
				for (int i = 0; i <= pos; i++)
					sum += p[i] = exp(p[i] - mx);
				float *yr = y + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
				for (int c = 0; c < HS; c++) {
					double acc = 0.0;
					for (int i = 0; i <= pos; i++)
						acc += p[i] / sum * V[i * KVC + c];
					yr[c] = (float)acc;
				}
			}
	}
	free(p);
}

void lethe_layer__swiglu_forward_ref(float *g, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] = (float)(a[i] / (1.0 + exp(-(double)a[i])) * b[i]);
}

/* g = a sigma(a) b: dg/db = a sigma(a), dg/da = b (sigma(a) + a sigma(a) (1 - sigma(a))). */
void lethe_layer__swiglu_backward_ref(float *da, float *db, const float *dg, const float *a,
                                      const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double sg = 1.0 / (1.0 + exp(-(double)a[i]));
		db[i] = (float)(dg[i] * a[i] * sg);
		da[i] = (float)(dg[i] * b[i] * (sg + a[i] * sg * (1.0 - sg)));
	}
}
