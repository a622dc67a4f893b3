#!/usr/bin/env node
// llama.mjs - run llama.cpp (the prebuilt CPU binary shipped in the npm package
// node-llama-cpp@3.21.1) on a GGUF file, for loom's agreement tests and `make bench`.
//
//   node llama.mjs tokenize --model F --text STR           -> [ids...]
//   node llama.mjs greedy   --model F --ids 1,2,3 -n N     -> {"ids":[...]}
//   node llama.mjs logits   --model F --ids 1,2,3          -> {"logprobs":[[...]], ...}
//   node llama.mjs bench    --model F --prompt-tokens P --gen N [--depth D] [--reps R]
//   node llama.mjs info     --model F                      -> settings and model facts
//
// Common options: --threads N (default 2), --verbose (llama.cpp warnings to stderr).
// Only JSON goes to stdout; everything else goes to stderr. Run ./ensure.sh first.
// See README.md beside this file for the settings and why they were chosen.

import path from "node:path";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";

// Never fetch or build llama.cpp: only the prebuilt binary from
// @node-llama-cpp/linux-x64 may be used. (Read by node-llama-cpp at import time.)
process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";
process.env.NODE_LLAMA_CPP_GPU = "false";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: node llama.mjs <command> --model FILE [options]
commands:
  tokenize --text STR [--bos auto|yes|no]     print token ids as a JSON array
  greedy   --ids 1,2,3 -n N [--stop-eog]      greedy (argmax) continuation: {"ids":[...]}
  logits   --ids 1,2,3 [--what logprobs|probs] [--last K]
                                               per-position log-softmax (or softmax) of the logits
  bench    --prompt-tokens P --gen N [--depth D] [--reps R] [--batch B]
  info                                         model facts and context settings
common: --threads N (default 2)  --ctx N (context size; default: what is needed)  --verbose`;

function die(msg, code = 2) {
    process.stderr.write(`llama.mjs: ${msg}\n`);
    process.exit(code);
}

function parseArgs(argv) {
    const cmd = argv[0];
    const opts = {};
    for (let i = 1; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--verbose" || a === "--stop-eog") { opts[a.slice(2)] = true; continue; }
        let key;
        if (a === "-n") key = "n";
        else if (a.startsWith("--")) key = a.slice(2);
        else die(`unexpected argument '${a}'\n${USAGE}`);
        let val;
        const eq = key.indexOf("=");
        if (eq >= 0) { val = key.slice(eq + 1); key = key.slice(0, eq); }
        else {
            if (i + 1 >= argv.length) die(`missing value for ${a}`);
            val = argv[++i];
        }
        opts[key] = val;
    }
    return { cmd, opts };
}

function intOpt(opts, key, dflt, min = 0) {
    if (opts[key] == null) {
        if (dflt === undefined) die(`--${key} is required\n${USAGE}`);
        return dflt;
    }
    const v = Number(opts[key]);
    if (!Number.isInteger(v) || v < min) die(`--${key} must be an integer >= ${min}, got '${opts[key]}'`);
    return v;
}

function parseIds(s) {
    if (s == null) die(`--ids is required\n${USAGE}`);
    const t = String(s).trim().replace(/^\[|\]$/g, "");
    if (t === "") die("--ids is empty");
    return t.split(/[\s,]+/).filter((x) => x !== "").map((x) => {
        const v = Number(x);
        if (!Number.isInteger(v) || v < 0) die(`bad token id '${x}'`);
        return v;
    });
}

// Write JSON to stdout and wait until it is flushed (outputs can be large, stdout may be a pipe).
function emit(obj) {
    return new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + "\n", resolve));
}

// Round a float32-derived double to 9 significant digits (enough to round-trip a float32).
const f9 = (x) => (Number.isFinite(x) ? Number(x.toPrecision(9)) : null);

const { cmd, opts } = parseArgs(process.argv.slice(2));
if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    process.stdout.write(USAGE + "\n");
    process.exit(cmd ? 0 : 2);
}
if (!["tokenize", "greedy", "logits", "bench", "info"].includes(cmd)) die(`unknown command '${cmd}'\n${USAGE}`);
if (!opts.model) die(`--model is required\n${USAGE}`);
const modelPath = path.resolve(opts.model);
if (!fs.existsSync(modelPath)) die(`model not found: ${modelPath}`, 1);
const threads = intOpt(opts, "threads", 2, 1);

let nlc;
try {
    nlc = await import("node-llama-cpp");
} catch (e) {
    die(`cannot load node-llama-cpp (run ${path.join(HERE, "ensure.sh")} first): ${e.message}`, 1);
}
const { getLlama, LlamaLogLevel, GgmlType } = nlc;

const llama = await getLlama({
    gpu: false,                 // CPU only: the prebuilt CPU binary
    build: "never",             // never compile llama.cpp from source
    usePrebuiltBinaries: true,
    skipDownload: true,         // never download llama.cpp sources
    progressLogs: false,
    maxThreads: 0,              // no cap: the context's `threads` is used as given
    logLevel: opts.verbose ? LlamaLogLevel.info : LlamaLogLevel.error,
    logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message}${message.endsWith("\n") ? "" : "\n"}`),
});

const model = await llama.loadModel({ modelPath, gpuLayers: 0 });

function vocabSize() {
    const md = model.fileInfo?.metadata;
    const n = model.fileInfo?.architectureMetadata?.vocab_size ?? md?.tokenizer?.ggml?.tokens?.length;
    return Number.isInteger(n) && n > 0 ? n : null;
}

// A context with the settings of the reference oracle (see README.md):
// F32 K and V cache, flash attention off, one batch (n_batch = n_ubatch) big enough for
// the whole prompt, exactly `threads` threads, no automatic shrinking.
async function makeContext(need, batch) {
    const contextSize = Math.max(intOpt(opts, "ctx", 0, 0), need, 1);
    return model.createContext({
        contextSize,
        batchSize: Math.max(1, Math.min(batch, contextSize)),
        sequences: 1,
        flashAttention: false,
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
        threads: { ideal: threads, min: threads },
        failedCreationRemedy: false,
        ignoreMemorySafetyChecks: true,
    });
}

function tokenize(text, bosMode) {
    const ids = model.tokenize(text, false); // llama_tokenize(add_special=false, parse_special=false)
    const addBos = bosMode === "yes" || (bosMode === "auto" && model.tokens.shouldPrependBosToken);
    const addEos = bosMode === "auto" && model.tokens.shouldAppendEosToken;
    if (addBos) {
        const bos = model._model.tokenBos();
        if (bos == null || bos < 0) die("model asks for a BOS token but has none", 1);
        ids.unshift(bos);
    }
    if (addEos) {
        const eos = model._model.tokenEos();
        if (eos != null && eos >= 0) ids.push(eos);
    }
    return ids;
}

function checkIds(ids) {
    const nv = vocabSize();
    if (nv != null) for (const t of ids) if (t >= nv) die(`token id ${t} out of range (n_vocab ${nv})`);
}

// One greedy sampling config: temperature 0 => node-llama-cpp builds a sampler chain with
// only llama.cpp's greedy (argmax) sampler; no repeat/DRY penalty, no token bias.
const GREEDY = { temperature: 0 };

async function doGreedy(ctx, ids, n, stopEog) {
    const seq = ctx.getSequence();
    const out = [];
    if (n > 0) {
        for await (const tok of seq.evaluate(ids, { ...GREEDY, yieldEogToken: !stopEog })) {
            out.push(tok);
            if (out.length >= n) break;
        }
    }
    return { seq, out };
}

let result;
try {
    if (cmd === "info") {
        const ctx = await makeContext(intOpt(opts, "ctx", 0, 0) || 1, 1);
        result = {
            model: modelPath,
            llama_cpp_release: llama.llamaCppRelease,
            node_llama_cpp: JSON.parse(fs.readFileSync(path.join(HERE, "node_modules/node-llama-cpp/package.json"), "utf8")).version,
            build_type: llama.buildType,
            gpu: llama.gpu,
            system_info: llama.systemInfo,
            n_vocab: vocabSize(),
            n_ctx_train: model.trainContextSize,
            vocabulary_type: model.vocabularyType,
            add_bos_token: model.tokens.shouldPrependBosToken,
            add_eos_token: model.tokens.shouldAppendEosToken,
            type: model.typeDescription,
            context: {
                n_ctx: ctx.contextSize, n_batch: ctx.batchSize, flash_attention: ctx.flashAttention,
                type_k: GgmlType[ctx.kvCacheKeyType] ?? ctx.kvCacheKeyType, type_v: GgmlType[ctx.kvCacheValueType] ?? ctx.kvCacheValueType,
                threads: ctx.currentThreads,
                note: "llama.cpp rounds n_ctx up to a multiple of 256",
            },
        };
    } else if (cmd === "tokenize") {
        if (opts.text == null) die(`--text is required\n${USAGE}`);
        const bosMode = opts.bos ?? "auto";
        if (!["auto", "yes", "no"].includes(bosMode)) die("--bos must be auto, yes or no");
        result = tokenize(String(opts.text), bosMode);
    } else if (cmd === "greedy") {
        const ids = parseIds(opts.ids);
        const n = intOpt(opts, "n", undefined, 0);
        checkIds(ids);
        const ctx = await makeContext(ids.length + n + 1, ids.length);
        const { out } = await doGreedy(ctx, ids, n, !!opts["stop-eog"]);
        result = { ids: out };
    } else if (cmd === "logits") {
        const ids = parseIds(opts.ids);
        checkIds(ids);
        const what = opts.what ?? "logprobs";
        if (!["logprobs", "probs"].includes(what)) die("--what must be logprobs or probs");
        const ctx = await makeContext(ids.length + 1, ids.length);
        const seq = ctx.getSequence();
        // Every position requests an output; all tokens go to llama_decode as one batch.
        // --last K: only the last K positions (all tokens are still evaluated).
        const last = intOpt(opts, "last", ids.length, 1);
        const first = Math.max(0, ids.length - last);
        const res = await seq.controlledEvaluate(ids.map((t, i) => (i < first ? t
            : [t, { generateNext: { probabilities: true, token: true, options: GREEDY } }])));
        const rows = [];
        const argmax = [];
        let nv = vocabSize() ?? 0;
        for (let i = first; i < ids.length; i++) {
            const probs = res[i]?.next?.probabilities;
            if (probs == null) die(`no output for position ${i}`, 1);
            nv = Math.max(nv, probs.size);
            const row = new Array(nv).fill(what === "probs" ? 0 : null);
            for (const [tok, p] of probs) row[tok] = what === "probs" ? f9(p) : (p > 0 ? f9(Math.log(p)) : null);
            rows.push(row);
            argmax.push(res[i].next.token);
        }
        result = {
            tokens: ids,
            first_position: first,
            n_vocab: nv,
            kind: what === "probs" ? "softmax(logits) as float32" : "log(softmax(logits)) = logits - logsumexp(logits); null where the float32 probability underflowed to 0",
            [what]: rows,
            argmax,
        };
    } else if (cmd === "bench") {
        const P = intOpt(opts, "prompt-tokens", undefined, 0);
        const N = intOpt(opts, "gen", undefined, 0);
        const D = intOpt(opts, "depth", 0, 0);
        const reps = intOpt(opts, "reps", 3, 1);
        const nv = vocabSize();
        if (nv == null) die("cannot tell n_vocab from the model's metadata", 1);
        // Same deterministic ids as the testdata: id_i = (73 i + 11) mod n_vocab.
        const idsAt = (start, count) => Array.from({ length: count }, (_, i) => (73 * (start + i) + 11) % nv);
        const batch = intOpt(opts, "batch", Math.max(P, D, 1), 1);
        const need = D + Math.max(P, N + 1) + 8;
        const ctx = await makeContext(need, batch);
        const seq = ctx.getSequence();
        const now = () => Number(process.hrtime.bigint()) / 1e9;

        const fill = async () => {
            await seq.clearHistory();
            if (D > 0) await seq.evaluateWithoutGeneratingNewTokens(idsAt(0, D));
        };
        // Prompt processing: P tokens in one llama_decode (if batch >= P), output for the last one.
        const pp = async (count) => {
            const ids = idsAt(D, count);
            const t0 = now();
            await seq.controlledEvaluate(ids.map((t, i) => (i === ids.length - 1 ? [t, { generateNext: { token: true, options: GREEDY } }] : t)));
            return now() - t0;
        };
        // Decode: `count` single-token steps, each one llama_decode + greedy pick of the next token.
        const tg = async (count) => {
            const first = idsAt(D, 1);
            let got = 0;
            let t0 = 0;
            // The first step evaluates `first` (one token) and samples; that is decode step 1.
            t0 = now();
            for await (const tok of seq.evaluate(first, { ...GREEDY, yieldEogToken: true })) {
                void tok;
                if (++got >= count) break;
            }
            return now() - t0;
        };

        // Warm-up (not timed): a short prompt and a few decode steps.
        await fill();
        if (P > 0) await pp(Math.min(P, 16));
        await fill();
        if (N > 0) await tg(Math.min(N, 4));

        const loadBefore = os.loadavg()[0];
        const ppTimes = [];
        const tgTimes = [];
        for (let r = 0; r < reps; r++) {
            if (P > 0) { await fill(); ppTimes.push(await pp(P)); }
            if (N > 0) { await fill(); tgTimes.push(await tg(N)); }
        }
        const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
        const best = (a) => Math.min(...a);
        result = {
            model: modelPath,
            threads: ctx.currentThreads,
            prompt_tokens: P,
            gen: N,
            depth: D,
            reps,
            n_ctx: ctx.contextSize,
            n_batch: ctx.batchSize,
            prompt_tokens_per_s: P > 0 ? f9(P / mean(ppTimes)) : null,
            prompt_tokens_per_s_best: P > 0 ? f9(P / best(ppTimes)) : null,
            decode_tokens_per_s: N > 0 ? f9(N / mean(tgTimes)) : null,
            decode_tokens_per_s_best: N > 0 ? f9(N / best(tgTimes)) : null,
            decode_ms_per_token: N > 0 ? f9((1000 * mean(tgTimes)) / N) : null,
            // 1-minute load average before the timed runs (this harness not yet counted much):
            // with --threads equal to the core count, any other load ruins the numbers.
            loadavg_1m: f9(loadBefore),
            cores: os.cpus().length,
            prompt_s: ppTimes.map(f9),
            decode_s: tgTimes.map(f9),
        };
    }
} catch (e) {
    process.stderr.write(`llama.mjs: ${cmd} failed: ${e?.stack ?? e}\n`);
    process.exit(1);
}

await emit(result);
await llama.dispose();
process.exit(0);
