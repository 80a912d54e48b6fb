/*
 * safetensors.c: a checked, memory-mapped reader of safetensors files (see safetensors.h).
 * The checks follow the reference implementation (huggingface/safetensors, `validate`): header
 * length within the file and at most 100 MB, JSON object starting with '{', known dtypes, shapes
 * whose size matches the offsets, tensors sorted by offset covering the data area exactly (no
 * overlap, no hole). JSON is parsed by cJSON, which liblethe already links for plugins' JSON lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <lethe/common.h>

#include "safetensors.h"
#include "util/errbuf.h"

/* The reference implementation's limit on the JSON header. */
#define MAX_HEADER (100u * 1000u * 1000u)
/* Offsets and sizes beyond 2^53 cannot be exact in JSON numbers as cJSON reads them. */
#define MAX_EXACT 9007199254740992.0

struct lethe_safetensors {
	char *path;
	void *map;
	size_t map_size;
	const unsigned char *data; /* the data area, after the header */
	uint64_t data_size;
	lethe_st_tensor *tensors; /* by offset */
	size_t n;
	const lethe_st_tensor **by_name; /* sorted by name */
	char **meta_keys, **meta_values;
	size_t n_meta;
	char *names; /* storage of the names */
	lethe_errbuf err;
};

static const struct {
	const char *name;
	size_t size;
} dtypes[LETHE_ST_DTYPE_COUNT] = {
    [LETHE_ST_BOOL] = {"BOOL", 1},       [LETHE_ST_U8] = {"U8", 1},
    [LETHE_ST_I8] = {"I8", 1},           [LETHE_ST_I16] = {"I16", 2},
    [LETHE_ST_U16] = {"U16", 2},         [LETHE_ST_F16] = {"F16", 2},
    [LETHE_ST_BF16] = {"BF16", 2},       [LETHE_ST_I32] = {"I32", 4},
    [LETHE_ST_U32] = {"U32", 4},         [LETHE_ST_F32] = {"F32", 4},
    [LETHE_ST_F64] = {"F64", 8},         [LETHE_ST_I64] = {"I64", 8},
    [LETHE_ST_U64] = {"U64", 8},         [LETHE_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LETHE_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *lethe_st_dtype_name(lethe_st_dtype dtype)
{
	return (unsigned)dtype < LETHE_ST_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

size_t lethe_st_dtype_size(lethe_st_dtype dtype)
{
	return (unsigned)dtype < LETHE_ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

#define fail(st, code, ...) lethe_errbuf__set_at(&(st)->err, code, (st)->path, __VA_ARGS__)

/* A JSON number that is a whole number in [0, 2^53]. */
static int whole(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return 0;
	double d = v->valuedouble;
	if (!(d >= 0 && d <= MAX_EXACT) || floor(d) != d)
		return 0;
	*out = (uint64_t)d;
	return 1;
}

static int by_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const lethe_st_tensor *const *)a)->name,
	              (*(const lethe_st_tensor *const *)b)->name);
}

static int by_offset_cmp(const void *a, const void *b)
{
	const lethe_st_tensor *x = a, *y = b;
	const unsigned char *p = x->data, *q = y->data;
	if (p != q)
		return p < q ? -1 : 1;
	/* Equal starts: the shorter (an empty tensor) first, so that it does not look like a hole.
	 */
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int parse_entry(lethe_safetensors *st, const cJSON *e, lethe_st_tensor *t, uint64_t *begin)
{
	if (!cJSON_IsObject(e))
		return fail(st, LETHE_EPARSE,
		            "tensor '%s': expected an object with dtype, shape and data_offsets",
		            t->name);
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!cJSON_IsString(dt))
		return fail(st, LETHE_EPARSE, "tensor '%s': missing string 'dtype'", t->name);
	int found = -1;
	for (int i = 0; i < LETHE_ST_DTYPE_COUNT; i++)
		if (strcmp(dt->valuestring, dtypes[i].name) == 0)
			found = i;
	if (found < 0)
		return fail(st, LETHE_EPARSE, "tensor '%s': unknown dtype '%.40s'", t->name,
		            dt->valuestring);
	t->dtype = (lethe_st_dtype)found;
	if (!cJSON_IsArray(shape))
		return fail(st, LETHE_EPARSE, "tensor '%s': missing array 'shape'", t->name);
	int rank = cJSON_GetArraySize(shape);
	if (rank > LETHE_ST_MAX_RANK)
		return fail(st, LETHE_EPARSE, "tensor '%s': rank %d, at most %d supported", t->name,
		            rank, LETHE_ST_MAX_RANK);
	t->rank = rank;
	uint64_t numel = 1;
	for (int i = 0; i < rank; i++) {
		uint64_t d;
		if (!whole(cJSON_GetArrayItem(shape, i), &d))
			return fail(st, LETHE_EPARSE,
			            "tensor '%s': shape[%d] is not a non-negative integer", t->name,
			            i);
		t->shape[i] = (int64_t)d;
		if (d != 0 && numel > UINT64_MAX / d)
			return fail(st, LETHE_EPARSE, "tensor '%s': shape's size overflows",
			            t->name);
		numel *= d;
	}
	size_t es = dtypes[t->dtype].size;
	if (numel > UINT64_MAX / es)
		return fail(st, LETHE_EPARSE, "tensor '%s': shape's size overflows", t->name);
	t->numel = numel;
	t->nbytes = numel * es;
	uint64_t b, end;
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
	    !whole(cJSON_GetArrayItem(offs, 0), &b) || !whole(cJSON_GetArrayItem(offs, 1), &end))
		return fail(st, LETHE_EPARSE,
		            "tensor '%s': expected 'data_offsets' as [begin, end], two "
		            "non-negative integers",
		            t->name);
	if (b > end || end > st->data_size)
		return fail(
		    st, LETHE_EPARSE,
		    "tensor '%s': data_offsets [%llu, %llu] outside the data area of %llu bytes",
		    t->name, (unsigned long long)b, (unsigned long long)end,
		    (unsigned long long)st->data_size);
	if (end - b != t->nbytes)
		return fail(st, LETHE_EPARSE,
		            "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, its %s shape "
		            "needs %llu",
		            t->name, (unsigned long long)b, (unsigned long long)end,
		            (unsigned long long)(end - b), dtypes[t->dtype].name,
		            (unsigned long long)t->nbytes);
	*begin = b;
	t->data = st->data + b;
	return 0;
}

static int parse_header(lethe_safetensors *st, const char *json, size_t len)
{
	if (len == 0 || json[0] != '{')
		return fail(st, LETHE_EPARSE, "the header does not start with '{'");
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fail(st, LETHE_EPARSE, "the header is not a JSON object");
	}
	int rc = 0;
	size_t n = 0, names_len = 0;
	const cJSON *meta = NULL;
	for (const cJSON *e = root->child; e; e = e->next) {
		if (strcmp(e->string, "__metadata__") == 0) {
			if (meta) {
				rc = fail(st, LETHE_EPARSE, "'__metadata__' appears twice");
				goto out;
			}
			meta = e;
			continue;
		}
		n++;
		names_len += strlen(e->string) + 1;
	}
	if (meta) {
		if (!cJSON_IsObject(meta)) {
			rc = fail(st, LETHE_EPARSE, "'__metadata__' is not an object of strings");
			goto out;
		}
		for (const cJSON *m = meta->child; m; m = m->next) {
			if (!cJSON_IsString(m)) {
				rc = fail(st, LETHE_EPARSE,
				          "'__metadata__' entry '%s' is not a string", m->string);
				goto out;
			}
			st->n_meta++;
		}
	}
	st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
	st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
	st->names = malloc(names_len ? names_len : 1);
	st->meta_keys = calloc(st->n_meta ? st->n_meta : 1, sizeof *st->meta_keys);
	st->meta_values = calloc(st->n_meta ? st->n_meta : 1, sizeof *st->meta_values);
	if (!st->tensors || !st->by_name || !st->names || !st->meta_keys || !st->meta_values) {
		rc = fail(st, LETHE_ENOMEM, "out of memory");
		goto out;
	}
	if (meta) {
		size_t i = 0;
		for (const cJSON *m = meta->child; m; m = m->next, i++) {
			st->meta_keys[i] = strdup(m->string);
			st->meta_values[i] = strdup(m->valuestring);
			if (!st->meta_keys[i] || !st->meta_values[i]) {
				rc = fail(st, LETHE_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	char *p = st->names;
	for (const cJSON *e = root->child; e; e = e->next) {
		if (e == meta)
			continue;
		lethe_st_tensor *t = &st->tensors[st->n];
		size_t l = strlen(e->string) + 1;
		memcpy(p, e->string, l);
		t->name = p;
		p += l;
		uint64_t begin;
		if ((rc = parse_entry(st, e, t, &begin)))
			goto out;
		st->n++;
	}
	qsort(st->tensors, st->n, sizeof *st->tensors, by_offset_cmp);
	for (size_t i = 0; i < st->n; i++)
		st->by_name[i] = &st->tensors[i];
	qsort(st->by_name, st->n, sizeof *st->by_name, by_name_cmp);
	/* Duplicate names: cJSON keeps both entries of a repeated key. */
	for (size_t i = 1; i < st->n; i++)
		if (strcmp(st->by_name[i]->name, st->by_name[i - 1]->name) == 0) {
			rc = fail(st, LETHE_EPARSE, "tensor '%s' appears twice",
			          st->by_name[i]->name);
			goto out;
		}
	/* Sorted by offset, each tensor must start where the previous one ended. */
	uint64_t at = 0;
	for (size_t i = 0; i < st->n; i++) {
		const lethe_st_tensor *t = &st->tensors[i];
		uint64_t b = (uint64_t)((const unsigned char *)t->data - st->data);
		if (b != at) {
			rc = fail(
			    st, LETHE_EPARSE,
			    b < at
			        ? "tensor '%s': its bytes from %llu overlap the previous tensor's"
			        : "tensor '%s': the data area has a hole before offset %llu",
			    t->name, (unsigned long long)b);
			goto out;
		}
		at = b + t->nbytes;
	}
	if (at != st->data_size) {
		rc = fail(
		    st, LETHE_EPARSE,
		    "the tensors cover %llu bytes of a data area of %llu (extra bytes at the end)",
		    (unsigned long long)at, (unsigned long long)st->data_size);
		goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int lethe_safetensors_open(lethe_safetensors **out, const char *path)
{
	*out = NULL;
	lethe_safetensors *st = calloc(1, sizeof *st);
	if (!st)
		return LETHE_ENOMEM;
	*out = st;
	st->path = strdup(path);
	if (!st->path)
		return LETHE_ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(st, LETHE_EIO, "cannot open: %s", strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return fail(st, LETHE_EIO, "not a regular file");
	}
	if (sb.st_size < 8) {
		close(fd);
		return fail(st, LETHE_EPARSE,
		            "%lld bytes: too short for a safetensors file (8-byte header length)",
		            (long long)sb.st_size);
	}
	st->map_size = (size_t)sb.st_size;
	st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (st->map == MAP_FAILED) {
		st->map = NULL;
		return fail(st, LETHE_EIO, "cannot map: %s", strerror(errno));
	}
	const unsigned char *b = st->map;
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | b[i];
	if (hlen > MAX_HEADER || hlen > st->map_size - 8)
		return fail(
		    st, LETHE_EPARSE,
		    "header length %llu is beyond the file's %zu bytes (or the 100 MB limit)",
		    (unsigned long long)hlen, st->map_size);
	st->data = b + 8 + hlen;
	st->data_size = st->map_size - 8 - hlen;
	return parse_header(st, (const char *)b + 8, (size_t)hlen);
}

void lethe_safetensors_free(lethe_safetensors *st)
{
	if (!st)
		return;
	if (st->map)
		munmap(st->map, st->map_size);
	for (size_t i = 0; i < st->n_meta; i++) {
		if (st->meta_keys)
			free(st->meta_keys[i]);
		if (st->meta_values)
			free(st->meta_values[i]);
	}
	free(st->meta_keys);
	free(st->meta_values);
	free(st->tensors);
	free(st->by_name);
	free(st->names);
	free(st->path);
	free(st);
}

const char *lethe_safetensors_errmsg(const lethe_safetensors *st)
{
	return st ? st->err.msg : "out of memory";
}

const char *lethe_safetensors_path(const lethe_safetensors *st)
{
	return st->path;
}
size_t lethe_safetensors_count(const lethe_safetensors *st)
{
	return st->n;
}

const lethe_st_tensor *lethe_safetensors_at(const lethe_safetensors *st, size_t i)
{
	return i < st->n ? &st->tensors[i] : NULL;
}

const lethe_st_tensor *lethe_safetensors_find(const lethe_safetensors *st, const char *name)
{
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, st->by_name[mid]->name);
		if (c == 0)
			return st->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *lethe_safetensors_metadata(const lethe_safetensors *st, const char *key)
{
	for (size_t i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta_keys[i], key) == 0)
			return st->meta_values[i];
	return NULL;
}

static float bits_to_float(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float lethe_bf16_to_f32(uint16_t b)
{
	return bits_to_float((uint32_t)b << 16);
}

float lethe_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (exp == 0x1f) /* infinity or NaN, payload kept */
		return bits_to_float(sign | 0x7f800000u | man << 13);
	if (exp == 0) { /* zero or subnormal: man * 2^-24, exact in float */
		float v = (float)man * 0x1p-24f;
		return sign ? -v : v;
	}
	return bits_to_float(sign | (exp + 112) << 23 | man << 13);
}

int lethe_safetensors_to_f32(lethe_safetensors *st, const lethe_st_tensor *t, float *out)
{
	const unsigned char *p = t->data;
	switch (t->dtype) {
	case LETHE_ST_F32: /* little-endian in the file, as on every host lethe builds for */
		memcpy(out, p, (size_t)t->nbytes);
		return 0;
	case LETHE_ST_F16:
		for (uint64_t i = 0; i < t->numel; i++)
			out[i] = lethe_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return 0;
	case LETHE_ST_BF16: {
		/* A bfloat16 is a float's upper half: one shift per value, over aligned copies of
		 * the data (which need not be aligned), in a loop the compiler vectorises. */
		uint16_t chunk[4096];
		for (uint64_t i = 0; i < t->numel; i += 4096) {
			size_t n = t->numel - i < 4096 ? (size_t)(t->numel - i) : 4096;
			memcpy(chunk, p + 2 * i,
			       2 * n); /* little-endian, as every host lethe builds for */
			for (size_t k = 0; k < n; k++) {
				uint32_t b = (uint32_t)chunk[k] << 16;
				memcpy(out + i + k, &b, sizeof(b));
			}
		}
		return 0;
	}
	default:
		return fail(st, LETHE_EUNSUPPORTED,
		            "tensor '%s': dtype %s, expected F32, F16 or BF16", t->name,
		            dtypes[t->dtype].name);
	}
}
