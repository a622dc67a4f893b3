#!/usr/bin/env node
// selftest.mjs - check the harness (llama.mjs) against the llama.cpp reference data in
// shared/testdata/gguf: tokenize, logits (as log-softmax) and greedy, for each tiny model.
//
//   node selftest.mjs [TESTDATA_DIR] [--threads N]
//
// Exit 0 when all pass, 1 when one fails, 77 when the test data is missing.
// Prints one line per check and a closing "N passed, N failed" line.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let threads = "2";
const ti = args.indexOf("--threads");
if (ti >= 0) { threads = args[ti + 1]; args.splice(ti, 2); }
const dir = path.resolve(args[0] ?? path.join(HERE, "../../../shared/testdata/gguf"));
if (!fs.existsSync(path.join(dir, "tiny_llama.gguf"))) {
    console.log(`SKIP: test data not found in ${dir}`);
    process.exit(77);
}

// Tolerance on log-softmax values. The reference is llama.cpp itself (another build of a
// different commit), so agreement is expected to be close to float32 rounding.
const TOL = 1e-4;
const TEXT = "Hello, GGUF test";

const run = (...a) => JSON.parse(execFileSync(process.execPath, [path.join(HERE, "llama.mjs"), ...a, "--threads", threads],
    { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "inherit"] }));

function logSoftmax(row) {
    let m = -Infinity;
    for (const v of row) if (v > m) m = v;
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    return row.map((v) => v - lse);
}
const argmaxOf = (row) => row.reduce((bi, v, i) => (v > row[bi] ? i : bi), 0);

let passed = 0, failed = 0;
function check(name, ok, detail) {
    console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`);
    if (ok) passed++; else failed++;
}

for (const m of ["tiny_llama", "tiny_gpt2", "tiny_llama.q8_0"]) {
    const model = path.join(dir, `${m}.gguf`);
    if (!fs.existsSync(model)) continue;
    for (const suffix of ["", ".ctx128"]) {
        const refFile = path.join(dir, `${m}${suffix}.logits.json`);
        if (!fs.existsSync(refFile)) continue;
        const ref = JSON.parse(fs.readFileSync(refFile, "utf8"));
        const ids = ref.tokens;
        const tag = `${m}${suffix} (${ids.length} tokens)`;

        if (suffix === "") {
            const tok = run("tokenize", "--model", model, "--text", TEXT);
            check(`${m} tokenize`, JSON.stringify(tok) === JSON.stringify(ids), JSON.stringify(tok));
        }

        const out = run("logits", "--model", model, "--ids", ids.join(","));
        let maxd = 0, argmaxOk = true;
        for (let p = 0; p < ids.length; p++) {
            const lp = logSoftmax(ref.logits[p]);
            for (let t = 0; t < lp.length; t++) {
                const got = out.logprobs[p][t];
                const d = got == null ? Infinity : Math.abs(got - lp[t]);
                if (d > maxd) maxd = d;
            }
            if (out.argmax[p] !== argmaxOf(ref.logits[p])) argmaxOk = false;
        }
        check(`${tag} logprobs`, maxd <= TOL && argmaxOk,
            `max|d log_softmax| = ${maxd.toExponential(2)} (tol ${TOL}); argmax ${argmaxOk ? "equal" : "DIFFERS"} at every position`);

        if (suffix === "") {
            // greedy: the first generated token is the argmax at the last prompt position, and
            // the whole continuation agrees with a batch `logits` run over prompt + continuation.
            const n = 8;
            const g = run("greedy", "--model", model, "--ids", ids.join(","), "-n", String(n)).ids;
            const all = ids.concat(g);
            const chk = run("logits", "--model", model, "--ids", all.join(","));
            const expect = chk.argmax.slice(ids.length - 1, ids.length - 1 + n);
            const ok = g.length === n && g[0] === argmaxOf(ref.logits[ids.length - 1]) && JSON.stringify(expect) === JSON.stringify(g);
            check(`${m} greedy`, ok, `continuation ${JSON.stringify(g)}; batch argmax ${JSON.stringify(expect)}`);
        }
    }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
