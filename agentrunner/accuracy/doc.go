// Package accuracy runs the runner's accuracy phase: before any
// performance probe, a fixed subset of GSM8K's test split (the first
// accuracy_questions of the rules profile), asked greedily, one chat
// completion each, with every output recorded in accuracy.jsonl. Scoring
// (answer extraction and comparison) is metrics.GSM8KCorrect, which the
// verifier shares; the runner's score is a claim the verifier recomputes.
//
// The data set is embedded: data/gsm8k/test.jsonl from openai/grade-school-math
// (MIT, data/gsm8k/LICENSE; see docs/data-credits.md).
package accuracy
