#include "cli/common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/io.h"
#include "util/utf8.h"

int lm_cli_report(const char *cmd, const lm_error *err) {
    fprintf(stderr, "loom %s: %s\n", cmd, err->msg[0] ? err->msg : loom_status_string(err->code));
    return err->code == LOOM_ERR_ARG ? 2 : 1;
}

loom_status lm_read_prompt(const char *prompt, const char *file, char **text, size_t *len, lm_error *err) {
    if (prompt) {
        *len = strlen(prompt);
        *text = malloc(*len + 1);
        if (!*text) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        memcpy(*text, prompt, *len + 1);
    } else if (file) {
        uint8_t *b;
        loom_status s = lm_read_file(file, 64u << 20, &b, len, err);
        if (s) return s;
        *text = (char *)b;
    } else if (!isatty(STDIN_FILENO)) {
        size_t cap = 4096, n = 0;
        char *b = malloc(cap);
        size_t got;
        while (b && (got = fread(b + n, 1, cap - n - 1, stdin)) > 0) {
            n += got;
            if (n + 1 == cap) {
                if (cap >= (64u << 20)) break;
                char *nb = realloc(b, cap * 2);
                if (!nb) {
                    free(b);
                    b = NULL;
                    break;
                }
                b = nb;
                cap *= 2;
            }
        }
        if (!b) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading standard input");
        b[n] = 0;
        *text = b;
        *len = n;
    } else {
        return lm_fail(err, LOOM_ERR_ARG, "no prompt: give -p TEXT, -f FILE, or pipe text into standard input");
    }
    if (*len == 0) {
        free(*text);
        *text = NULL;
        if (prompt) return lm_fail(err, LOOM_ERR_ARG, "-p gave an empty prompt (give some text)");
        if (file) return lm_fail(err, LOOM_ERR_DATA, "'%s' is empty (give a file with some text)", file);
        return lm_fail(err, LOOM_ERR_DATA, "no prompt: standard input was empty (give -p TEXT, -f FILE, or pipe text in)");
    }
    return LOOM_OK;
}

uint64_t lm_cli_seed(int64_t flag) {
    return flag >= 0 ? (uint64_t)flag : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
}


void lm_json_add_piece(json_object *o, const char *key, const char *bytes, size_t n) {
    const unsigned char *s = (const unsigned char *)bytes;
    char *out = malloc(n * 3 + 1);
    size_t k = 0;
    int clean = 1;
    if (!out) return;
    out[0] = 0;
    for (size_t i = 0; i < n;) {
        int l = lm_utf8_decode(s + i, n - i, NULL);
        if (l) {
            memcpy(out + k, s + i, (size_t)l);
            k += (size_t)l;
            i += (size_t)l;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3); /* U+FFFD */
            k += 3;
            i++;
            clean = 0;
        }
    }
    json_object_object_add(o, key, json_object_new_string_len(out, (int)k));
    free(out);
    if (!clean) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) json_object_array_add(arr, json_object_new_int(s[i]));
        json_object_object_add(o, "bytes", arr);
    }
}

/* Probability bands: the colour says how sure the model was of the token it produced. */
static const struct {
    float lo;
    const char *ansi;
    const char *name;
} BANDS[] = {
    {0.80f, "\033[32m", "sure (p >= 0.8)"},
    {0.50f, "\033[36m", "likely (0.5-0.8)"},
    {0.20f, "\033[33m", "unsure (0.2-0.5)"},
    {0.05f, "\033[35m", "guessing (0.05-0.2)"},
    {0.00f, "\033[1;31m", "surprising (< 0.05)"},
};

void lm_print_confident(FILE *f, const char *text, size_t n, float p, int color) {
    if (color) {
        size_t b = 0;
        while (p < BANDS[b].lo) b++;
        fprintf(f, "%s", BANDS[b].ansi);
        fwrite(text, 1, n, f);
        fprintf(f, "\033[0m");
    } else if (p < 0.2f) {
        fputc('[', f);
        fwrite(text, 1, n, f);
        fprintf(f, "|%.2f]", p);
    } else {
        fwrite(text, 1, n, f);
    }
}

void lm_print_confidence_legend(FILE *f, int color) {
    if (!color) {
        fprintf(f, "confidence: [text|p] marks tokens the model gave a probability below 0.2\n");
        return;
    }
    fprintf(f, "confidence:");
    for (size_t b = 0; b < sizeof BANDS / sizeof *BANDS; b++) fprintf(f, " %s%s\033[0m", BANDS[b].ansi, BANDS[b].name);
    fprintf(f, "\n");
}
