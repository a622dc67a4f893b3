/* Flag parsing shared by the subcommands: a table of options (name, type, where the value goes,
 * accepted range, help text) drives parsing, --help, range checks with one-line errors, and
 * JSON --config files whose keys are the same names. */
#ifndef LM_ARGS_H
#define LM_ARGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum lm_opt_type {
    OPT_INT,    /* int, range-checked */
    OPT_I64,    /* int64_t, range-checked */
    OPT_F32,    /* float, range-checked */
    OPT_F64,    /* double, range-checked */
    OPT_STR,    /* const char *, non-empty */
    OPT_FLAG,   /* int set to flag_value; takes no value */
    OPT_CHOICE, /* int set to the index of the value in choices ("a|b|c") */
    OPT_LIST,   /* lm_strlist: a flag that may be repeated */
} lm_opt_type;

#define LM_STRLIST_MAX 16
typedef struct lm_strlist {
    const char *v[LM_STRLIST_MAX];
    int n;
} lm_strlist;

typedef struct lm_opt {
    const char *name;  /* without the leading -- */
    char short_name;   /* -x alias, or 0 */
    lm_opt_type type;
    size_t off;        /* offset of the destination in the command's options struct */
    unsigned set_bit;  /* recorded in lm_args.set when given */
    double lo, hi;     /* accepted range for numbers */
    int flag_value;    /* OPT_FLAG */
    const char *choices; /* OPT_CHOICE */
    const char *help;  /* "ARG  text [default]" */
} lm_opt;

typedef struct lm_args {
    const char *cmd;          /* "train": used in messages */
    const lm_opt *opts;
    size_t n_opts;
    void *base;               /* the options struct */
    int allow_config;         /* accept --config FILE */
    int max_positional;       /* positional arguments accepted */
    const char *positional[4];
    int n_positional;
    unsigned set;             /* set_bit of every option given */
    void *cfg;                /* the parsed --config (keeps its strings alive) */
} lm_args;

/* Parses argv[1..]. Returns 0 on success, 2 after printing a one-line usage error, and -1 after
 * printing the usage text for --help (the command then exits 0). */
int lm_args_parse(lm_args *a, int argc, char **argv, void (*usage)(FILE *));
/* Applies a --config JSON object held in memory (len bytes at buf; name stands for the file in
 * messages), as lm_args_parse does for --config FILE: 0, or 2 after printing a one-line error.
 * The values point into a->cfg, which lm_args_free releases. */
int lm_args_config_mem(lm_args *a, const char *buf, size_t len, const char *name);
/* Prints "  --name ARG  help" for every option. */
void lm_args_print(const lm_args *a, FILE *f);
void lm_args_free(lm_args *a);

#endif
