#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The message is formatted into a local buffer first and copied after: callers add context by
 * passing the previous message as an argument (`lm_fail(err, s, "cannot read X: %s", err->msg)`),
 * and vsnprintf into the buffer it reads from is undefined (it garbled such messages). The copy is
 * a memcpy between distinct buffers, which the sanitizer build checks for overlap. */
loom_status lm_fail(lm_error *err, loom_status code, const char *fmt, ...) {
    if (err) {
        char buf[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        size_t len = n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
        buf[len] = 0;
        memcpy(err->msg, buf, len + 1);
        err->code = code;
    }
    return code;
}
