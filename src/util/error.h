/* Error reporting without globals: every fallible function takes a lm_error* and
 * returns a status code; the message names the problem and, where one exists, the fix. */
#ifndef LM_ERROR_H
#define LM_ERROR_H

#include "loom.h"

typedef loom_error lm_error; /* the public error type, used inside as well */

/* Records code and a printf-style message in err (which may be NULL) and returns code,
 * so that callers can write `return lm_fail(err, LOOM_ERR_IO, "...")`. */
loom_status lm_fail(lm_error *err, loom_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
