/*
 * stats.c: the statistics behind intervals and comparisons (lethe/metrics.h): bootstrap
 * resampling indices from a generator specified to the bit (so a Python reimplementation gives
 * the same resamples), numpy's linear percentile, the bootstrap interval of a mean, and Welch's
 * t-test with the Student t distribution through the regularized incomplete beta function
 * (continued fraction by the modified Lentz method).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform integer in [0, n), n >= 1: Lemire, "Fast random integer generation in an interval". */
static uint32_t below(uint64_t *state, uint32_t n)
{
	uint64_t m = (uint64_t)(uint32_t)(splitmix64(state) >> 32) * n;
	uint32_t low = (uint32_t)m;
	if (low < n) {
		uint32_t threshold = (uint32_t)(-n) % n;
		while (low < threshold) {
			m = (uint64_t)(uint32_t)(splitmix64(state) >> 32) * n;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

int lethe_bootstrap_indices(uint32_t **out, size_t n, size_t resamples, uint64_t seed)
{
	*out = NULL;
	if (n == 0 || n > UINT32_MAX || resamples == 0 ||
	    n > SIZE_MAX / resamples / sizeof(uint32_t))
		return LETHE_EINVAL;
	uint32_t *idx = malloc(n * resamples * sizeof *idx);
	if (!idx)
		return LETHE_ENOMEM;
	uint64_t state = seed;
	for (size_t i = 0; i < n * resamples; i++)
		idx[i] = below(&state, (uint32_t)n);
	*out = idx;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double lethe_percentile(double *values, size_t n, double p)
{
	qsort(values, n, sizeof *values, cmp_double);
	double rank = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)floor(rank);
	if (lo >= n - 1)
		return values[n - 1];
	double frac = rank - (double)lo;
	/* numpy's _lerp: a + (b - a) * t, turned around for t >= 0.5 to stay exact at the ends. */
	double a = values[lo], b = values[lo + 1], diff = b - a;
	return frac >= 0.5 ? b - diff * (1.0 - frac) : a + diff * frac;
}

int lethe_bootstrap_mean_ci(double ci[2], const double *x, size_t n, const uint32_t *idx,
                            size_t resamples, double level)
{
	ci[0] = ci[1] = NAN;
	if (!(level > 0 && level < 1) || n == 0 || resamples == 0)
		return LETHE_EINVAL;
	double *means = malloc(resamples * sizeof *means);
	if (!means)
		return LETHE_ENOMEM;
	size_t k = 0;
	for (size_t r = 0; r < resamples; r++) {
		double sum = 0.0;
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			double v = x[idx[r * n + i]];
			if (!isnan(v))
				sum += v, m++;
		}
		if (m)
			means[k++] = sum / (double)m;
	}
	if (k) {
		double alpha = (1.0 - level) / 2.0 * 100.0;
		ci[0] = lethe_percentile(means, k, alpha);
		ci[1] = lethe_percentile(means, k, 100.0 - alpha);
	}
	free(means);
	return 0;
}

/* The continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300, eps = 1e-16;
	double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	double h = d;
	for (int m = 1; m <= 10000; m++) {
		double m2 = 2.0 * m;
		double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
		d = 1.0 + num * d;
		d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
		c = 1.0 + num / c;
		if (fabs(c) < tiny)
			c = tiny;
		h *= d * c;
		num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
		d = 1.0 + num * d;
		d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
		c = 1.0 + num / c;
		if (fabs(c) < tiny)
			c = tiny;
		double delta = d * c;
		h *= delta;
		if (fabs(delta - 1.0) < eps)
			break;
	}
	return h;
}

/* The regularized incomplete beta function I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1.0) / (a + b + 2.0))
		return front * beta_cf(a, b, x) / a;
	return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

static void mean_var(const double *x, size_t n, double *mean, double *var)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	*mean = s / (double)n;
	double ss = 0.0;
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - *mean) * (x[i] - *mean);
	*var = ss / (double)(n - 1);
}

double lethe_t_quantile(double p, double df)
{
	if (!(p > 0 && p < 1) || !(df > 0))
		return NAN;
	if (p == 0.5)
		return 0.0;
	/* Upper tail of |t| >= x is I_{df/(df+x^2)}(df/2, 1/2) / 2, decreasing in x: bisect. */
	double tail = p > 0.5 ? 1.0 - p : p, lo = 0.0, hi = 1.0;
	while (0.5 * beta_inc(df / 2.0, 0.5, df / (df + hi * hi)) > tail && hi < 1e300)
		hi *= 2.0;
	for (int i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);
		if (0.5 * beta_inc(df / 2.0, 0.5, df / (df + mid * mid)) > tail)
			lo = mid;
		else
			hi = mid;
	}
	double x = 0.5 * (lo + hi);
	return p > 0.5 ? x : -x;
}

int lethe_welch_t_test(double *t, double *df, double *p, const double *a, size_t na,
                       const double *b, size_t nb)
{
	*t = *df = *p = NAN;
	if (na < 2 || nb < 2)
		return LETHE_EINVAL;
	double ma, va, mb, vb;
	mean_var(a, na, &ma, &va);
	mean_var(b, nb, &mb, &vb);
	double sa = va / (double)na, sb = vb / (double)nb, se2 = sa + sb;
	if (se2 == 0.0)
		return 0;
	*t = (ma - mb) / sqrt(se2);
	*df = se2 * se2 / (sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1));
	*p = beta_inc(*df / 2.0, 0.5, *df / (*df + *t * *t));
	return 0;
}
