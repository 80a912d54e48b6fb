/*
 * safetensors.h: reading Hugging Face's safetensors files (the format of model.safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype, shape and
 * [begin, end) byte offsets into the data area that follows. The file is mapped, not read, so a
 * 500 MB checkpoint costs no second copy; tensors point into the mapping.
 *
 * Every header value is checked before use, as the reference implementation does: the header
 * lies within the file, each entry is an object with a known dtype, a shape of non-negative
 * integers and offsets inside the data area whose length equals the shape's size, no two tensors
 * overlap, the data area has no holes, no name appears twice. A refusal is one line naming the file
 * and the tensor. Private to liblethe (the pretrained-model loader and the exporter use it).
 */
#ifndef LETHE_SAFETENSORS_H
#define LETHE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The dtypes of the safetensors specification. */
typedef enum lethe_st_dtype {
	LETHE_ST_BOOL,
	LETHE_ST_U8,
	LETHE_ST_I8,
	LETHE_ST_I16,
	LETHE_ST_U16,
	LETHE_ST_F16,
	LETHE_ST_BF16,
	LETHE_ST_I32,
	LETHE_ST_U32,
	LETHE_ST_F32,
	LETHE_ST_F64,
	LETHE_ST_I64,
	LETHE_ST_U64,
	LETHE_ST_F8_E4M3,
	LETHE_ST_F8_E5M2,
	LETHE_ST_DTYPE_COUNT
} lethe_st_dtype;

#define LETHE_ST_MAX_RANK 8

typedef struct lethe_st_tensor {
	const char *name;
	lethe_st_dtype dtype;
	int rank;
	int64_t shape[LETHE_ST_MAX_RANK];
	uint64_t numel;   /* product of the shape (1 for rank 0) */
	uint64_t nbytes;  /* numel * the dtype's size */
	const void *data; /* inside the mapping; not aligned in general */
} lethe_st_tensor;

typedef struct lethe_safetensors lethe_safetensors;

/* Maps and checks path. *out is set even on failure (except LETHE_ENOMEM) so that
 * lethe_safetensors_errmsg() can say why; free it either way. LETHE_EIO when the file cannot be
 * read, LETHE_EPARSE when it is not a valid safetensors file. */
int lethe_safetensors_open(lethe_safetensors **out, const char *path);
void lethe_safetensors_free(lethe_safetensors *st);
const char *lethe_safetensors_errmsg(const lethe_safetensors *st);
const char *lethe_safetensors_path(const lethe_safetensors *st);

/* Tensors in the order of their offsets. */
size_t lethe_safetensors_count(const lethe_safetensors *st);
const lethe_st_tensor *lethe_safetensors_at(const lethe_safetensors *st, size_t i);
/* NULL when absent. */
const lethe_st_tensor *lethe_safetensors_find(const lethe_safetensors *st, const char *name);
/* The value of a __metadata__ entry ({"format": "pt"}), or NULL. */
const char *lethe_safetensors_metadata(const lethe_safetensors *st, const char *key);

const char *lethe_st_dtype_name(lethe_st_dtype dtype);
size_t lethe_st_dtype_size(lethe_st_dtype dtype);

/* Converts t (F32, F16 or BF16) to numel floats: F16 and BF16 exactly (every value of both is a
 * float), F32 as is. LETHE_EUNSUPPORTED for another dtype, with the reason on st. */
int lethe_safetensors_to_f32(lethe_safetensors *st, const lethe_st_tensor *t, float *out);

/* IEEE half and bfloat16 to float, exactly (NaN payloads kept in bfloat16's case). */
float lethe_f16_to_f32(uint16_t h);
float lethe_bf16_to_f32(uint16_t b);

#endif
