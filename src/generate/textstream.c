#include "generate/textstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lm_textstream {
    char **stops;
    size_t *stop_len;
    int n_stops;
    size_t max_stop;   /* the longest stop string */
    uint8_t *hold;     /* bytes received but not yet shown */
    size_t n_hold, cap_hold;
    char *out;         /* what the last call shows */
    size_t cap_out;
    int stopped;
};

/* push and flush have no error path (a token's bytes are a few dozen at most, and the
 * buffers start larger than that), so running out of memory while growing one is treated
 * like running out of kernel scratch: the process stops with a message. */
static void *grow(void *p, size_t *cap, size_t need) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, c);
    if (!q) {
        fprintf(stderr, "loom: out of memory growing the text stream to %zu bytes\n", c);
        abort();
    }
    *cap = c;
    return q;
}

loom_status lm_textstream_create(lm_textstream **out, const char *const *stops, int n_stops, lm_error *err) {
    *out = NULL;
    if (n_stops < 0 || (n_stops > 0 && !stops))
        return lm_fail(err, LOOM_ERR_ARG, "text stream: bad stop string list (%d strings)", n_stops);
    for (int i = 0; i < n_stops; i++)
        if (!stops[i] || !stops[i][0])
            return lm_fail(err, LOOM_ERR_ARG, "--stop: a stop string must not be empty (stop string %d)", i + 1);
    lm_textstream *t = calloc(1, sizeof *t);
    if (!t) return lm_fail(err, LOOM_ERR_NOMEM, "text stream: out of memory");
    t->n_stops = n_stops;
    t->stops = calloc(n_stops ? (size_t)n_stops : 1, sizeof *t->stops);
    t->stop_len = calloc(n_stops ? (size_t)n_stops : 1, sizeof *t->stop_len);
    t->cap_hold = t->cap_out = 256;
    t->hold = malloc(t->cap_hold);
    t->out = malloc(t->cap_out);
    int ok = t->stops && t->stop_len && t->hold && t->out;
    for (int i = 0; ok && i < n_stops; i++) {
        t->stop_len[i] = strlen(stops[i]);
        t->stops[i] = malloc(t->stop_len[i] + 1);
        if (!t->stops[i]) ok = 0;
        else memcpy(t->stops[i], stops[i], t->stop_len[i] + 1);
        if (t->stop_len[i] > t->max_stop) t->max_stop = t->stop_len[i];
    }
    if (!ok) {
        lm_textstream_free(t);
        return lm_fail(err, LOOM_ERR_NOMEM, "text stream: out of memory for %d stop strings", n_stops);
    }
    t->out[0] = 0;
    *out = t;
    return LOOM_OK;
}

void lm_textstream_free(lm_textstream *t) {
    if (!t) return;
    if (t->stops)
        for (int i = 0; i < t->n_stops; i++) free(t->stops[i]);
    free(t->stops);
    free(t->stop_len);
    free(t->hold);
    free(t->out);
    free(t);
}

/* Length of the UTF-8 unit at p (avail > 0 bytes there). Returns 0 if p holds the valid
 * beginning of a sequence that runs past avail (wait for more bytes). Otherwise returns 1
 * and sets *len: a whole valid character, or an invalid piece to pass through as it is
 * (a bad lead byte, or a valid-looking start cut short by a byte that cannot continue it;
 * the offending byte is looked at again as the start of the next unit). The ranges for the
 * second byte are those of Unicode's table of well-formed sequences, which exclude
 * overlong forms, surrogates and code points above U+10FFFF. */
static int utf8_unit(const uint8_t *p, size_t avail, size_t *len) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) {
        *len = 1;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *len = 1; /* continuation byte, C0/C1 (always overlong), F5..FF */
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= avail) return 0;
        uint8_t b = p[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
            *len = i;
            return 1;
        }
    }
    *len = need;
    return 1;
}

/* The end of the last whole UTF-8 unit of hold that lies within its first `limit` bytes. */
static size_t utf8_safe_end(const uint8_t *h, size_t n, size_t limit) {
    size_t pos = 0, len;
    while (pos < limit) {
        if (!utf8_unit(h + pos, n - pos, &len) || pos + len > limit) break;
        pos += len;
    }
    return pos;
}

/* Shows the first k held bytes and drops `drop` more after them (a matched stop string). */
static void emit(lm_textstream *t, size_t k, size_t drop, const char **out, size_t *out_len) {
    t->out = grow(t->out, &t->cap_out, k + 1);
    memcpy(t->out, t->hold, k);
    t->out[k] = 0;
    memmove(t->hold, t->hold + k + drop, t->n_hold - k - drop);
    t->n_hold -= k + drop;
    *out = t->out;
    *out_len = k;
}

int lm_textstream_push(lm_textstream *t, const uint8_t *bytes, size_t n, const char **out, size_t *out_len) {
    if (t->stopped) {
        emit(t, 0, 0, out, out_len);
        return 1;
    }
    size_t old = t->n_hold;
    t->hold = grow(t->hold, &t->cap_hold, old + n);
    if (n) memcpy(t->hold + old, bytes, n);
    t->n_hold = old + n;

    /* The first stop string to complete. None ends within the old bytes (the previous
     * call would have stopped), so only end positions among the new bytes are tried. */
    for (size_t end = old + 1; end <= t->n_hold; end++) {
        int best = -1;
        for (int k = 0; k < t->n_stops; k++) {
            size_t L = t->stop_len[k];
            if (L <= end && memcmp(t->hold + end - L, t->stops[k], L) == 0 &&
                (best < 0 || L > t->stop_len[best]))
                best = k;
        }
        if (best >= 0) {
            size_t L = t->stop_len[best];
            t->stopped = 1;
            emit(t, end - L, L, out, out_len);
            t->n_hold = 0;
            return 1;
        }
    }

    /* Hold back the longest tail that a stop string begins with. Nothing before it can
     * start a stop string: such a start would be a longer tail that one begins with. */
    size_t safe = t->n_hold;
    size_t from = t->max_stop > t->n_hold ? 0 : t->n_hold - t->max_stop + 1;
    for (size_t st = from; st < t->n_hold && safe == t->n_hold; st++) {
        size_t tail = t->n_hold - st;
        for (int k = 0; k < t->n_stops; k++)
            if (t->stop_len[k] > tail && memcmp(t->hold + st, t->stops[k], tail) == 0) {
                safe = st;
                break;
            }
    }
    emit(t, utf8_safe_end(t->hold, t->n_hold, safe), 0, out, out_len);
    return 0;
}

void lm_textstream_flush(lm_textstream *t, const char **out, size_t *out_len) {
    emit(t, t->n_hold, 0, out, out_len);
}
