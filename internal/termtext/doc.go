// Package termtext renders untrusted text for a terminal or a text report:
// job reasons (which carry engine log tails), vendor, name and spec strings,
// event messages and verdict reasons. Such text may hold escape sequences
// (ESC, BEL, CSI as C1 0x9b, OSC 8 links, title changes) or bidi overrides
// that make a line read differently from what it holds; Escape shows each of
// them as a visible escape (\x1b, \u202e) instead. JSON output needs none of
// this: encoding/json escapes what it must.
//
//	escape.go       Escape (one line), Lines (keeps newlines), JSON
//	escape_test.go  the cases, and FuzzEscape with its seed corpus
package termtext
