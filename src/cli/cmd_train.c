/* loom train: flags (or a JSON --config file with the same names) into lm_train_opts. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "train/train.h"

#define O(f) offsetof(lm_train_opts, f)
static const lm_opt OPTS[] = {
    {"data", 0, OPT_STR, O(data), 0, 0, 0, 0, NULL, "PATH   text file or folder of text files, or a source tree with --code (required)"},
    {"out", 0, OPT_STR, O(out), 0, 0, 0, 0, NULL, "DIR     where model.gguf, checkpoint.bin, metrics.jsonl, loss.png go (required)"},
    {"code", 0, OPT_FLAG, O(code), LM_SET_CODE, 0, 0, 1, NULL, "        PATH is a source tree: source files only, each after a '# path: REL' line (see below)"},
    {"extensions", 0, OPT_STR, O(extensions), LM_SET_EXTENSIONS, 0, 0, 0, NULL, "LIST  --code: extensions (or whole names) to keep, comma-separated: py,c,h [common languages]"},
    {"max-file-kb", 0, OPT_INT, O(max_file_kb), LM_SET_MAX_FILE, 1, 1 << 30, 0, NULL, "N  --code: skip files larger than N KiB [1024]"},
    {"fim-rate", 0, OPT_F32, O(fim_rate), LM_SET_FIM_RATE, 0, 1, 0, NULL, "F  share of training documents rearranged for fill-in-the-middle [0.5 with --code, else 0]"},
    {"fim-spm-rate", 0, OPT_F32, O(fim_spm_rate), LM_SET_FIM_SPM, 0, 1, 0, NULL, "F  share of those in suffix-prefix-middle order, the rest prefix-suffix-middle [0.5]"},
    {"tokenizer", 0, OPT_CHOICE, O(tokenizer), LM_SET_TOKENIZER, 0, 0, 0, "byte|bpe", "KIND byte (256 bytes + <|endoftext|>) or bpe, trained on the corpus [byte; bpe with --code]"},
    {"vocab-size", 0, OPT_INT, O(vocab_size), LM_SET_VOCAB, 260, 1048576, 0, NULL, "N  BPE: tokens, specials included (260..1048576) [4096]"},
    {"tokenizer-file", 0, OPT_STR, O(tokenizer_file), LM_SET_TOKFILE, 0, 0, 0, NULL, "FILE use this loom tokenizer (loom tokenizer train) [train one]"},
    {"bpe-pattern", 0, OPT_CHOICE, O(bpe_gpt2_pattern), LM_SET_BPE_PATTERN, 0, 0, 0, "gpt4|gpt2", "PAT BPE pre-split regex [gpt4]"},
    {"layers", 0, OPT_INT, O(model.layers), LM_SET_LAYERS, 1, 1024, 0, NULL, "N    transformer blocks (default: sized to the corpus, 4 for < 3M tokens)"},
    {"heads", 0, OPT_INT, O(model.heads), LM_SET_HEADS, 1, 4096, 0, NULL, "N     attention heads (default 4)"},
    {"kv-heads", 0, OPT_INT, O(model.kv_heads), LM_SET_KV_HEADS, 1, 4096, 0, NULL, "N  key/value heads; fewer than --heads is grouped-query attention (default: = heads)"},
    {"dim", 0, OPT_INT, O(model.dim), LM_SET_DIM, 2, 65536, 0, NULL, "N       model width (default 128)"},
    {"ffn-dim", 0, OPT_INT, O(model.ffn_dim), LM_SET_FFN, 1, 1 << 20, 0, NULL, "N   SwiGLU hidden width (default 8/3 * dim, rounded up to 8)"},
    {"context", 0, OPT_INT, O(model.context), LM_SET_CONTEXT, 1, 1 << 20, 0, NULL, "N   tokens per training window (default 64)"},
    {"tied", 0, OPT_FLAG, O(model.tied), LM_SET_TIED, 0, 0, 1, NULL, "        output head shares the token embedding (default)"},
    {"untied", 0, OPT_FLAG, O(model.tied), LM_SET_TIED, 0, 0, 0, NULL, "      separate output head"},
    {"batch", 0, OPT_INT, O(batch), LM_SET_BATCH, 1, 65536, 0, NULL, "N     windows per micro-batch (default 12)"},
    {"grad-accum", 0, OPT_INT, O(grad_accum), LM_SET_GRAD_ACCUM, 1, 65536, 0, NULL, "N micro-batches per optimizer step (default 1)"},
    {"steps", 0, OPT_I64, O(steps), LM_SET_STEPS, 1, LM_MAX_STEPS, 0, NULL, "N     optimizer steps (default: ~3 passes over the data, 200..5000)"},
    {"lr", 0, OPT_F32, O(lr), LM_SET_LR, 1e-9, 10, 0, NULL, "F        peak learning rate (default 1e-3)"},
    {"min-lr", 0, OPT_F32, O(min_lr), LM_SET_MIN_LR, 0, 10, 0, NULL, "F    learning rate at the end of the cosine decay (default lr/10)"},
    {"warmup", 0, OPT_I64, O(warmup), LM_SET_WARMUP, 0, 1e12, 0, NULL, "N    linear warm-up steps (default min(100, steps/20))"},
    {"weight-decay", 0, OPT_F32, O(weight_decay), LM_SET_WD, 0, 10, 0, NULL, "F AdamW decoupled weight decay, not on norms (default 0.1)"},
    {"beta1", 0, OPT_F32, O(beta1), LM_SET_BETA1, 0, 0.999999, 0, NULL, "F     AdamW beta1 (default 0.9)"},
    {"beta2", 0, OPT_F32, O(beta2), LM_SET_BETA2, 0, 0.999999, 0, NULL, "F     AdamW beta2 (default 0.99)"},
    {"clip", 0, OPT_F32, O(clip), LM_SET_CLIP, 0, 1e9, 0, NULL, "F      clip the global gradient norm to F; 0 = off (default 1.0)"},
    {"seed", 0, OPT_I64, O(seed), LM_SET_SEED, 0, 9.2e18, 0, NULL, "N      random seed for weights and batches (default 1337)"},
    {"threads", 0, OPT_INT, O(threads), LM_SET_THREADS, 1, 1024, 0, NULL, "N   threads (default: all cores)"},
    {"val-split", 0, OPT_F32, O(val_frac), LM_SET_VAL_SPLIT, 0, 0.9, 0, NULL, "F share of the data (its end) held out for validation (default 0.1)"},
    {"eval-every", 0, OPT_I64, O(eval_every), 0, 0, 1e12, 0, NULL, "N validation loss every N steps; 0 = at the end only (default 250)"},
    {"eval-iters", 0, OPT_INT, O(eval_iters), LM_SET_EVAL_ITERS, 1, 1e6, 0, NULL, "N batches per validation estimate (default 50)"},
    {"save-every", 0, OPT_I64, O(save_every), 0, 0, 1e12, 0, NULL, "N checkpoint and model.gguf every N steps; 0 = at the end (default 500)"},
    {"log-every", 0, OPT_I64, O(log_every), 0, 0, 1e12, 0, NULL, "N  a metrics line every N steps (default 10)"},
    {"time-limit", 0, OPT_F64, O(time_limit_s), 0, 0, 1e9, 0, NULL, "MIN stop (and save) after MIN minutes of training (default: none)"},
    {"resume", 0, OPT_FLAG, O(resume), 0, 0, 0, 1, NULL, "      continue from DIR/checkpoint.bin exactly where it stopped"},
    {"overwrite", 0, OPT_FLAG, O(overwrite), 0, 0, 0, 1, NULL, "   start afresh in a DIR that holds a run (it is replaced)"},
    {"progress", 0, OPT_CHOICE, O(progress), 0, 0, 0, 0, "plain|bar|auto", "MODE auto, bar or plain (default auto: a bar on a terminal)"},
    {"quiet", 0, OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "       print errors only"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f,
            "usage: loom train --data PATH --out DIR [flags] [--config FILE]\n"
            "\n"
            "Trains a Llama-style transformer on bytes of text. Sizes left unset are chosen from the\n"
            "corpus and the machine, and printed at the start. --config reads a JSON object whose keys\n"
            "are these flag names (\"layers\": 4, \"tied\": true); flags on the command line win.\n"
            "\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS, .allow_config = 1};
    lm_args_print(&a, f);
    fprintf(f,
            "\n"
            "\n"
            "Source code (--code): the tree is walked in name order; kept are files whose extension is\n"
            "listed, skipped are hidden files and folders, whatever a .gitignore in the tree excludes,\n"
            "binary files, generated ones (*_pb2.py, *.min.js, \"generated\" or \"DO NOT EDIT\" in the first\n"
            "lines, minified lines) and files over --max-file-kb. Each kept file is one document,\n"
            "  # path: REL/PATH.py\n"
            "  <the file>\n"
            "(the same first line for every language: it tells the model the file's name and language),\n"
            "documents separated by <|endoftext|>.\n"
            "\n"
            "Fill-in-the-middle (Bavarian et al. 2022, arXiv:2207.14255): a share --fim-rate of the\n"
            "training documents is cut at two random character positions into prefix, middle and suffix\n"
            "and trained as\n"
            "  PSM  <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle <|endoftext|>\n"
            "  SPM  <|fim_prefix|> <|fim_suffix|> suffix <|fim_middle|> prefix middle <|endoftext|>\n"
            "with a code file's path line kept in front. The cuts follow from --seed, so --resume sees the\n"
            "same tokens; the held-out share (counted in bytes) stays left to right. Needs --tokenizer bpe.\n"
            "\n"
            "examples:\n"
            "  loom train --data /usr/share/games/fortunes --out runs/fortunes --steps 1000\n"
            "  loom train --data ~/src/project --code --out runs/code --time-limit 30\n");
}

int lm_cmd_train(int argc, char **argv) {
    lm_train_opts o;
    lm_train_defaults(&o);
    o.progress = 2; /* "auto", as an index into "plain|bar|auto" */
    lm_args a = {.cmd = "train", .opts = OPTS, .n_opts = N_OPTS, .base = &o, .allow_config = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) {
        lm_args_free(&a);
        return rc < 0 ? 0 : rc;
    }
    if (o.progress == 2) o.progress = -1;
    o.time_limit_s *= 60.0; /* the flag is in minutes */
    if (!o.data || !o.out) {
        fprintf(stderr, "loom train: %s is required (example: loom train --data corpus.txt --out runs/first)\n",
                !o.data ? "--data PATH" : "--out DIR");
        lm_args_free(&a);
        return 2;
    }
    unsigned set = a.set;
    if ((set & LM_SET_HEADS) && !(set & LM_SET_KV_HEADS)) o.model.kv_heads = o.model.heads;
    lm_train_result res;
    lm_error err = {0};
    if (lm_train(&o, set, &res, &err) != LOOM_OK) {
        rc = lm_cli_report("train", &err);
    }
    lm_args_free(&a);
    return rc;
}
