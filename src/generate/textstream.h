/* Turning a stream of token bytes into text that is safe to show as it comes. A token may
 * end in the middle of a UTF-8 character, and a stop string may be spread over several
 * tokens, so some bytes have to wait:
 *
 *  - an unfinished UTF-8 sequence is held until it completes; a byte that cannot belong to
 *    a valid sequence (0xFF, a stray continuation byte, an overlong lead) goes out as it is
 *    at once, so that invalid output never stalls the stream;
 *  - bytes that might be the start of a stop string are held until the next bytes decide.
 *
 * Stop strings are matched on bytes. The first stop string to be completed ends the stream;
 * what came before it is shown, the stop string itself is not. If two are completed by the
 * same byte, the longer one counts. This makes the result the same however the bytes are
 * split into tokens. */
#ifndef LM_TEXTSTREAM_H
#define LM_TEXTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct lm_textstream lm_textstream;

/* Creates a stream that stops at any of the n_stops strings (NUL-terminated, non-empty,
 * copied; stops may be NULL when n_stops is 0). */
loom_status lm_textstream_create(lm_textstream **out, const char *const *stops, int n_stops, lm_error *err);

/* Frees the stream (NULL is fine). */
void lm_textstream_free(lm_textstream *t);

/* Feeds the bytes of one token. Sets *out / *out_len to the bytes that are now safe to
 * show (a NUL-terminated buffer owned by the stream, valid until the next call; it may be
 * empty). Returns 1 when a stop string has just been completed, and from then on: the
 * stream has ended, and later calls show nothing. Returns 0 otherwise. */
int lm_textstream_push(lm_textstream *t, const uint8_t *bytes, size_t n, const char **out, size_t *out_len);

/* At the end of generation: releases whatever is held back (the start of a stop string
 * that never completed, an unfinished or invalid UTF-8 tail), as for push. */
void lm_textstream_flush(lm_textstream *t, const char **out, size_t *out_len);

#endif
