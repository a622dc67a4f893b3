/*
 * loom: train and run your own generative models, in C.
 *
 * The public API. Every type is an opaque handle created by a loom_*_create or
 * loom_*_load function and released by the matching loom_*_free; every fallible
 * function returns a loom_status and, where it takes a loom_error*, fills it with
 * a one-line message that names the problem and the fix.
 */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum loom_status {
    LOOM_OK = 0,
    LOOM_ERR_IO = -1,      /* a file could not be read or written */
    LOOM_ERR_FORMAT = -2,  /* a file is corrupted, truncated or of another kind/version */
    LOOM_ERR_ARG = -3,     /* an argument or configuration value is out of range */
    LOOM_ERR_NOMEM = -4,   /* an allocation failed */
    LOOM_ERR_DATA = -5,    /* the training data is missing, empty or unusable */
} loom_status;

/* A short English name for a status code ("I/O error", ...). Never NULL. */
const char *loom_status_string(loom_status s);

/* The library version as "MAJOR.MINOR.PATCH". */
const char *loom_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LOOM_H */
