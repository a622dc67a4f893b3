#!/usr/bin/env node
// The reference side of loom's tiktoken agreement test: OpenAI's tiktoken (npm "tiktoken", its
// Rust core compiled to WASM) encodes a corpus; loom's test program compares its own ids.
//
//   node tiktoken_ref.cjs expect --enc NAME --out FILE.jsonl [--chunk BYTES] [--whole BYTES] [FILES...]
//       One JSON record per case: {"name", "b64" (the text's UTF-8 bytes), "special" (0: special-
//       token text is plain text, tiktoken's encode_ordinary; 1: every special token is allowed),
//       "ids"}. Cases: the built-in synthetic set below, then each FILE cut into pieces of at most
//       --chunk bytes (default 4096) at line ends, plus the first --whole bytes (default 65536)
//       of each FILE as one case. Files that are not valid UTF-8 are skipped (named on stderr).
//   node tiktoken_ref.cjs hf-json --enc NAME --out tokenizer.json [--merges strings|pairs]
//       The encoding as a Hugging Face tokenizer.json (byte-level BPE), with merges derived from
//       the ranks as Hugging Face's tiktoken converter derives them.
//   node tiktoken_ref.cjs encode --enc NAME [--special] TEXT...
//       Prints the ids of each TEXT (for poking at one case by hand).
"use strict";
const fs = require("fs");
const path = require("path");
const { get_encoding } = require("tiktoken");

function die(msg) {
  process.stderr.write(`tiktoken_ref: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--special") o.special = true;
    else if (a.startsWith("--")) {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      o[a.slice(2)] = argv[++i];
    } else o._.push(a);
  }
  return o;
}

// ------------------------------------------------------------------ a deterministic PRNG
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------ the synthetic cases
const WHITESPACE = [
  "\t", "\n", "\u000b", "\f", "\r", " ", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
  "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
  "\u3000",
  // not White_Space, but often mistaken for it
  "\u180e", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u001c", "\u001f",
];

function synthetic() {
  const cases = [];
  const add = (name, text, special = 0) => cases.push({ name, text, special });

  // every string of length 1..4 over a small alphabet of classes the patterns tell apart
  const alpha = [" ", "\t", "\n", "\r", "a", "1", ".", "\u00a0", "'"];
  let words = [""];
  for (let len = 1; len <= 4; len++) {
    const next = [];
    for (const w of words) for (const c of alpha) next.push(w + c);
    words = next;
    for (const w of words) add(`exhaustive/${len}/${JSON.stringify(w)}`, w);
  }
  // each kind of whitespace, alone and in context
  for (const ws of WHITESPACE) {
    const h = ws.codePointAt(0).toString(16).padStart(4, "0");
    for (const [tag, t] of [
      ["alone", ws], ["twice", ws + ws], ["between", "a" + ws + "b"], ["before-space-word", ws + " word"],
      ["run-then-word", "x" + ws + ws + ws + "y"], ["before-newline", "a" + ws + "\n" + "b"],
      ["after-newline", "a\n" + ws + "b"], ["before-digit", ws + "123"], ["before-punct", ws + "!?"],
      ["end", "end" + ws], ["space-mix", " " + ws + " " + ws + "z"],
    ])
      add(`whitespace/U+${h}/${tag}`, t);
  }
  const fixed = {
    "ws/spaces": ["a  b", "a   b", "    indented", "trailing   ", "   ", "\t\t\tx", " \t \t x", "x \n y", "x  \n\n  y"],
    "ws/newlines": ["a\r\nb", "a\r\n\r\nb", "\r\n", "\n\r", "a\r\rb", "line1\nline2\r\nline3\rline4", "\n\n\n\n",
      " \n \n ", "x\r\n  y", "a\n\n\tb", "}\r\n\r\n\tint x;\r\n", "a \r\n", "\r\n\r\n   \r\n"],
    "digits": ["0", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
      "3.14159265358979323846264338327950288419716939937510", "1,000,000", "2024-01-31", "0x7fffffff",
      "1e-10", "-42", "+1 (555) 010-9999", "v1.2.3", "\u0661\u0662\u0663\u0664", "\uff11\uff12\uff13\uff14",
      "x\u00b2 + y\u00b2", "\u2160\u2161\u216b", "\u00bd \u00be", "\u0967\u0968\u0969", "9".repeat(200),
      "1".repeat(31), "a1b22c333d4444"],
    "contractions": ["don't", "DON'T", "I'm", "I'M", "we'll", "WE'LL", "you're", "YOU'RE", "they've",
      "she'd", "it's", "IT'S", "It'S", "'s", "'S", "'", "''", "'''s", "rock 'n' roll", "o'clock",
      "\u2019s", "don\u2019t", "'\u017f", "'\u212a", "' s", "x'sy", "'ll've", "'LL", "'Re", "'rE"],
    "emoji": ["\u{1F600}", "\u{1F44D}\u{1F3FD}", "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}",
      "\u{1F3F3}\ufe0f\u200d\u{1F308}", "\u{1F1FA}\u{1F1F8}\u{1F1EF}\u{1F1F5}", "1\ufe0f\u20e3", "\u2764\ufe0f",
      "\u{1F9D1}\u{1F3FF}\u200d\u{1F4BB}", "hi \u{1F44B} there", "\u{1F44D}\u{1F3FB}\u{1F44D}\u{1F3FC}\u{1F44D}\u{1F3FE}",
      "\u{1F926}\u{1F3FD}\u200d\u2642\ufe0f", "a\u{1F600}b", " \u{1F600}", "\u{1F600}\n", "\u{1F469}\u200d\u2764\ufe0f\u200d\u{1F48B}\u200d\u{1F468}"],
    "cjk": ["\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u6771\u4eac\u3067\u5bff\u53f8\u3092\u98df\u3079\u307e\u3057\u305f\u3002",
      "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4.",
      "\u{20B9F}\u{2A6D6}", "\u4e2d\u6587 English \u6df7\u5408 123", "\u3000\u5168\u89d2\u7a7a\u767d"],
    "rtl": ["\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
      "\u0627\u0644\u0652\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u064e\u0651\u0629\u064f", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
      "\u0633\u0644\u0627\u0645 123 abc", "\u200f\u0627\u0628\u200e"],
    "marks": ["e\u0301", "cafe\u0301", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0300\u0301",
      "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "n\u0303o", "\u0301", " \u0301", "a\u0301\u0302\u0303\u0304",
      "\u1e9b\u0323", "\u0915\u094d\u0937", "\u0b95\u0bbe\u0bb2\u0bc8"],
    "specials-as-text": ["<|endoftext|>", "<|endoftext", "endoftext|>", "<|fim_prefix|>", "<|fim_middle|>",
      "<|fim_suffix|>", "<|endofprompt|>", "x<|endoftext|>y", "<|endoftext|><|endoftext|>", "<|endoftext|>\n",
      " <|endoftext|> ", "<|im_start|>user", "<|", "|>", "<||>", "<|endoftext|", "<<|endoftext|>>"],
    "code": ["int main(void) { return 0; }", "    def f(self, x):\n        return x ** 2\n", "a->b->c", "x != y && y >= z",
      "#include <stdio.h>\n", "/* comment */", "// line\n", "std::vector<int> v{1, 2, 3};", "$ ls -la | grep foo",
      "http://example.com/path?q=1&r=2#frag", "{\"key\": [1, 2.5, null, true]}", "SELECT * FROM t WHERE id=42;",
      "if(x){y();}else{z();}", "\t\treturn;\n\t}\n}\n", "fn main() -> Result<(), Box<dyn Error>> {"],
    "misc": ["", "a", "Hello, world!", "HELLO WORLD", "hElLo WoRlD", "ALLCAPSWORDS and lower", "\u00c9cole \u00e9t\u00e9",
      "Stra\u00dfe", "\u0130stanbul", "\u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440",
      "\u{1D400}\u{1D401}\u{1D402}", "\ufb01", "\u2126", "\u00ad", "a\u00adb", "\u0000", "a\u0000b", "\u007f", "\u0080\u009f",
      "\ufffd", "\uffff", "\u{10FFFF}", "\u{E0001}", "...", "!!!???", "--- ___ ***", "   !   ", "a.b,c;d:e", "( [ { < > } ] )"],
  };
  for (const [group, list] of Object.entries(fixed)) list.forEach((t, i) => add(`${group}/${i}`, t));

  // the special tokens allowed (special = 1): ids of the tokens themselves
  const sp = ["<|endoftext|>", "a<|endoftext|>b", "<|endoftext|><|endoftext|>", " <|endoftext|>\n", "<|endoftext",
    "<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>", "<|endofprompt|>", "text <|endoftext|> more <|fim_prefix|>"];
  sp.forEach((t, i) => add(`allowed-special/${i}`, t, 1));

  // random strings over a pool of characters of many classes
  const pool = [];
  const range = (a, b) => { for (let c = a; c <= b; c++) pool.push(String.fromCodePoint(c)); };
  range(0x20, 0x7e);
  for (let i = 0; i < 4; i++) pool.push(" ", "e", "t", "a", "\n");
  pool.push(...WHITESPACE, "\r\n", "'s", "'t", "'ll", "<|endoftext|>", "\u{1F600}", "\u{1F3FD}", "\u200d", "\ufe0f");
  range(0xc0, 0xff); range(0x300, 0x30f); range(0x391, 0x3a9); range(0x410, 0x44f); range(0x5d0, 0x5ea);
  range(0x620, 0x64a); range(0x660, 0x669); range(0x900, 0x939); range(0x93e, 0x94d); range(0xe01, 0xe3a);
  range(0x3040, 0x3096); range(0x4e00, 0x4e40); range(0xac00, 0xac20); range(0xff10, 0xff5a);
  range(0x2160, 0x2188); range(0x2070, 0x2079); range(0x1f600, 0x1f64f); range(0x2000, 0x206f);
  range(0x1d400, 0x1d44f); range(0xfb00, 0xfb06); range(0x1c4, 0x1cc); range(0x2b0, 0x2c1);
  const rnd = mulberry32(12345);
  for (let i = 0; i < 3000; i++) {
    const len = 1 + Math.floor(rnd() * (i < 2000 ? 12 : 80));
    let s = "";
    for (let k = 0; k < len; k++) s += pool[Math.floor(rnd() * pool.length)];
    add(`random/${i}`, s);
  }
  return cases;
}

// ------------------------------------------------------------------ files
function fileCases(files, chunk, whole) {
  const cases = [];
  const dec = new TextDecoder("utf-8", { fatal: true });
  for (const f of files) {
    const buf = fs.readFileSync(f);
    let text;
    try {
      text = dec.decode(buf);
    } catch (e) {
      process.stderr.write(`tiktoken_ref: skipping ${f}: not valid UTF-8\n`);
      continue;
    }
    // pieces of at most `chunk` bytes, cut after a newline where possible, never inside a character
    let start = 0, k = 0;
    while (start < buf.length) {
      let end = Math.min(buf.length, start + chunk);
      if (end < buf.length) {
        const nl = buf.lastIndexOf(0x0a, end - 1);
        if (nl >= start) end = nl + 1;
        else while (end > start && (buf[end] & 0xc0) === 0x80) end--;
      }
      cases.push({ name: `${f}#${k++}@${start}`, bytes: buf.subarray(start, end), special: 0 });
      start = end;
    }
    if (buf.length > chunk && whole > 0) {
      let end = Math.min(buf.length, whole);
      while (end < buf.length && end > 0 && (buf[end] & 0xc0) === 0x80) end--;
      cases.push({ name: `${f}#whole`, bytes: buf.subarray(0, end), special: 0 });
    }
  }
  return cases;
}

// ------------------------------------------------------------------ the encoding's data
function encoderData(name) {
  const p = path.join(path.dirname(require.resolve("tiktoken")), "encoders", `${name}.json`);
  const d = JSON.parse(fs.readFileSync(p, "utf8"));
  const ranks = new Map(); // latin1 string of the bytes -> rank
  for (const line of d.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, off, ...toks] = line.split(" ");
    toks.forEach((t, i) => ranks.set(Buffer.from(t, "base64").toString("latin1"), Number(off) + i));
  }
  return { pat: d.pat_str, special: d.special_tokens, ranks };
}

// GPT-2's bytes_to_unicode
function byteSpelling() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const map = new Array(256);
  bs.forEach((b, i) => { map[b] = String.fromCodePoint(cs[i]); });
  return map;
}

// Hugging Face's converter: the split of a token at its own rank (BPE with lower ranks only)
function canonicalSplit(ranks, tok, maxRank) {
  let parts = [...tok];
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(parts[i] + parts[i + 1]);
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best < 0 || bestRank >= maxRank) break;
    parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
  }
  return parts;
}

function hfJson(name, mergeStyle) {
  const { pat, special, ranks } = encoderData(name);
  const spell = byteSpelling();
  const sp = (latin1) => { let s = ""; for (let i = 0; i < latin1.length; i++) s += spell[latin1.charCodeAt(i)]; return s; };
  const vocab = {};
  const merges = [];
  const byRank = [...ranks.entries()].sort((a, b) => a[1] - b[1]);
  for (const [tok, rank] of byRank) {
    vocab[sp(tok)] = rank;
    if (tok.length === 1) continue;
    const parts = canonicalSplit(ranks, tok, rank);
    if (parts.length === 2) merges.push(mergeStyle === "pairs" ? [sp(parts[0]), sp(parts[1])] : `${sp(parts[0])} ${sp(parts[1])}`);
  }
  const added = Object.entries(special).map(([content, id]) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const a of added) vocab[a.content] = a.id;
  // GPT-2's own pattern is ByteLevel's built-in one; others need a Split step
  const pre = pat === "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
    ? { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }
    : { type: "Sequence", pretokenizers: [
        { type: "Split", pattern: { Regex: pat }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] };
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null, pre_tokenizer: pre,
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

// ------------------------------------------------------------------ main
const args = parseArgs(process.argv.slice(2));
const cmd = args._.shift();
if (cmd === "expect") {
  if (!args.enc || !args.out) die("expect needs --enc NAME --out FILE");
  const enc = get_encoding(args.enc);
  const chunk = Number(args.chunk || 4096), whole = Number(args.whole || 65536);
  const all = [...synthetic(), ...fileCases(args._, chunk, whole)];
  const out = fs.openSync(args.out, "w");
  const te = new TextEncoder();
  const td = new TextDecoder("utf-8", { fatal: true });
  let n = 0, bytes = 0;
  for (const c of all) {
    const b = c.bytes || te.encode(c.text);
    const text = c.text !== undefined ? c.text : td.decode(b);
    const ids = c.special ? enc.encode(text, "all") : enc.encode_ordinary(text);
    fs.writeSync(out, JSON.stringify({ name: c.name, b64: Buffer.from(b).toString("base64"), special: c.special,
      ids: Array.from(ids) }) + "\n");
    n++;
    bytes += b.length;
  }
  fs.closeSync(out);
  enc.free();
  process.stderr.write(`tiktoken_ref: ${args.enc}: ${n} cases, ${bytes} bytes -> ${args.out}\n`);
} else if (cmd === "hf-json") {
  if (!args.enc || !args.out) die("hf-json needs --enc NAME --out FILE");
  const j = hfJson(args.enc, args.merges || "strings");
  fs.writeFileSync(args.out, JSON.stringify(j));
  process.stderr.write(`tiktoken_ref: ${args.enc}: ${Object.keys(j.model.vocab).length} vocab entries, ` +
    `${j.model.merges.length} merges -> ${args.out}\n`);
} else if (cmd === "encode") {
  const enc = get_encoding(args.enc || "cl100k_base");
  for (const t of args._) console.log(JSON.stringify(Array.from(args.special ? enc.encode(t, "all") : enc.encode_ordinary(t))));
  enc.free();
} else {
  die("usage: tiktoken_ref.cjs expect|hf-json|encode ... (see the top of this file)");
}
