/* UTF-8, strictly: Unicode's table of well-formed byte sequences (no overlong forms, no
 * surrogates, nothing above U+10FFFF), which is what PCRE2, JSON and tokenizer files expect.
 * One decoder and one encoder for every layer, so that "valid" means the same everywhere. */
#ifndef LM_UTF8_H
#define LM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (n bytes available): returns its length 1..4 and sets *cp (cp may
 * be NULL), or returns 0 when s does not start with a whole, well-formed character (or n == 0). */
int lm_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Writes code point cp (below U+110000, not a surrogate) to out (room for 4 bytes); returns
 * the byte count, or 0 for a value that has no UTF-8 form. */
int lm_utf8_encode(uint32_t cp, char *out);

#endif
