// Package enginemetrics scrapes an engine's Prometheus /metrics for the
// few series the benchmark records (speculative-decoding counters), with a
// timeout and bounds on bytes and line length: the engine is the vendor's
// code and its /metrics body is hostile input.
//
//   - names.go: the table of frameworks and the metric names read from each.
//   - scrape.go: Scrape (HTTP GET, no redirects, bounded) and Parse: only
//     the wanted names' lines go on to prometheus/common/expfmt's text
//     parser; each name is summed over its label sets.
package enginemetrics
