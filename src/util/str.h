/* Copies of strings, the one way every layer makes them. */
#ifndef LM_STR_H
#define LM_STR_H

#include <stdlib.h>
#include <string.h>

/* A malloc'ed copy of the n bytes at p (which may hold NULs) followed by a NUL; NULL when out
 * of memory. */
static inline char *lm_strndup(const void *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        if (n) memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* A malloc'ed copy of s; NULL when out of memory. */
static inline char *lm_strdup(const char *s) { return lm_strndup(s, strlen(s)); }

#endif
