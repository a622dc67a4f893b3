#include "data/prompt_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prompts beyond these are not names of a label; refusing them bounds the work. */
#define MAX_WORDS 64
#define MAX_PROMPT 1024
/* Matches found inside a prompt: every span of words, a few labels each. */
#define MAX_SPANS (MAX_WORDS * (MAX_WORDS + 1) * 2)

/* Synonyms, written as a user would type them; they go through the same normalisation. */
static const struct {
    const char *phrase, *target;
} SYNONYMS[] = {
    {"sneakers", "Sneaker"},     {"trainers", "Sneaker"},     {"running shoes", "Sneaker"},
    {"tennis shoes", "Sneaker"}, {"tee", "T-shirt/top"},      {"t shirt", "T-shirt/top"},
    {"tshirt", "T-shirt/top"},   {"tee shirt", "T-shirt/top"}, {"boots", "Ankle boot"},
    {"ankle boots", "Ankle boot"}, {"sandals", "Sandal"},     {"flip flops", "Sandal"},
    {"pants", "Trouser"},        {"jeans", "Trouser"},        {"trousers", "Trouser"},
    {"slacks", "Trouser"},       {"sweater", "Pullover"},     {"jumper", "Pullover"},
    {"pullover", "Pullover"},    {"hoodie", "Pullover"},      {"sweatshirt", "Pullover"},
    {"jacket", "Coat"},          {"coat", "Coat"},            {"handbag", "Bag"},
    {"purse", "Bag"},            {"bag", "Bag"},              {"backpack", "Bag"},
    {"tote", "Bag"},             {"gown", "Dress"},           {"frock", "Dress"},
    {"shirt", "Shirt"},          {"blouse", "Shirt"},
};

/* Words of one text, pointing into buf. */
typedef struct words {
    char *buf;
    char *w[MAX_WORDS];
    int n;
} words;

static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int ends(const char *w, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !memcmp(w + n - k, suf, k);
}

/* A canonical singular, in place. Not English morphology: the same rule runs on prompts and
 * labels, so it only has to map a word and its plural to one form. */
static void canon(char *w) {
    size_t n = strlen(w);
    if (n > 4 && ends(w, n, "sses")) n -= 2;                                   /* dresses -> dress */
    else if (n > 4 && (ends(w, n, "ches") || ends(w, n, "shes") || ends(w, n, "xes") || ends(w, n, "zes")))
        n -= 2;                                                                /* watches -> watch */
    else if (n > 4 && ends(w, n, "ies")) n -= 1;                               /* hoodies -> hoodie */
    else if (n > 3 && w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") && !ends(w, n, "is"))
        n -= 1;                                                                /* boots -> boot */
    if (n > 3 && ends(w, n, "ie")) { /* hoodie and hoody, puppie and puppy: one form */
        w[n - 2] = 'y';
        n -= 1;
    }
    w[n] = 0;
}

static int word_is(const char *w, const char *s) { return !strcmp(w, s); }

/* Splits s[0..len) into lower-case canonical words, dropping fillers unless nothing else is
 * left. Returns -1 when out of memory, -2 when there are too many words. */
static int split_words(const char *s, size_t len, words *out) {
    out->n = 0;
    out->buf = malloc(len + 1);
    if (!out->buf) return -1;
    char *all[MAX_WORDS];
    int n = 0;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (!is_word_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        if (n == MAX_WORDS) return -2;
        all[n++] = out->buf + o;
        while (i < len && is_word_byte((unsigned char)s[i])) {
            char c = s[i++];
            out->buf[o++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        out->buf[o++] = 0;
    }
    /* fillers: "a", "an", "the", "some", and "pair of", "photo of" ... */
    for (int i = 0; i < n; i++) {
        const char *w = all[i];
        if (word_is(w, "a") || word_is(w, "an") || word_is(w, "the") || word_is(w, "some")) continue;
        if (i + 1 < n && word_is(all[i + 1], "of") &&
            (word_is(w, "pair") || word_is(w, "pairs") || word_is(w, "photo") || word_is(w, "photograph") ||
             word_is(w, "picture") || word_is(w, "image") || word_is(w, "drawing"))) {
            i++;
            continue;
        }
        out->w[out->n++] = all[i];
    }
    if (out->n == 0) { /* a label such as "A": keep its words */
        for (int i = 0; i < n; i++) out->w[i] = all[i];
        out->n = n;
    }
    for (int i = 0; i < out->n; i++) canon(out->w[i]);
    return 0;
}

/* Joins words[a..b] into key (cap bytes); returns the key. */
static char *join(const words *ws, int a, int b, char *key, size_t cap) {
    size_t o = 0;
    key[0] = 0;
    for (int i = a; i <= b; i++) {
        size_t k = strlen(ws->w[i]);
        if (o + k + 1 > cap) break; /* cannot happen: cap is the text's length + 1 */
        memcpy(key + o, ws->w[i], k + 1);
        o += k;
    }
    return key;
}

/* The key of a whole text (malloc'ed), or NULL when out of memory or too many words. */
static char *key_of(const char *s, size_t len) {
    words ws;
    int r = split_words(s, len, &ws);
    char *key = r ? NULL : malloc(len + 1);
    if (key) join(&ws, 0, ws.n - 1, key, len + 1);
    free(ws.buf);
    return key;
}

/* One name a label answers to. */
typedef struct name_key {
    char *key;
    int label;
    int synonym;
} name_key;

typedef struct names {
    name_key *k;
    int n, cap;
} names;

static int add_key(names *ns, char *key, int label, int synonym) {
    if (!key) return -1;
    if (!*key) {
        free(key);
        return 0;
    }
    if (ns->n == ns->cap) {
        int cap = ns->cap ? ns->cap * 2 : 64;
        name_key *k = realloc(ns->k, (size_t)cap * sizeof *k);
        if (!k) {
            free(key);
            return -1;
        }
        ns->k = k;
        ns->cap = cap;
    }
    ns->k[ns->n++] = (name_key){key, label, synonym};
    return 0;
}

static void free_names(names *ns) {
    for (int i = 0; i < ns->n; i++) free(ns->k[i].key);
    free(ns->k);
}

/* Every key of every label, then the synonyms whose target the model has. */
static int build_names(names *ns, char *const *labels, int n) {
    char **full = calloc((size_t)n, sizeof *full);
    if (!full) return -1;
    int bad = 0;
    for (int l = 0; l < n && !bad; l++) {
        const char *s = labels[l] ? labels[l] : "";
        size_t len = strlen(s);
        if (len > MAX_PROMPT) continue; /* no prompt is that long */
        full[l] = key_of(s, len);
        bad = !full[l] || add_key(ns, strdup(full[l]), l, 0);
        if (!bad && strchr(s, '/')) /* "T-shirt/top" also answers to "t-shirt" and "top" */
            for (const char *p = s; !bad;) {
                const char *q = strchr(p, '/');
                size_t k = q ? (size_t)(q - p) : strlen(p);
                bad = add_key(ns, key_of(p, k), l, 0) != 0;
                if (!q) break;
                p = q + 1;
            }
    }
    for (size_t i = 0; i < sizeof SYNONYMS / sizeof SYNONYMS[0] && !bad; i++) {
        char *target = key_of(SYNONYMS[i].target, strlen(SYNONYMS[i].target));
        bad = !target;
        for (int l = 0; l < n && !bad; l++)
            if (full[l] && !strcmp(full[l], target)) {
                bad = add_key(ns, key_of(SYNONYMS[i].phrase, strlen(SYNONYMS[i].phrase)), l, 1) != 0;
                break;
            }
        free(target);
    }
    for (int l = 0; l < n; l++) free(full[l]);
    free(full);
    return bad ? -1 : 0;
}

/* "a, b, c" (or "a, b, ... (N more)") into out. */
static void list_labels(char *const *labels, int n, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *s = labels[i] ? labels[i] : "";
        size_t need = strlen(s) + 2;
        if (o + need + 24 > cap) {
            snprintf(out + o, cap - o, "%s... (%d more)", i ? ", " : "", n - i);
            return;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", s);
    }
}

/* A prompt shortened for an error line. */
static void quote_prompt(const char *p, char *out, size_t cap) {
    size_t n = strlen(p);
    if (n < cap) {
        memcpy(out, p, n + 1);
    } else {
        memcpy(out, p, cap - 4);
        memcpy(out + cap - 4, "...", 4);
    }
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' '; /* keep the error on one line */
}

static loom_status no_match(const char *prompt, char *const *labels, int n, lm_error *err) {
    char q[80], list[400];
    quote_prompt(prompt, q, sizeof q);
    list_labels(labels, n, list, sizeof list);
    return lm_fail(err, LOOM_ERR_ARG, "no label matches '%s'; the model knows: %s", q, list);
}

static int ci_equal(const char *a, size_t na, const char *b) {
    size_t nb = strlen(b);
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
    }
    return 1;
}

/* A match found inside the prompt: words a..b name label. */
typedef struct span {
    int a, b, label;
} span;

loom_status lm_label_match(const char *prompt, char *const *labels, int n, int *out_label, lm_error *err) {
    if (out_label) *out_label = -1;
    if (!prompt || !out_label) return lm_fail(err, LOOM_ERR_ARG, "lm_label_match: prompt and out_label must not be NULL");
    if (n < 1 || !labels) return lm_fail(err, LOOM_ERR_ARG, "the model has no labels to match '%.80s' against", prompt);
    /* trim */
    const char *s = prompt;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    char list[400];
    if (len == 0) {
        list_labels(labels, n, list, sizeof list);
        return lm_fail(err, LOOM_ERR_ARG, "the prompt is empty; name one of the model's labels: %s", list);
    }
    if (len > MAX_PROMPT)
        return lm_fail(err, LOOM_ERR_ARG, "the prompt is %zu bytes long; name one label (at most %d bytes)", len,
                       MAX_PROMPT);

    /* 1. a label spelled out (first, so that a label named "2012" is not read as an index) */
    for (int l = 0; l < n; l++)
        if (labels[l] && ci_equal(s, len, labels[l])) {
            *out_label = l;
            return LOOM_OK;
        }

    /* 2. an index */
    size_t digits = 0;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9') digits++;
    if (digits == len) {
        long v = digits <= 9 ? strtol(s, NULL, 10) : -1;
        if (v < 0 || v >= n) {
            list_labels(labels, n, list, sizeof list);
            return lm_fail(err, LOOM_ERR_ARG, "label %.20s is out of range: the model has labels 0..%d: %s", s, n - 1,
                           list);
        }
        *out_label = (int)v;
        return LOOM_OK;
    }
    names ns = {0};
    words ws = {0};
    char *key = malloc(len + 1);
    int r = key ? build_names(&ns, labels, n) : -1;
    if (!r) r = split_words(s, len, &ws);
    loom_status st = LOOM_OK;
    if (r == -2) {
        st = lm_fail(err, LOOM_ERR_ARG, "the prompt has more than %d words; name one label", MAX_WORDS);
    } else if (r) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory matching the prompt");
    } else if (ws.n == 0) {
        st = no_match(prompt, labels, n, err);
    } else {
        /* 3 and 4: the whole prompt is a label's key, else a synonym's */
        join(&ws, 0, ws.n - 1, key, len + 1);
        int found = -1, other = -1;
        for (int pass = 0; pass < 2 && found < 0; pass++)
            for (int i = 0; i < ns.n; i++) {
                if (ns.k[i].synonym != pass || strcmp(ns.k[i].key, key)) continue;
                if (found < 0) found = ns.k[i].label;
                else if (ns.k[i].label != found && other < 0) other = ns.k[i].label;
            }
        if (found >= 0 && other >= 0) {
            st = lm_fail(err, LOOM_ERR_ARG, "'%.80s' matches two labels, '%s' and '%s' (give the label's number: %d or %d)",
                         prompt, labels[found], labels[other], found, other);
        } else if (found >= 0) {
            *out_label = found;
        } else {
            /* 5. names inside the prompt; a match inside a longer one does not count */
            span *m = malloc((size_t)MAX_SPANS * sizeof *m);
            int nm = 0;
            if (!m) st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory matching the prompt");
            for (int a = 0; m && a < ws.n; a++)
                for (int b = a; b < ws.n; b++) {
                    join(&ws, a, b, key, len + 1);
                    int last = -1;
                    for (int i = 0; i < ns.n; i++)
                        if (ns.k[i].label != last && !strcmp(ns.k[i].key, key) && nm < MAX_SPANS) {
                            m[nm++] = (span){a, b, ns.k[i].label};
                            last = ns.k[i].label;
                        }
                }
            int first = -1, second = -1;
            for (int i = 0; m && i < nm; i++) {
                int inside = 0;
                for (int j = 0; j < nm && !inside; j++)
                    inside = j != i && m[j].a <= m[i].a && m[i].b <= m[j].b && (m[j].b - m[j].a) > (m[i].b - m[i].a);
                if (inside) continue;
                if (first < 0) first = m[i].label;
                else if (m[i].label != first && second < 0) second = m[i].label;
            }
            free(m);
            if (st == LOOM_OK && first < 0) {
                st = no_match(prompt, labels, n, err);
            } else if (st == LOOM_OK && second >= 0) {
                st = lm_fail(err, LOOM_ERR_ARG, "'%.80s' names two labels, '%s' and '%s' (name just one)", prompt,
                             labels[first], labels[second]);
            } else if (st == LOOM_OK) {
                *out_label = first;
            }
        }
    }
    free(key);
    free(ws.buf);
    free_names(&ns);
    return st;
}
