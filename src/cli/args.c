#include "cli/args.h"


#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/io.h"

static const lm_opt *find_opt(const lm_args *a, const char *name) {
    for (size_t i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opts[i].name, name)) return &a->opts[i];
    return NULL;
}

static const lm_opt *find_short(const lm_args *a, char c) {
    for (size_t i = 0; i < a->n_opts; i++)
        if (a->opts[i].short_name == c) return &a->opts[i];
    return NULL;
}

/* Stores one value; returns 0, or prints the error and returns 2. */
static int set_opt(lm_args *a, const lm_opt *d, const char *val, const char *where) {
    char *base = (char *)a->base;
    char *end = NULL;
    errno = 0;
    switch (d->type) {
    case OPT_FLAG:
        *(int *)(base + d->off) = d->flag_value;
        break;
    case OPT_STR:
        if (!val[0]) {
            fprintf(stderr, "loom %s: --%s needs a non-empty value%s\n", a->cmd, d->name, where);
            return 2;
        }
        *(const char **)(base + d->off) = val;
        break;
    case OPT_CHOICE: {
        int idx = 0, found = -1;
        size_t vl = strlen(val);
        for (const char *c = d->choices; *c; idx++) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && !strncmp(c, val, vl)) found = idx;
            c += cl + (bar ? 1 : 0);
        }
        if (found < 0) {
            fprintf(stderr, "loom %s: --%s must be one of %s, not '%s'%s\n", a->cmd, d->name, d->choices, val, where);
            return 2;
        }
        *(int *)(base + d->off) = found;
        break;
    }
    case OPT_LIST: {
        lm_strlist *l = (lm_strlist *)(base + d->off);
        if (l->n >= LM_STRLIST_MAX) {
            fprintf(stderr, "loom %s: --%s given more than %d times%s\n", a->cmd, d->name, LM_STRLIST_MAX, where);
            return 2;
        }
        if (!val[0]) {
            fprintf(stderr, "loom %s: --%s needs a non-empty value%s\n", a->cmd, d->name, where);
            return 2;
        }
        l->v[l->n++] = val;
        break;
    }
    case OPT_INT:
    case OPT_I64: {
        long long v = strtoll(val, &end, 10);
        if (!val[0] || *end || errno) {
            fprintf(stderr, "loom %s: --%s expects a whole number, got '%s'%s\n", a->cmd, d->name, val, where);
            return 2;
        }
        if ((double)v < d->lo || (double)v > d->hi) {
            fprintf(stderr, "loom %s: --%s %lld is out of range (%.0f..%.0f)%s\n", a->cmd, d->name, v, d->lo, d->hi, where);
            return 2;
        }
        if (d->type == OPT_INT)
            *(int *)(base + d->off) = (int)v;
        else
            *(int64_t *)(base + d->off) = (int64_t)v;
        break;
    }
    case OPT_F32:
    case OPT_F64: {
        double v = strtod(val, &end);
        if (!val[0] || *end || errno || !isfinite(v)) {
            fprintf(stderr, "loom %s: --%s expects a number, got '%s'%s\n", a->cmd, d->name, val, where);
            return 2;
        }
        if (v < d->lo || v > d->hi) {
            fprintf(stderr, "loom %s: --%s %g is out of range (%g..%g)%s\n", a->cmd, d->name, v, d->lo, d->hi, where);
            return 2;
        }
        if (d->type == OPT_F32)
            *(float *)(base + d->off) = (float)v;
        else
            *(double *)(base + d->off) = v;
        break;
    }
    }
    a->set |= d->set_bit;
    return 0;
}

/* Applies a JSON config file. Its strings are kept alive in a->cfg (freed by lm_args_free). */
static int apply_config(lm_args *a, const char *path) {
    lm_error err;
    uint8_t *buf;
    size_t len;
    if (lm_read_file(path, 1 << 20, &buf, &len, &err)) {
        fprintf(stderr, "loom %s: --config: %s\n", a->cmd, err.msg);
        return 2;
    }
    int rc = lm_args_config_mem(a, (const char *)buf, len, path);
    free(buf);
    return rc;
}

int lm_args_config_mem(lm_args *a, const char *buf, size_t len, const char *path) {
    json_tokener *tk = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tk, buf, (int)len);
    int bad = json_tokener_get_error(tk) != json_tokener_success;
    /* one object and nothing after it but white space */
    for (size_t i = bad ? len : json_tokener_get_parse_end(tk); i < len; i++)
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') bad = 1;
    json_tokener_free(tk);
    if (bad || !root || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "loom %s: --config '%s' is not a JSON object (write {\"name\": value, ...})\n", a->cmd, path);
        json_object_put(root);
        return 2;
    }
    a->cfg = root;
    char where[600];
    snprintf(where, sizeof where, " (in %s)", path);
    json_object_object_foreach(root, key, val) {
        char name[64];
        snprintf(name, sizeof name, "%s", key);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        const lm_opt *d = find_opt(a, name);
        if (!d) {
            fprintf(stderr, "loom %s: unknown setting '%s' in %s (see loom %s --help)\n", a->cmd, key, path, a->cmd);
            return 2;
        }
        if (d->type == OPT_FLAG || !strcmp(name, "tied")) {
            if (!json_object_is_type(val, json_type_boolean)) {
                fprintf(stderr, "loom %s: '%s' must be true or false%s\n", a->cmd, key, where);
                return 2;
            }
            int on = json_object_get_boolean(val);
            const lm_opt *use = d;
            if (!strcmp(name, "tied") || !strcmp(name, "untied")) {
                int tied = !strcmp(name, "tied") ? on : !on;
                use = find_opt(a, tied ? "tied" : "untied");
            } else if (!on) {
                continue;
            }
            if (set_opt(a, use, "", where)) return 2;
            continue;
        }
        if (json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array) ||
            json_object_is_type(val, json_type_null)) {
            fprintf(stderr, "loom %s: '%s' must be a number or a string%s\n", a->cmd, key, where);
            return 2;
        }
        if (set_opt(a, d, json_object_get_string(val), where)) return 2;
    }
    return 0;
}

/* An option's help text starts with its value's name ("FILE  a GGUF model"), or with spaces when it
 * takes none; the name joins the flag ("-m, --model FILE") and the text is aligned after the widest. */
static void help_parts(const lm_opt *d, char *head, size_t cap, const char **text) {
    const char *h = d->help, *sp = h;
    while (*sp && *sp != ' ') sp++;
    int has_meta = sp > h;
    for (const char *c = h; c < sp; c++)
        if (!(isupper((unsigned char)*c) || isdigit((unsigned char)*c) || strchr("|_-", *c))) has_meta = 0;
    const char *t = has_meta ? sp : h;
    while (*t == ' ') t++;
    *text = t;
    int m = has_meta ? (int)(sp - h) : 0;
    if (d->short_name)
        snprintf(head, cap, "-%c, --%s%s%.*s", d->short_name, d->name, m ? " " : "", m, h);
    else
        snprintf(head, cap, "    --%s%s%.*s", d->name, m ? " " : "", m, h);
}

void lm_args_print(const lm_args *a, FILE *f) {
    char head[96];
    const char *text;
    int w = a->allow_config ? (int)strlen("    --config FILE") : 0;
    for (size_t i = 0; i < a->n_opts; i++) {
        help_parts(&a->opts[i], head, sizeof head, &text);
        int l = (int)strlen(head);
        if (l > w) w = l;
    }
    if (w > 34) w = 34; /* a longer head runs into its text's column, which then starts on the next line */
    for (size_t i = 0; i < a->n_opts; i++) {
        help_parts(&a->opts[i], head, sizeof head, &text);
        if ((int)strlen(head) > w)
            fprintf(f, "  %s\n  %-*s  %s\n", head, w, "", text);
        else
            fprintf(f, "  %-*s  %s\n", w, head, text);
    }
    if (a->allow_config)
        fprintf(f, "  %-*s  %s\n", w, "    --config FILE", "read these settings from a JSON object (flags given too win)");
}

void lm_args_free(lm_args *a) {
    json_object_put(a->cfg);
    a->cfg = NULL;
}

int lm_args_parse(lm_args *a, int argc, char **argv, void (*usage)(FILE *)) {
    /* --config first, so that flags given beside it override it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        }
        if (a->allow_config && !strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "loom %s: --config needs a file name\n", a->cmd);
                return 2;
            }
            if (a->cfg) {
                fprintf(stderr, "loom %s: --config given twice\n", a->cmd);
                return 2;
            }
            int rc = apply_config(a, argv[i + 1]);
            if (rc) return rc;
            i++;
        }
    }
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (a->allow_config && !strcmp(arg, "--config")) {
            i++;
            continue;
        }
        if (!only_positional && !strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        const lm_opt *d = NULL;
        const char *eq = NULL;
        char name[64];
        if (!only_positional && arg[0] == '-' && arg[1] == '-') {
            eq = strchr(arg, '=');
            size_t nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (nl >= sizeof name) nl = sizeof name - 1;
            memcpy(name, arg + 2, nl);
            name[nl] = 0;
            d = find_opt(a, name);
            if (!d) {
                fprintf(stderr, "loom %s: unknown flag '--%s' (see loom %s --help)\n", a->cmd, name, a->cmd);
                return 2;
            }
        } else if (!only_positional && arg[0] == '-' && arg[1] && !arg[2]) {
            d = find_short(a, arg[1]);
            if (!d) {
                fprintf(stderr, "loom %s: unknown flag '%s' (see loom %s --help)\n", a->cmd, arg, a->cmd);
                return 2;
            }
            snprintf(name, sizeof name, "%s", d->name);
        } else {
            if (a->n_positional >= a->max_positional) {
                fprintf(stderr, "loom %s: unexpected argument '%s' (flags start with --; see loom %s --help)\n",
                        a->cmd, arg, a->cmd);
                return 2;
            }
            a->positional[a->n_positional++] = arg;
            continue;
        }
        const char *val = "";
        if (d->type != OPT_FLAG) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "loom %s: --%s needs a value (see loom %s --help)\n", a->cmd, name, a->cmd);
                return 2;
            }
        } else if (eq) {
            fprintf(stderr, "loom %s: --%s takes no value\n", a->cmd, name);
            return 2;
        }
        int rc = set_opt(a, d, val, "");
        if (rc) return rc;
    }
    return 0;
}
