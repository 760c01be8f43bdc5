// Package report turns a bench run's output directory, or a bundle
// directory, into files a person reads: report.md (tables per tier and per
// probe: TTFT, inter-token latency, end-to-end latency and decode rate at
// p50/p90/p99, requests, errors, validity), report.html (the same tables
// and charts, self-contained: the data inline, uPlot embedded from
// internal/uplot) and requests.csv (one row per request record). A
// bundle's report also shows each tier's energy (average power, Agents/MW,
// J/token) from its summary.json, labelled as the runner's claim: the
// report recomputes no energy; `agentwatt verify` does.
//
//   - load.go: Load reads probes.json (bundle.DecodeProbes), summary.json
//     (the bench's replay.Summary or a bundle's bundle.Summary) and streams
//     requests.jsonl.zst once, into metrics.RequestStatsAccumulator per
//     probe window and, when asked, the CSV.
//   - csv.go: requests.csv, with spreadsheet formulas in server-supplied
//     text neutralised.
//   - markdown.go, html.go: the two renderings; every string from the run
//     (model, workload, reasons, error texts) is escaped for its format.
//   - write.go: Write, every file under a temporary name and renamed.
//
// Every number is computed by package metrics; the report judges nothing.
package report
