/* GGUF: the single-file model format of ggml / llama.cpp.
 *
 * Layout (all little-endian, spec: ggml docs/gguf.md):
 *   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count x { string key | u32 value_type | value }
 *   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   zero padding to general.alignment (default 32)
 *   tensor data; each tensor starts at data_start + offset, offsets are multiples of the alignment
 * A string is u64 length + bytes (no NUL); an array is u32 element type + u64 count + elements.
 *
 * The writer collects keys and tensors in memory (tensor data is referenced, not copied) and
 * writes the file atomically. The reader maps the file read-only, validates every count, length,
 * type, shape and offset up front, and only then hands out a handle, so that no lookup on an
 * open handle can read out of bounds whatever the file contained.
 */
#ifndef LM_GGUF_H
#define LM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"
#include "util/error.h"

/* GGUF metadata value types (the u32 stored before every value). */
enum lm_gguf_value_type {
    LM_GGUF_TYPE_UINT8 = 0,
    LM_GGUF_TYPE_INT8 = 1,
    LM_GGUF_TYPE_UINT16 = 2,
    LM_GGUF_TYPE_INT16 = 3,
    LM_GGUF_TYPE_UINT32 = 4,
    LM_GGUF_TYPE_INT32 = 5,
    LM_GGUF_TYPE_FLOAT32 = 6,
    LM_GGUF_TYPE_BOOL = 7,
    LM_GGUF_TYPE_STRING = 8,
    LM_GGUF_TYPE_ARRAY = 9,
    LM_GGUF_TYPE_UINT64 = 10,
    LM_GGUF_TYPE_INT64 = 11,
    LM_GGUF_TYPE_FLOAT64 = 12,
    LM_GGUF_TYPE_COUNT
};

/* ggml tensor types (the numbering is fixed by ggml; gaps are types ggml removed). Only the
 * types listed here can be read; lm_gguf_type_size() is 0 for any other number. */
enum lm_gguf_tensor_type {
    LM_GGUF_F32 = 0,
    LM_GGUF_F16 = 1,
    LM_GGUF_Q4_0 = 2,
    LM_GGUF_Q4_1 = 3,
    LM_GGUF_Q5_0 = 6,
    LM_GGUF_Q5_1 = 7,
    LM_GGUF_Q8_0 = 8,
    LM_GGUF_Q8_1 = 9,
    LM_GGUF_Q2_K = 10,
    LM_GGUF_Q3_K = 11,
    LM_GGUF_Q4_K = 12,
    LM_GGUF_Q5_K = 13,
    LM_GGUF_Q6_K = 14,
    LM_GGUF_Q8_K = 15,
    LM_GGUF_I8 = 24,
    LM_GGUF_I16 = 25,
    LM_GGUF_I32 = 26,
    LM_GGUF_I64 = 27,
    LM_GGUF_F64 = 28,
    LM_GGUF_BF16 = 30,
};

#define LM_GGUF_DEFAULT_ALIGNMENT 32
#define LM_GGUF_MAX_DIMS 4
/* ggml's GGML_MAX_NAME: llama.cpp refuses tensor names of 64 bytes or more, so the writer does too. */
#define LM_GGUF_MAX_NAME 64

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

/* Elements per block of a tensor type (1 for plain types, 32 or 256 for quantized ones);
 * 0 if the type is unknown to loom. */
int64_t lm_gguf_block_size(int type);
/* Bytes per block of a tensor type; 0 if unknown. */
size_t lm_gguf_type_size(int type);
/* ggml's name of a tensor type ("F32", "Q8_0", "IQ4_NL", ...); "unknown" for unassigned numbers. */
const char *lm_gguf_type_name(int type);
/* Name of a metadata value type ("uint32", "string", ...); "unknown" if out of range. */
const char *lm_gguf_value_type_name(int type);
/* Bytes taken by a tensor of this type and shape, or -1 if the type is unknown, a dimension is
 * not positive, ne[0] is not a multiple of the block size, or the size overflows. */
int64_t lm_gguf_nbytes(int type, int n_dims, const int64_t *ne);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct lm_gguf_writer lm_gguf_writer;

/* An empty writer, or NULL when out of memory. All setters accept a NULL writer and do nothing,
 * and lm_gguf_write(NULL, ...) reports the allocation failure, so callers check once. */
lm_gguf_writer *lm_gguf_writer_create(void);
/* Frees the writer and its copies of keys and strings (not the tensor data it references). */
void lm_gguf_writer_free(lm_gguf_writer *w);

/* Setters for metadata. Keys are written in the order they were first set; setting a key again
 * replaces its value (and type) in place. Errors (out of memory, bad arguments) are remembered
 * and reported by lm_gguf_write, so the setters return nothing. general.alignment, if set, must
 * be a uint32 power of two; it then governs the layout lm_gguf_write produces. */
void lm_gguf_set_u8(lm_gguf_writer *w, const char *key, uint8_t v);
void lm_gguf_set_i8(lm_gguf_writer *w, const char *key, int8_t v);
void lm_gguf_set_u16(lm_gguf_writer *w, const char *key, uint16_t v);
void lm_gguf_set_i16(lm_gguf_writer *w, const char *key, int16_t v);
void lm_gguf_set_u32(lm_gguf_writer *w, const char *key, uint32_t v);
void lm_gguf_set_i32(lm_gguf_writer *w, const char *key, int32_t v);
void lm_gguf_set_u64(lm_gguf_writer *w, const char *key, uint64_t v);
void lm_gguf_set_i64(lm_gguf_writer *w, const char *key, int64_t v);
void lm_gguf_set_f32(lm_gguf_writer *w, const char *key, float v);
void lm_gguf_set_f64(lm_gguf_writer *w, const char *key, double v);
void lm_gguf_set_bool(lm_gguf_writer *w, const char *key, int v);
/* v is a NUL-terminated string and is copied. */
void lm_gguf_set_str(lm_gguf_writer *w, const char *key, const char *v);
/* n NUL-terminated strings, copied. */
void lm_gguf_set_arr_str(lm_gguf_writer *w, const char *key, const char *const *v, size_t n);
void lm_gguf_set_arr_i32(lm_gguf_writer *w, const char *key, const int32_t *v, size_t n);
void lm_gguf_set_arr_f32(lm_gguf_writer *w, const char *key, const float *v, size_t n);
/* An array of n elements of any numeric or bool value type (elem_type is an lm_gguf_value_type
 * other than STRING and ARRAY); v holds n host-order elements and is copied. */
void lm_gguf_set_arr_data(lm_gguf_writer *w, const char *key, int elem_type, const void *v, size_t n);

/* Adds a tensor. ne is in GGUF order: ne[0] is the contiguous (innermost) dimension, and n_dims is
 * 1..4. type is any tensor type loom knows (F32, F16, BF16, the Q types, ...); for a block type
 * ne[0] must be a multiple of the block size. name is copied (at most 63 bytes, unique); data is
 * NOT copied and must hold lm_gguf_nbytes(type, n_dims, ne) bytes until lm_gguf_write returns. */
void lm_gguf_add_tensor(lm_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type,
                        const void *data);

/* Writes the file atomically (a temporary file renamed over path, see lm_afile), tensors in the
 * order added, each at an offset that is a multiple of general.alignment (32 by default). The
 * writer is unchanged and can be written again. */
loom_status lm_gguf_write(lm_gguf_writer *w, const char *path, lm_error *err);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct lm_gguf lm_gguf;

typedef struct lm_gguf_tensor {
    const char *name;     /* NUL-terminated copy */
    int type;             /* lm_gguf_tensor_type */
    int n_dims;           /* 1..4 */
    int64_t ne[4];        /* GGUF order, ne[0] contiguous; dimensions past n_dims are 1 */
    const void *data;     /* into the read-only mapping of the file; aligned to general.alignment
                             (the mapping is page-aligned), so with the default 32 it can be cast
                             to float* etc. */
    size_t nbytes;
    int64_t offset;       /* absolute byte offset of data in the file (a multiple of the alignment) */
} lm_gguf_tensor;

/* Opens and fully validates a GGUF file (versions 2 and 3). On failure *out is NULL and err holds
 * one line naming the file and the problem. The file is mapped read-only; tensor data pointers
 * stay valid until lm_gguf_close. (As with any mmap, truncating the file in place while it is open
 * would fault; loom itself replaces files by rename, which is safe.) An open handle is never
 * modified, so several threads may query it at once. */
loom_status lm_gguf_open(const char *path, lm_gguf **out, lm_error *err);
/* The same for a GGUF file held in memory (size bytes at data), which is copied: the handle does
 * not refer to data afterwards. name stands for the path in messages (NULL: "(memory)"). */
loom_status lm_gguf_open_mem(const void *data, size_t size, const char *name, lm_gguf **out, lm_error *err);
/* Unmaps the file and frees everything. NULL is fine. */
void lm_gguf_close(lm_gguf *g);

/* The path given to lm_gguf_open (or the name given to lm_gguf_open_mem), for messages. */
const char *lm_gguf_name(const lm_gguf *g);

/* The file's format version (2 or 3). */
uint32_t lm_gguf_version(const lm_gguf *g);
/* general.alignment, or 32 when the file does not set it. */
uint32_t lm_gguf_alignment(const lm_gguf *g);
/* Absolute byte offset of the tensor data section. */
int64_t lm_gguf_data_offset(const lm_gguf *g);

/* Number of metadata keys. */
int64_t lm_gguf_n_kv(const lm_gguf *g);
/* Name of key i (0 <= i < n_kv), NUL-terminated; NULL if i is out of range. */
const char *lm_gguf_key_at(const lm_gguf *g, int64_t i);
/* Index of a key, or -1 if absent. */
int64_t lm_gguf_find_key(const lm_gguf *g, const char *key);
/* Value type (lm_gguf_value_type) of key i, or -1 if i is out of range. */
int lm_gguf_key_type(const lm_gguf *g, int64_t i);

/* Typed getters: 0 on success, -1 if the key is missing or has another type. get_u32, get_u64 and
 * get_i64 accept any integer type whose value fits; get_f32 accepts float32 and float64. */
int lm_gguf_get_u32(const lm_gguf *g, const char *key, uint32_t *out);
int lm_gguf_get_u64(const lm_gguf *g, const char *key, uint64_t *out);
int lm_gguf_get_i64(const lm_gguf *g, const char *key, int64_t *out);
int lm_gguf_get_f32(const lm_gguf *g, const char *key, float *out);
int lm_gguf_get_bool(const lm_gguf *g, const char *key, int *out);
/* A string value as a NUL-terminated copy owned by g, or NULL if missing or not a string. */
const char *lm_gguf_get_str(const lm_gguf *g, const char *key);
/* Same, with its length in bytes (a GGUF string may contain NUL bytes). */
const char *lm_gguf_get_strn(const lm_gguf *g, const char *key, size_t *len);

/* Number of elements of an array value, or -1 if missing or not an array. */
int64_t lm_gguf_arr_len(const lm_gguf *g, const char *key);
/* Element type of an array value, or -1 if missing or not an array. */
int lm_gguf_arr_type(const lm_gguf *g, const char *key);
/* Element i of a string array, NUL-terminated (a copy owned by g), with its length in *len (may be
 * NULL); NULL if missing, not a string array or i out of range. */
const char *lm_gguf_arr_str(const lm_gguf *g, const char *key, int64_t i, size_t *len);
/* Elements of a numeric or bool array: a copy owned by g, aligned for the element type, so it may
 * be cast to (const int32_t *) etc. NULL if missing or not such an array. */
const void *lm_gguf_arr_data(const lm_gguf *g, const char *key);

/* Number of tensors. */
int64_t lm_gguf_n_tensors(const lm_gguf *g);
/* Tensor i in file order, or NULL if i is out of range. */
const lm_gguf_tensor *lm_gguf_tensor_at(const lm_gguf *g, int64_t i);
/* The elements of all tensors together (what a loader can fill from the file). */
int64_t lm_gguf_n_elements(const lm_gguf *g);
/* Tensor by name, or NULL if absent. Names are unique (checked on open). */
const lm_gguf_tensor *lm_gguf_find_tensor(const lm_gguf *g, const char *name);

#endif
