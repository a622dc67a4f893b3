/* Wall-clock time for measuring work: monotonic seconds. */
#ifndef LM_CLOCK_H
#define LM_CLOCK_H

#include <time.h>

static inline double lm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
