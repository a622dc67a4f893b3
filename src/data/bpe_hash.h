/* The byte-string hash shared by the BPE encoder's vocabulary table and the trainer's chunk
 * counts: eight bytes at a time, then a 64-bit finaliser. */
#ifndef LM_BPE_HASH_H
#define LM_BPE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

static inline uint64_t lm_bpe_hash(const uint8_t *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t k = 0; k < n; k++) w |= (uint64_t)s[k] << (8 * k);
    return mix64(h ^ w);
}

#endif
