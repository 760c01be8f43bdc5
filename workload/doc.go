// Package workload owns the canonical workload: what a benchmark replays.
//
// A workload is a Header (name, the sources it was built from with their
// licences and block sizes, the tool that built it, a synthesis seed) and a
// sequence of Trajectories. A trajectory is an ordered list of Turns and may
// hold sub-agent trajectories that start at a recorded offset. A turn's input
// is a list of Segments — literal chat messages, or runs of hashed token
// blocks whose text is synthesised deterministically (BlockText): slices of
// real Go source and its comments, split into pieces that are one token each
// in common BPE vocabularies (filler/README.md). Session salts use a fixed
// word list (Words).
//
// On disk a workload is JSONL compressed with zstd (.jsonl.zst): a header line
// and one trajectory per line, turns delta-encoded against the previous turn
// (Keep). Reader streams it with limits on line length, size and nesting;
// Writer and WriteFile produce it, WriteFile through a temporary name and a
// rename. A workload is named by the sha256 of its uncompressed bytes
// (Digest) and referred to as "name@sha256:…" (Ref).
//
// Registry stores workloads in object storage by digest, resolves names to
// the digest "latest" points at, and caches downloads locally, verified. The
// built-in workloads (Builtins: the agentic-coding corpus, its 256K cut, the
// small default DefaultName, chat-mooncake; builtin.go) are embedded in the
// binary. CapContext cuts a trajectory to a context cap, which
// Header.MaxContext records.
//
// The format is specified in docs/workload-format.md.
package workload
