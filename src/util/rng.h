/* A small deterministic random generator (xoshiro256**, seeded by splitmix64). Its whole
 * state is four words, so checkpoints store it and a resumed run draws the same numbers. */
#ifndef LM_RNG_H
#define LM_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct lm_rng {
    uint64_t s[4];
} lm_rng;

static inline uint64_t lm_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void lm_rng_seed(lm_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = lm_splitmix64(&seed);
}

static inline uint64_t lm_rng_u64(lm_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1). */
static inline double lm_rng_uniform(lm_rng *r) { return (double)(lm_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Uniform integer in [0, n). */
static inline uint64_t lm_rng_below(lm_rng *r, uint64_t n) { return n ? lm_rng_u64(r) % n : 0; }

/* Standard normal (Box-Muller; one draw per call keeps the state easy to reason about). */
static inline double lm_rng_normal(lm_rng *r) {
    double u1 = lm_rng_uniform(r), u2 = lm_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
