/* Code completion: where completions end (Python by indentation, C-like languages by braces),
 * the fill-in-the-middle prompt's token layout, candidates ranked by mean log-probability
 * (driven by a scripted model, token healing included), the unified diff, and the parsers:
 * python3 and gcc verdicts, and a repair by a scripted model checked by python3 (each skipped
 * when its program is missing). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/complete.h"
#include "generate/repair.h"

/* ---- boundaries ---- */

/* What a completion `text` typed after `prefix` keeps: -1 while it may go on. */
static int64_t cut(lm_lang lang, int fim, const char *prefix, const char *text) {
    lm_boundary b;
    lm_boundary_init(&b, lang, prefix, strlen(prefix), fim);
    return lm_boundary_find(&b, text, strlen(text));
}

/* Checks that the completion ends after exactly `kept` (a prefix of text). */
static void check_keep(lm_lang lang, int fim, const char *prefix, const char *text, const char *kept) {
    size_t k = strlen(kept);
    assert_int_equal(strncmp(text, kept, k), 0);
    int64_t got = cut(lang, fim, prefix, text);
    if (got != (int64_t)k)
        fail_msg("prefix %s\ntext %s\nkept %lld bytes, want %zu (%s)", prefix, text, (long long)got, k, kept);
}

static void py(const char *prefix, const char *text, const char *kept) { check_keep(LM_LANG_PYTHON, 0, prefix, text, kept); }

static void test_python_body(void **state) {
    (void)state;
    /* the body of the header just above, up to the dedent */
    py("def f(x):\n", "    y = x + 1\n    return y\n\ndef g():\n    pass\n", "    y = x + 1\n    return y\n");
    /* nested blocks end only at the starting level */
    py("def f(xs):\n", "    for x in xs:\n        if x:\n            print(x)\n    return 1\nprint(2)\n",
       "    for x in xs:\n        if x:\n            print(x)\n    return 1\n");
    /* blank lines and comments (even at column 0) do not end a block; a comment before the
     * dedent that is not indented belongs to what follows */
    py("def f():\n", "    a = 1\n\n    # note\n# col0\n    b = 2\n\nx = 3\n", "    a = 1\n\n    # note\n# col0\n    b = 2\n");
    py("def f():\n", "    return 1\n\n# section two\ndef g():\n", "    return 1\n");
    /* tabs count as up to 8 columns */
    py("def f(x):\n", "\treturn x\n\ty = 1\nz", "\treturn x\n\ty = 1\n");
    /* whitespace already typed on the cursor's line counts */
    py("def f(x):\n    ", "return x\nprint(1)", "return x\n");
}

static void test_python_dedent_to_start(void **state) {
    (void)state;
    /* mid-line: the statement at the cursor, with its body, ends at its own indentation */
    py("class A:\n    def m(self):\n        return 1\n    def n(self", "):\n        return 2\n    def o(self):\n",
       "):\n        return 2\n");
    /* a simple statement ends with its line */
    py("def f(x):\n    y = ", "x * 2\n    return y\n", "x * 2\n");
    /* ... but when it was whole already, the rest of the block follows */
    py("def f(x):\n    \"\"\"Doc.\"\"\"", "\n    y = 2\n    return y\nz = 1\n", "\n    y = 2\n    return y\n");
    py("def f(x):\n    y = 1  ", "# set\n    return y\nz = 1\n", "# set\n    return y\n");
    py("x = 1", "\ny = 2\nz = 3\n", "\ny = 2\n");
    /* a header at the cursor keeps its body and its other clauses */
    py("if x:", "\n    a()\nelse:\n    b()\nc()\n", "\n    a()\nelse:\n    b()\n");
    /* at the start of a line inside a body: the rest of that body */
    py("def f(x):\n    a = 1\n", "    b = 2\n    return a + b\n\nprint(f(1))\n", "    b = 2\n    return a + b\n");
    /* top level: one statement or definition; a decorator does not end it */
    py("", "@dec\ndef f():\n    return 1\n@dec2\n", "@dec\ndef f():\n    return 1\n");
    py("import os\n", "import sys\nimport re\n", "import sys\n");
    /* else/elif/except/finally continue a compound statement begun at the cursor ... */
    py("def f(x):\n    if x", ":\n        return 1\n    else:\n        return 2\n    print(3)\n",
       ":\n        return 1\n    else:\n        return 2\n");
    py("try", ":\n    a()\nexcept E:\n    b()\nfinally:\n    c()\nd()\n", ":\n    a()\nexcept E:\n    b()\nfinally:\n    c()\n");
    /* ... but end a body being completed */
    py("if x:\n", "    a = 1\nelse:\n    b = 2\n", "    a = 1\n");
    /* a word not yet finished cannot be judged; one that is not a clause ends the block */
    assert_int_equal(cut(LM_LANG_PYTHON, 0, "def f(x):\n    if x", ":\n        return 1\n    els"), -1);
    py("def f(x):\n    if x", ":\n        return 1\n    elsewhere = 1\n", ":\n        return 1\n");
}

static void test_python_strings_brackets_eof(void **state) {
    (void)state;
    /* a docstring's lines may start anywhere */
    py("def f():\n", "    \"\"\"Doc.\n\nat column 0\n    \"\"\"\n    return 1\nx = 2\n",
       "    \"\"\"Doc.\n\nat column 0\n    \"\"\"\n    return 1\n");
    py("def f():\n", "    s = '''\nx'''\n    t = \"\"\n    return s\ny\n", "    s = '''\nx'''\n    t = \"\"\n    return s\n");
    /* so may lines inside brackets, or after a backslash */
    py("def f():\n", "    x = foo(1,\n2)\n    y = 1 + \\\n3\n    return x\ny", "    x = foo(1,\n2)\n    y = 1 + \\\n3\n    return x\n");
    /* a '#' or a dedent inside a string is not code */
    py("def f():\n", "    s = \"# not a comment\"\n    return s\nz", "    s = \"# not a comment\"\n    return s\n");
    /* the cursor inside an open bracket: the statement goes on until its logical line ends */
    py("def f():\n    x = g(1,\n", "2,\n  3)\n    return x\nz", "2,\n  3)\n");
    /* a block that ends at the end of the file: no boundary, and everything is kept but
     * trailing blank lines */
    lm_boundary b;
    const char *prefix = "def f():\n", *t = "    return 1\n";
    lm_boundary_init(&b, LM_LANG_PYTHON, prefix, strlen(prefix), 0);
    assert_int_equal(lm_boundary_find(&b, t, strlen(t)), -1);
    assert_int_equal(lm_boundary_final(&b, t, strlen(t)), strlen(t));
    assert_int_equal(lm_boundary_final(&b, "    return 1\n\n  \n", 17), 13);
    assert_int_equal(lm_boundary_final(&b, "    return 1", 12), 12);
    /* cut short by the token limit: whole statements only, and no header without its body */
    const char *w1 = "    x = 1\n    if x:\n        y = (1,\n";
    assert_int_equal(lm_boundary_whole(&b, w1, strlen(w1)), 10);
    const char *w2 = "    x = [1,\n         2]\n    return x +";
    assert_int_equal(lm_boundary_whole(&b, w2, strlen(w2)), 24);
    const char *w3 = "    for a in b:\n        if a:\n";
    assert_int_equal(lm_boundary_whole(&b, w3, strlen(w3)), 0);
    const char *w4 = "    s = '''a:\n'''\n    while s:\n        s = s[1:]\n    else:\n";
    assert_int_equal(lm_boundary_whole(&b, w4, strlen(w4)), strlen(w4) - 10);
    const char *w5 = "    return 1\n\n    @property\n    def g(self):\n        return (";
    assert_int_equal(lm_boundary_whole(&b, w5, strlen(w5)), 13);
    /* fill in the middle keeps what the model wrote up to its end token */
    lm_boundary_init(&b, LM_LANG_PYTHON, prefix, strlen(prefix), 1);
    assert_int_equal(lm_boundary_final(&b, "x\n\n", 3), 3);
}

static void cl(const char *prefix, const char *text, const char *kept) { check_keep(LM_LANG_C, 0, prefix, text, kept); }

static void test_c_braces(void **state) {
    (void)state;
    /* braces in strings, character literals and comments are not braces */
    cl("int main(void)", " {\n    printf(\"}\");\n    /* } */ // }\n    char c = '}';\n    return 0;\n}\nint g;\n",
       " {\n    printf(\"}\");\n    /* } */ // }\n    char c = '}';\n    return 0;\n}\n");
    cl("", "char *s = \"{\\\"{\";\nint f(void) {\n  return '\\'' + '{';\n}\nx", "char *s = \"{\\\"{\";\nint f(void) {\n  return '\\'' + '{';\n}\n");
    /* nested braces: the completion ends when the outermost one it opened closes */
    cl("void f(int n) ", "{\n    for (;;) {\n        if (n) { n--; }\n    }\n}\nvoid g(void) {}\n",
       "{\n    for (;;) {\n        if (n) { n--; }\n    }\n}\n");
    /* `} else {` reopens on the same line */
    cl("void f(int x) ", "{\n    if (x) {\n        a();\n    } else {\n        b();\n    }\n}\nint y;\n",
       "{\n    if (x) {\n        a();\n    } else {\n        b();\n    }\n}\n");
    /* a preprocessor line's brace is not code */
    cl("", "#define OPEN {\nint f(void) {\n  return 1;\n}\nint z;", "#define OPEN {\nint f(void) {\n  return 1;\n}\n");
    /* not closed yet */
    assert_int_equal(cut(LM_LANG_C, 0, "", "int f(void) {\n  a();\n"), -1);
    assert_int_equal(cut(LM_LANG_C, 0, "", "int f(void) {\n  a(); }"), -1); /* the line is not over */
    /* JavaScript template strings span lines */
    check_keep(LM_LANG_JS, 0, "", "function f() {\n  return `}\n{`;\n}\nx", "function f() {\n  return `}\n{`;\n}\n");
}

static void test_c_inside_body(void **state) {
    (void)state;
    const char *prefix = "int f(int x) {\n    int y = x;\n";
    /* left to right: up to and with the '}' that closes the function */
    cl(prefix, "    y += 1;\n    return y;\n}\n\nint g(void) {\n", "    y += 1;\n    return y;\n}\n");
    /* filling in the middle: the suffix holds that '}' */
    check_keep(LM_LANG_C, 1, prefix, "    y += 1;\n    return y;\n}\n\nint g(void) {\n", "    y += 1;\n    return y;\n");
    check_keep(LM_LANG_C, 1, prefix, "    return y; }\n", "    return y;");
    /* leaving an inner block and going on in the outer one */
    cl("void f(int x) {\n    if (x) {\n", "        a();\n    } else {\n        b();\n    }\n    c();\n",
       "        a();\n    } else {\n        b();\n    }\n");
    /* mid-line: a statement that opens no brace ends with its line */
    cl("int main(void) {\n    int x = ", "42;\n    return x;\n}\n", "42;\n");
    cl("int main(void) {\n    for (i = 0; ", "i < n; i++) {\n        s += i;\n    }\n    return s;\n",
       "i < n; i++) {\n        s += i;\n    }\n");
    cl("int main(void) {\n    x = f(a,\n", "      b);\n    return x;\n}\n", "      b);\n    return x;\n}\n");
    /* after a whole statement, the rest of the block */
    cl("int main(void) {\n    int s = 0;", "\n    s += 1;\n    return s;\n}\nint z;\n", "\n    s += 1;\n    return s;\n}\n");
}

static void test_languages(void **state) {
    (void)state;
    assert_int_equal(lm_lang_from_path("src/a.py"), LM_LANG_PYTHON);
    assert_int_equal(lm_lang_from_path("X.H"), LM_LANG_C);
    assert_int_equal(lm_lang_from_path("a.b/main.rs"), LM_LANG_RUST);
    assert_int_equal(lm_lang_from_path("a.b/Makefile"), LM_LANG_TEXT);
    assert_int_equal(lm_lang_from_path(".bashrc"), LM_LANG_TEXT);
    lm_lang l;
    assert_int_equal(lm_lang_from_name("TypeScript", &l), 0);
    assert_int_equal(l, LM_LANG_JS);
    assert_int_equal(lm_lang_from_name("cobol", &l), -1);
}

/* ---- the fill-in-the-middle prompt ---- */

/* The byte-level tokenizer (0..255 bytes, 256 <|endoftext|>) with the three FIM tokens as
 * loom's BPE tokenizers order them: 257 prefix, 258 middle, 259 suffix. */
static void fim_tokenizer(lm_tokenizer *t) {
    lm_error err = {0};
    assert_int_equal(lm_tokenizer_byte(t, &err), LOOM_OK);
    static const char *const extra[] = {"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"};
    int n = t->n_vocab + 3;
    t->piece = realloc(t->piece, (size_t)n * sizeof *t->piece);
    t->piece_len = realloc(t->piece_len, (size_t)n * sizeof *t->piece_len);
    t->type = realloc(t->type, (size_t)n * sizeof *t->type);
    assert_non_null(t->piece);
    assert_non_null(t->piece_len);
    assert_non_null(t->type);
    for (int i = 0; i < 3; i++) {
        t->piece[t->n_vocab + i] = strdup(extra[i]);
        t->piece_len[t->n_vocab + i] = (int)strlen(extra[i]);
        t->type[t->n_vocab + i] = LM_TOKTYPE_CONTROL;
    }
    t->n_vocab = n;
}

static void check_ids(const int32_t *got, int n, const int32_t *want, int nw) {
    assert_int_equal(n, nw);
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("token %d is %d, want %d", i, got[i], want[i]);
}

static void test_fim_prompt(void **state) {
    (void)state;
    lm_tokenizer tok;
    fim_tokenizer(&tok);
    lm_error err = {0};
    lm_fim_ids f;
    assert_int_equal(lm_fim_find(&tok, &f), 1);
    assert_int_equal(f.prefix, 257);
    assert_int_equal(f.middle, 258);
    assert_int_equal(f.suffix, 259);
    int32_t *ids;
    int n;
    size_t dp, ds;
    /* PSM: <eot> <fim_prefix> prefix <fim_suffix> suffix <fim_middle> */
    assert_int_equal(lm_complete_prompt(&tok, &f, NULL, "ab", 2, "cd", 2, 100, &ids, &n, &dp, &ds, &err), LOOM_OK);
    check_ids(ids, n, (const int32_t[]){256, 257, 'a', 'b', 259, 'c', 'd', 258}, 8);
    assert_int_equal(dp + ds, 0);
    free(ids);
    /* too long: the prefix keeps its end, the suffix its start, half each; no <eot> once the
     * file's start is cut */
    assert_int_equal(lm_complete_prompt(&tok, &f, NULL, "abcdef", 6, "uvwxyz", 6, 7, &ids, &n, &dp, &ds, &err), LOOM_OK);
    check_ids(ids, n, (const int32_t[]){257, 'e', 'f', 259, 'u', 'v', 258}, 7);
    assert_int_equal(dp, 4);
    assert_int_equal(ds, 4);
    free(ids);
    /* a short suffix leaves the rest to the prefix */
    assert_int_equal(lm_complete_prompt(&tok, &f, NULL, "abcdefgh", 8, "z", 1, 8, &ids, &n, &dp, &ds, &err), LOOM_OK);
    check_ids(ids, n, (const int32_t[]){257, 'e', 'f', 'g', 'h', 259, 'z', 258}, 8);
    free(ids);
    /* a code corpus's path line goes after <|endoftext|>, in front of everything else */
    assert_int_equal(lm_complete_prompt(&tok, &f, "#p\n", "ab", 2, "cd", 2, 100, &ids, &n, &dp, &ds, &err), LOOM_OK);
    check_ids(ids, n, (const int32_t[]){256, '#', 'p', '\n', 257, 'a', 'b', 259, 'c', 'd', 258}, 11);
    free(ids);
    char hdr[64];
    lm_path_header("./src/x.py", hdr, sizeof hdr);
    assert_string_equal(hdr, "# path: src/x.py\n");
    lm_path_header("/home/me/x.py", hdr, sizeof hdr);
    assert_string_equal(hdr, "# path: x.py\n");
    lm_path_header("../lib/y.c", hdr, sizeof hdr);
    assert_string_equal(hdr, "# path: y.c\n");
    /* left to right: the prefix alone */
    assert_int_equal(lm_complete_prompt(&tok, NULL, NULL, "ab", 2, "cd", 2, 100, &ids, &n, &dp, &ds, &err), LOOM_OK);
    check_ids(ids, n, (const int32_t[]){256, 'a', 'b'}, 3);
    free(ids);
    lm_tokenizer_free(&tok);
    /* a vocabulary without the FIM tokens */
    assert_int_equal(lm_tokenizer_byte(&tok, &err), LOOM_OK);
    assert_int_equal(lm_fim_find(&tok, &f), 0);
    lm_tokenizer_free(&tok);
}

/* The prompt is what `loom train --code` showed the model (src/data/fim.h's PSM layout, with
 * the path line kept in front), up to <|fim_middle|>. */
static void test_fim_matches_training(void **state) {
    (void)state;
    lm_tokenizer tok;
    fim_tokenizer(&tok);
    lm_error err = {0};
    lm_fim_ids f;
    assert_int_equal(lm_fim_find(&tok, &f), 1);
    const char *header = "# path: a.py\n", *file = "def f(x):\n    return x\n\nprint(f(2))\n";
    size_t hl = strlen(header), fl = strlen(file), b = 14, e = 24; /* the middle: "return x\n\n" */
    char doc[256];
    snprintf(doc, sizeof doc, "%s%s", header, file);
    lm_fim_split sp = {LM_FIM_PSM, b, e};
    int32_t train[256];
    size_t nt = lm_fim_layout(&tok, &f, (const uint8_t *)doc, hl + fl, hl, &sp, train);
    size_t upto = 0;
    while (upto < nt && train[upto] != f.middle) upto++;
    assert_true(upto < nt);
    int32_t *ids;
    int n;
    size_t dp, ds;
    assert_int_equal(lm_complete_prompt(&tok, &f, header, file, b, file + e, fl - e, 1000, &ids, &n, &dp, &ds, &err),
                     LOOM_OK);
    assert_int_equal(ids[0], 256); /* the <|endoftext|> that ends the file before */
    check_ids(ids + 1, n - 1, train, (int)upto + 1);
    free(ids);
    lm_tokenizer_free(&tok);
}

/* ---- candidates, with a scripted model ---- */

/* A model that "wants" to write script after any prompt: the script's next byte gets logit
 * 5, 'x' logit 3 (unless it is the script's), the rest nothing; after the script, the end token. It records the prompt. */
typedef struct script_model {
    const char *script;
    int32_t end;     /* the token that ends it */
    int n_vocab;
    int n_prompt, n_past;
    int32_t prompt[512];
} script_model;

static loom_status script_eval(void *ud, int n_keep, const int32_t *ids, int n, float *logits, lm_error *err) {
    script_model *s = ud;
    assert_true(n_keep <= s->n_past);
    if (n_keep == 0) {
        assert_true(n <= 512);
        memcpy(s->prompt, ids, (size_t)n * sizeof *ids);
        s->n_prompt = n;
    }
    s->n_past = n_keep + n;
    int j = s->n_past - s->n_prompt; /* bytes of the script written so far */
    for (int i = 0; i < s->n_vocab; i++) logits[i] = -1e9f;
    if ((size_t)j < strlen(s->script)) {
        logits['x'] = 3;
        logits[(unsigned char)s->script[j]] = 5; /* for an 'x' in the script, the only choice */
    } else {
        logits[s->end] = 5;
    }
    return LOOM_OK;
}

static void test_ranking(void **state) {
    (void)state;
    /* ranking alone: highest mean first, ties in sampling order */
    lm_candidate c[4] = {{.mean_logprob = -2, .index = 0}, {.mean_logprob = -0.5, .index = 1},
                         {.mean_logprob = -1, .index = 2}, {.mean_logprob = -0.5, .index = 3}};
    lm_candidates_rank(c, 4);
    assert_int_equal(c[0].index, 1);
    assert_int_equal(c[1].index, 3);
    assert_int_equal(c[2].index, 2);
    assert_int_equal(c[3].index, 0);

    lm_tokenizer tok;
    fim_tokenizer(&tok);
    lm_error err = {0};
    /* left to right, the prompt's last three tokens ("):\n") are taken back and written again */
    script_model sm = {.script = "):\n    return x\nprint(1)\n", .end = 256, .n_vocab = 260};
    lm_complete_model m = {.ud = &sm, .n_vocab = 260, .n_ctx = 256, .eval = script_eval};
    lm_complete_opts o = {.lang = LM_LANG_PYTHON, .n_candidates = 8, .max_tokens = 64, .greedy_first = 1, .use_fim = 1};
    lm_sampler_defaults(&o.sampling);
    o.sampling.temperature = 1.5f;
    o.sampling.top_k = 0;
    o.sampling.top_p = 1;
    o.sampling.min_p = 0;
    o.sampling.seed = 7;
    lm_complete_result r;
    const char *prefix = "def f(x):\n";
    assert_int_equal(lm_complete(&m, &tok, prefix, strlen(prefix), "", 0, &o, &r, &err), LOOM_OK);
    assert_int_equal(r.n, 8);
    assert_int_equal(r.fim, 0); /* nothing after the cursor: left to right */
    check_ids(sm.prompt, sm.n_prompt, (const int32_t[]){256, 'd', 'e', 'f', ' ', 'f', '(', 'x'}, 8);
    int deviated = 0;
    for (int i = 0; i < r.n; i++) {
        if (i) assert_true(r.cand[i - 1].mean_logprob >= r.cand[i].mean_logprob);
        /* a candidate ends at the dedent ("print" starts at column 0), or, where a sampled 'x'
         * took the newline's place, at the end token */
        assert_true(r.cand[i].stop == LM_CSTOP_BOUNDARY || r.cand[i].stop == LM_CSTOP_END);
        deviated += strcmp(r.cand[i].text, "    return x\n") != 0;
    }
    /* the greedy candidate follows the script, every token at its most likely: it ranks first */
    assert_int_equal(r.cand[0].index, 0);
    assert_string_equal(r.cand[0].text, "    return x\n");
    assert_int_equal(r.cand[0].stop, LM_CSTOP_BOUNDARY);
    /* 14 tokens scored (not the healed prompt; the 'p' of print last): the 'x' was certain, the
     * 13 others had e^5 against e^3 */
    assert_int_equal(r.cand[0].n_tokens, 14);
    assert_true(fabs(r.cand[0].mean_logprob - 13 * log(1 / (1 + exp(-2.0))) / 14) < 1e-6);
    assert_true(deviated > 0); /* at temperature 1.5 some samples take an 'x' */
    lm_complete_result_free(&r);

    /* with code after the cursor: fill in the middle, ended by a FIM token */
    sm = (script_model){.script = "x * 2", .end = 258, .n_vocab = 260};
    o.n_candidates = 1;
    const char *pre = "def f(x):\n    y = ", *suf = "\n    return y\n";
    assert_int_equal(lm_complete(&m, &tok, pre, strlen(pre), suf, strlen(suf), &o, &r, &err), LOOM_OK);
    assert_int_equal(r.fim, 1);
    assert_int_equal(sm.prompt[0], 256);
    assert_int_equal(sm.prompt[1], 257);
    assert_int_equal(sm.prompt[1 + 1 + (int)strlen(pre)], 259);
    assert_int_equal(sm.prompt[sm.n_prompt - 1], 258);
    assert_string_equal(r.cand[0].text, "x * 2");
    assert_int_equal(r.cand[0].stop, LM_CSTOP_END);
    assert_int_equal(r.cand[0].n_tokens, 6); /* five bytes and the end token */
    lm_complete_result_free(&r);

    /* a middle that runs on into the suffix (here cut by the token limit) loses the copy */
    sm = (script_model){.script = "x * 2\n    return y\n", .end = 256, .n_vocab = 260};
    o.lang = LM_LANG_TEXT;
    o.max_tokens = (int)strlen(sm.script);
    assert_int_equal(lm_complete(&m, &tok, pre, strlen(pre), suf, strlen(suf), &o, &r, &err), LOOM_OK);
    assert_int_equal(r.cand[0].stop, LM_CSTOP_LENGTH);
    assert_string_equal(r.cand[0].text, "x * 2");
    lm_complete_result_free(&r);
    o.lang = LM_LANG_PYTHON;
    o.max_tokens = 64;

    /* without FIM tokens the same request goes left to right and says so */
    lm_tokenizer bt;
    assert_int_equal(lm_tokenizer_byte(&bt, &err), LOOM_OK);
    m.n_vocab = 257;
    sm = (script_model){.script = " = x * 2\n", .end = 256, .n_vocab = 257}; /* " = " healed */
    assert_int_equal(lm_complete(&m, &bt, pre, strlen(pre), suf, strlen(suf), &o, &r, &err), LOOM_OK);
    assert_int_equal(r.fim, 0);
    assert_int_equal(r.fim_missing, 1);
    assert_string_equal(r.cand[0].text, "x * 2\n");
    lm_complete_result_free(&r);
    lm_tokenizer_free(&bt);
    lm_tokenizer_free(&tok);
}

/* ---- diff and repair ---- */

static void test_unified_diff(void **state) {
    (void)state;
    const char *a = "a\nb\nc\nd\ne\nf\ng\nh\n", *b = "a\nb\nc\nD1\nD2\ne\nf\ng\nh\n";
    char *d = lm_unified_diff(a, strlen(a), b, strlen(b), "a/x", "b/x", 3);
    assert_string_equal(d, "--- a/x\n+++ b/x\n@@ -1,7 +1,8 @@\n a\n b\n c\n-d\n+D1\n+D2\n e\n f\n g\n");
    free(d);
    d = lm_unified_diff("x\ny", 3, "x\nz", 3, "a", "b", 3);
    assert_string_equal(d, "--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n");
    free(d);
    d = lm_unified_diff("1\n2\n3\n4\n5\n", 10, "1\n2\n3\n4\nnew\n5\n", 14, "a", "b", 1);
    assert_string_equal(d, "--- a\n+++ b\n@@ -4,2 +4,3 @@\n 4\n+new\n 5\n");
    free(d);
    d = lm_unified_diff("same\n", 5, "same\n", 5, "a", "b", 3);
    assert_string_equal(d, "");
    free(d);
}

static void test_repair_python(void **state) {
    (void)state;
    lm_error err = {0};
    lm_parse_result pr;
    const char *bad = "def f(x):\n    return x +\n\nprint(f(1))\n";
    if (lm_parse_text(LM_LANG_PYTHON, bad, strlen(bad), NULL, &pr, &err) != LOOM_OK) {
        print_message("python3 is not available (%s): skipping\n", err.msg);
        skip();
    }
    assert_int_equal(pr.ok, 0);
    assert_int_equal(pr.line, 2);
    assert_int_equal(lm_parse_text(LM_LANG_PYTHON, "x = 1\n", 6, NULL, &pr, &err), LOOM_OK);
    assert_int_equal(pr.ok, 1);
    /* the scripted model always writes the same line: only replacing line 2 with it parses */
    lm_tokenizer tok;
    fim_tokenizer(&tok);
    script_model sm = {.script = "    return x + 1\n", .end = 256, .n_vocab = 260};
    lm_complete_model m = {.ud = &sm, .n_vocab = 260, .n_ctx = 256, .eval = script_eval};
    lm_repair_opts o = {.lang = LM_LANG_PYTHON, .n_samples = 2, .max_tokens = 64};
    lm_sampler_defaults(&o.sampling);
    o.sampling.seed = 3;
    lm_repair_result r;
    assert_int_equal(lm_parse_text(LM_LANG_PYTHON, bad, strlen(bad), NULL, &pr, &err), LOOM_OK);
    assert_int_equal(pr.line, 2);
    assert_int_equal(lm_repair(&m, &tok, bad, strlen(bad), &pr, &o, &r, &err), LOOM_OK);
    assert_int_equal(r.fixed, 1);
    assert_int_equal(r.fim, 1);
    /* replacing lines 2-3 parses too, as likely, but line 2 alone comes first */
    assert_string_equal(r.text, "def f(x):\n    return x + 1\n\nprint(f(1))\n");
    assert_int_equal(r.first_line, 2);
    assert_int_equal(r.n_lines, 1);
    assert_int_equal(r.n_tried, 8); /* 4 regions (line 2; before line 2; lines 1-2; lines 2-3) x 2 */
    assert_int_equal(r.n_parsed, 2);
    assert_int_equal(r.n_cands, r.n_distinct);
    assert_int_equal(r.cands[0].parses, 1);
    assert_string_equal(r.cands[0].infill, "    return x + 1\n");
    lm_repair_result_free(&r);

    /* a bracket never closed is reported where it opens: the fix goes where its statement ends */
    const char *open_bracket = "x = [\n    1,\n    2\ny = 3\n";
    assert_int_equal(lm_parse_text(LM_LANG_PYTHON, open_bracket, strlen(open_bracket), NULL, &pr, &err), LOOM_OK);
    assert_int_equal(pr.line, 1);
    sm = (script_model){.script = "]\n", .end = 256, .n_vocab = 260};
    assert_int_equal(lm_repair(&m, &tok, open_bracket, strlen(open_bracket), &pr, &o, &r, &err), LOOM_OK);
    assert_int_equal(r.fixed, 1);
    assert_string_equal(r.text, "x = [\n    1,\n    2\n]\ny = 3\n");
    assert_int_equal(r.first_line, 4);
    assert_int_equal(r.n_lines, 0);
    lm_repair_result_free(&r);
    lm_tokenizer_free(&tok);
}

static void test_parse_c(void **state) {
    (void)state;
    lm_error err = {0};
    lm_parse_result pr;
    const char *bad = "int main(void) {\n  int x = 1\n  return x;\n}\n";
    if (lm_parse_text(LM_LANG_C, bad, strlen(bad), NULL, &pr, &err) != LOOM_OK) {
        print_message("gcc is not available (%s): skipping\n", err.msg);
        skip();
    }
    /* gcc reports the missing ';' where the next statement starts */
    assert_int_equal(pr.ok, 0);
    assert_true(pr.line == 2 || pr.line == 3);
    assert_int_equal(pr.fatal, 0);
    assert_non_null(strstr(pr.msg, "expected"));
    const char *good = "int main(void) { return 0; }\n";
    assert_int_equal(lm_parse_text(LM_LANG_C, good, strlen(good), NULL, &pr, &err), LOOM_OK);
    assert_int_equal(pr.ok, 1);
    /* a missing header is not a syntax error: fix must not try to "repair" it */
    const char *inc = "#include \"no_such_header_here.h\"\nint x;\n";
    assert_int_equal(lm_parse_text(LM_LANG_C, inc, strlen(inc), NULL, &pr, &err), LOOM_OK);
    assert_int_equal(pr.ok, 0);
    assert_int_equal(pr.fatal, 1);
    assert_int_equal(pr.line, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_body),
        cmocka_unit_test(test_python_dedent_to_start),
        cmocka_unit_test(test_python_strings_brackets_eof),
        cmocka_unit_test(test_c_braces),
        cmocka_unit_test(test_c_inside_body),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_fim_prompt),
        cmocka_unit_test(test_fim_matches_training),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_unified_diff),
        cmocka_unit_test(test_repair_python),
        cmocka_unit_test(test_parse_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
