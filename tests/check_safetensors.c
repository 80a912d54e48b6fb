/*
 * check_safetensors.c: the safetensors reader (engine/model/safetensors.c): a valid file with
 * F32, BF16 and F16 tensors and metadata, exact half and bfloat16 conversion, every refusal of
 * the format's rules with a message naming the file and the tensor, and random corruptions of a
 * valid file that must be refused or read, never crash (the sanitizer build runs this too).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lethe/common.h>

#include "../engine/model/safetensors.h"

static char path_buf[1024];

static const char *tmp_path(const char *name)
{
	snprintf(path_buf, sizeof path_buf, "%s/%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
	         name);
	return path_buf;
}

/* Writes the 8-byte length, header and data; returns the path. */
static const char *write_st(const char *name, const char *header, const void *data, size_t n)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	uint64_t len = strlen(header);
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(len >> (8 * i));
	fwrite(b, 1, 8, f);
	fwrite(header, 1, len, f);
	if (n)
		fwrite(data, 1, n, f);
	fclose(f);
	return path;
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

START_TEST(valid_file)
{
	unsigned char data[26];
	float a[4] = {1.0f, -2.5f, 0.125f, 3e-8f};
	memcpy(data, a, 16);
	put16(data + 16, 0x3f80); /* bf16 1.0 */
	put16(data + 18, 0xc020); /* bf16 -2.5 */
	put16(data + 20, 0x3c00); /* f16 1.0 */
	put16(data + 22, 0x0001); /* f16 smallest subnormal, 2^-24 */
	put16(data + 24, 0x7bff); /* f16 65504 */
	const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
	                "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[20,26]},"
	                "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
	                "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
	const char *path = write_st("ok.safetensors", h, data, sizeof data);
	lethe_safetensors *st;
	ck_assert_msg(lethe_safetensors_open(&st, path) == 0, "%s", lethe_safetensors_errmsg(st));
	ck_assert_uint_eq(lethe_safetensors_count(st), 3);
	ck_assert_str_eq(lethe_safetensors_at(st, 0)->name, "a"); /* in the order of offsets */
	ck_assert_str_eq(lethe_safetensors_at(st, 2)->name, "h");
	ck_assert_ptr_null(lethe_safetensors_at(st, 3));
	ck_assert_str_eq(lethe_safetensors_metadata(st, "format"), "pt");
	ck_assert_ptr_null(lethe_safetensors_metadata(st, "other"));
	ck_assert_ptr_null(lethe_safetensors_find(st, "c"));
	const lethe_st_tensor *t = lethe_safetensors_find(st, "a");
	ck_assert_int_eq(t->rank, 2);
	ck_assert_int_eq(t->shape[0], 2);
	ck_assert_uint_eq(t->numel, 4);
	float out[4];
	ck_assert_int_eq(lethe_safetensors_to_f32(st, t, out), 0);
	ck_assert(memcmp(out, a, sizeof a) == 0);
	t = lethe_safetensors_find(st, "b");
	ck_assert_int_eq(t->dtype, LETHE_ST_BF16);
	ck_assert_int_eq(lethe_safetensors_to_f32(st, t, out), 0);
	ck_assert(out[0] == 1.0f && out[1] == -2.5f);
	t = lethe_safetensors_find(st, "h");
	ck_assert_int_eq(lethe_safetensors_to_f32(st, t, out), 0);
	ck_assert(out[0] == 1.0f && out[1] == 0x1p-24f && out[2] == 65504.0f);
	lethe_safetensors_free(st);
}
END_TEST

START_TEST(half_conversion)
{
	ck_assert(lethe_f16_to_f32(0x0000) == 0.0f && !signbit(lethe_f16_to_f32(0x0000)));
	ck_assert(lethe_f16_to_f32(0x8000) == 0.0f && signbit(lethe_f16_to_f32(0x8000)));
	ck_assert(lethe_f16_to_f32(0xc000) == -2.0f);
	ck_assert(lethe_f16_to_f32(0x3555) == 0x1.554p-2f);
	ck_assert(lethe_f16_to_f32(0x03ff) == 0x3ffp-24f); /* largest subnormal */
	ck_assert(lethe_f16_to_f32(0x0400) == 0x1p-14f);   /* smallest normal */
	ck_assert(isinf(lethe_f16_to_f32(0x7c00)) && lethe_f16_to_f32(0x7c00) > 0);
	ck_assert(isinf(lethe_f16_to_f32(0xfc00)) && lethe_f16_to_f32(0xfc00) < 0);
	ck_assert(isnan(lethe_f16_to_f32(0x7e00)));
	ck_assert(isnan(lethe_bf16_to_f32(0x7fc0)));
	ck_assert(lethe_bf16_to_f32(0x0001) == 0x1p-133f); /* bf16 subnormal */
	/* Every half value round-trips through float to the nearest-even half it came from. */
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = lethe_f16_to_f32((uint16_t)h);
		if (isnan(f))
			continue;
		_Float16 back = (_Float16)f;
		uint16_t bits;
		memcpy(&bits, &back, 2);
		ck_assert_msg(bits == h, "half 0x%04x -> %a -> 0x%04x", h, (double)f, bits);
	}
}
END_TEST

typedef struct refusal {
	const char *header;
	size_t data; /* bytes of data after the header */
	const char *message;
} refusal;

static const refusal refusals[] = {
    {"[1]", 0, "the header does not start with '{'"},
    {"{\"a\": ", 0, "the header is not a JSON object"},
    {"{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': unknown dtype 'F12'"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing string 'dtype'"},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing array 'shape'"},
    {"{\"a\":[1,2]}", 0, "tensor 'a': expected an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8,
     "tensor 'a': data_offsets [0, 8] hold 8 bytes, its F32 shape needs 16"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
     "tensor 'a': data_offsets [0, 8] outside the data area of 4 bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
     "outside the data area"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape[0] is not a non-negative integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
     "shape[0] is not a non-negative integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     "tensor 'a': expected 'data_offsets' as [begin, end]"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4,
     "expected 'data_offsets' as [begin, end]"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': rank 9, at most 8 supported"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,4503599627370496],"
     "\"data_offsets\":[0,4]}}",
     4, "tensor 'a': shape's size overflows"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "tensor 'b': its bytes from 4 overlap the previous tensor's"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     12, "tensor 'b': the data area has a hole before offset 8"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
     "the tensors cover 4 bytes of a data area of 8"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "tensor 'a' appears twice"},
    {"{\"__metadata__\":{\"format\":1}}", 0, "'__metadata__' entry 'format' is not a string"},
    {"{\"__metadata__\":[1]}", 0, "'__metadata__' is not an object of strings"},
};

START_TEST(refusal_cases)
{
	const refusal *r = &refusals[_i];
	unsigned char data[64] = {0};
	char name[64];
	snprintf(name, sizeof name, "bad%d.safetensors", _i);
	const char *path = write_st(name, r->header, data, r->data);
	char want_path[1024];
	snprintf(want_path, sizeof want_path, "%s: ", path);
	lethe_safetensors *st;
	ck_assert_int_eq(lethe_safetensors_open(&st, path), LETHE_EPARSE);
	const char *msg = lethe_safetensors_errmsg(st);
	ck_assert_msg(strncmp(msg, want_path, strlen(want_path)) == 0, "no path in '%s'", msg);
	ck_assert_msg(strstr(msg, r->message) != NULL, "case %d: '%s' lacks '%s'", _i, msg,
	              r->message);
	lethe_safetensors_free(st);
}
END_TEST

START_TEST(file_refusals)
{
	lethe_safetensors *st;
	ck_assert_int_eq(lethe_safetensors_open(&st, tmp_path("does-not-exist.safetensors")),
	                 LETHE_EIO);
	ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st), "cannot open"));
	lethe_safetensors_free(st);
	ck_assert_int_eq(lethe_safetensors_open(&st, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"),
	                 LETHE_EIO);
	ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st), "not a regular file"));
	lethe_safetensors_free(st);
	const char *path = tmp_path("short.safetensors");
	FILE *f = fopen(path, "wb");
	fwrite("abcd", 1, 4, f);
	fclose(f);
	ck_assert_int_eq(lethe_safetensors_open(&st, path), LETHE_EPARSE);
	ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st), "too short"));
	lethe_safetensors_free(st);
	/* A length that points past the end of the file. */
	f = fopen(path, "wb");
	unsigned char b[12] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
	fwrite(b, 1, sizeof b, f);
	fclose(f);
	ck_assert_int_eq(lethe_safetensors_open(&st, path), LETHE_EPARSE);
	ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st), "header length 1000 is beyond"));
	lethe_safetensors_free(st);
	/* A well-formed I32 tensor loads but does not convert to float. */
	int32_t v = 7;
	path = write_st("i32.safetensors",
	                "{\"n\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}", &v, 4);
	ck_assert_int_eq(lethe_safetensors_open(&st, path), 0);
	float out;
	ck_assert_int_eq(lethe_safetensors_to_f32(st, lethe_safetensors_find(st, "n"), &out),
	                 LETHE_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st),
	                             "tensor 'n': dtype I32, expected F32, F16 or BF16"));
	lethe_safetensors_free(st);
}
END_TEST

/* Random byte flips, truncations and header-length changes of a valid file: each is refused
 * with a message or read consistently (every tensor inside the file), never a crash. */
START_TEST(corruptions)
{
	unsigned char data[24] = {0};
	const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	                "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}";
	write_st("seed.safetensors", h, data, sizeof data);
	FILE *f = fopen(path_buf, "rb");
	unsigned char orig[512];
	size_t n = fread(orig, 1, sizeof orig, f);
	fclose(f);
	unsigned seed = 12345;
	const char *path = tmp_path("mutant.safetensors");
	for (int iter = 0; iter < 3000; iter++) {
		unsigned char buf[512];
		memcpy(buf, orig, n);
		size_t len = n;
		seed = seed * 1103515245u + 12345u;
		int kind = (int)(seed >> 16) % 3;
		for (int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			if (kind == 0)
				buf[at] = (unsigned char)(seed >> 24);
			else if (kind == 1)
				len = at;
			else
				buf[at % 8] = (unsigned char)(seed >> 24);
		}
		f = fopen(path, "wb");
		fwrite(buf, 1, len, f);
		fclose(f);
		lethe_safetensors *st;
		int rc = lethe_safetensors_open(&st, path);
		if (rc == 0) {
			for (size_t i = 0; i < lethe_safetensors_count(st); i++) {
				const lethe_st_tensor *t = lethe_safetensors_at(st, i);
				ck_assert(t->nbytes <= len);
				float *out = malloc(t->numel ? t->numel * sizeof *out : 1);
				lethe_safetensors_to_f32(st, t, out);
				free(out);
			}
		} else {
			ck_assert(rc == LETHE_EPARSE || rc == LETHE_EIO);
			ck_assert_ptr_nonnull(strstr(lethe_safetensors_errmsg(st), path));
		}
		lethe_safetensors_free(st);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, valid_file);
	tcase_add_test(tc, half_conversion);
	tcase_add_loop_test(tc, refusal_cases, 0, (int)(sizeof refusals / sizeof refusals[0]));
	tcase_add_test(tc, file_refusals);
	tcase_add_test(tc, corruptions);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
