/*
 * fastmath.h: an expf() the compiler can vectorise. glibc's expf is a scalar call that GCC only
 * replaces by its vector version under -ffast-math, which would also let it assume that no value
 * is ever NaN or infinite, and the engine must detect exactly those. This one is Cephes' expf
 * (range reduction by ln 2 to [-ln2/2, ln2/2], a degree-5 polynomial, exponent bits set directly):
 * within 2 ulp of expf on [-87.3, 88.37], 0 below, +inf above 88.72 (e^88.37 between), NaN for NaN.
 * Private to liblethe.
 */
#ifndef LETHE_FASTMATH_H
#define LETHE_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float lethe_expf(float x)
{
	/* Clamp first so that every lane runs the same straight-line code (NaN becomes 0 here and
	 * is returned as NaN at the end). The upper bound keeps 2^n finite. */
	float xc = x < -87.33654f ? -87.33654f : (x > 88.3762626f ? 88.3762626f : x);
	xc = x != x ? 0.0f : xc;
	/* Round to nearest by the 1.5 * 2^23 trick: SSE2 has no vector floor. */
	float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = xc - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * r * r + r + 1.0f;
	uint32_t e = (uint32_t)((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &e, sizeof(scale));
	float out = y * scale;
	out = x < -87.33654f ? 0.0f : out;
	out = x > 88.72283f ? __builtin_inff() : out;
	return x != x ? x : out;
}

/* Element-wise loops (activations, softmax, normalisation, the optimizer) are compiled three times,
 * for AVX-512, AVX2 and the x86-64 baseline, and the loader picks one for the CPU (ifunc): the
 * library's baseline is SSE2, four lanes, while these loops take 15% of a c3 training step. The
 * three run the same operations on each element: C11 mode contracts no a*b+c into a fused
 * multiply-add (and engine/local.mk says -ffp-contract=off for compilers whose C11 mode would) and
 * nothing is reassociated, so they give the same bits (the quick-start digest does not change). */
#ifdef __FAST_MATH__
#error "liblethe must not be built with -ffast-math: it reassociates sums and assumes no NaN"
#endif
/* target_clones needs ifunc (glibc) and, from clang, version 14. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) &&                               \
    (defined(__GNUC__) || defined(__clang__)) && (!defined(__clang__) || __clang_major__ >= 14) && \
    !defined(LETHE_NO_CLONES)
#define LETHE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LETHE_CLONES
#endif

#endif
