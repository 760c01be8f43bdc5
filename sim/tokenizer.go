package sim

import (
	"unicode"
	"unicode/utf8"
)

// The simulated tokenizer.
//
// A token is a maximal run of non-whitespace characters, where whitespace is
// what unicode.IsSpace says (the same split as strings.Fields). Punctuation is
// not split off: "x=1;" is one token. So CountTokens(s) == len(strings.Fields(s))
// for every string, and text made of single-space-separated words — the
// workload's synthesised blocks — has exactly one token per word.
//
// A prompt is the chat template (ChatML-like) applied to the messages:
//
//	<|bos|>
//	for each message:   <|im_start|> ROLE  CONTENT...  [<|tool_call|> NAME ARGS...]...  <|im_end|>
//	generation prompt:  <|im_start|> assistant
//
// Each <|…|> marker and the role are one token. CONTENT is the message's
// string content, or its text parts tokenized one after the other (a word split
// across two parts counts twice). Each tool call in an assistant message adds
// one marker token plus the tokens of its function name and of its arguments
// string. tool_call_id and name fields are not tokenized. Hence:
//
//	PromptTokens = TemplateTokensPerRequest
//	             + Σ messages (TemplateTokensPerMessage + tokens(content)
//	                           + Σ tool calls (TemplateTokensPerToolCall + tokens(name) + tokens(arguments)))
//
// The token sequence above is also what the prefix cache hashes, so a
// conversation that grows by appending messages keeps its earlier blocks.
const (
	// TemplateTokensPerRequest counts <|bos|> and the generation prompt
	// "<|im_start|> assistant".
	TemplateTokensPerRequest = 3
	// TemplateTokensPerMessage counts <|im_start|>, the role and <|im_end|>.
	TemplateTokensPerMessage = 3
	// TemplateTokensPerToolCall counts the <|tool_call|> marker.
	TemplateTokensPerToolCall = 1
)

// asciiSpace marks the ASCII bytes unicode.IsSpace accepts.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// forEachTokenIndex calls fn with the byte offsets of each token of s.
func forEachTokenIndex(s string, fn func(start, end int)) {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		var space bool
		size := 1
		if c < utf8.RuneSelf {
			space = asciiSpace[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
		}
		if space {
			if start >= 0 {
				fn(start, i)
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		fn(start, len(s))
	}
}

// forEachToken calls fn with each token of s, in order.
func forEachToken(s string, fn func(tok string)) {
	forEachTokenIndex(s, func(start, end int) { fn(s[start:end]) })
}

// CountTokens returns the number of simulated tokens in s
// (len(strings.Fields(s)), without allocating).
func CountTokens(s string) int {
	n := 0
	inTok := false
	for i := 0; i < len(s); {
		c := s[i]
		var space bool
		size := 1
		if c < utf8.RuneSelf {
			space = asciiSpace[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
		}
		if space {
			inTok = false
		} else if !inTok {
			inTok = true
			n++
		}
		i += size
	}
	return n
}

// IsOneToken reports whether word is exactly one simulated token: non-empty
// and without whitespace. Word lists used to synthesise prompt text should
// satisfy it for every word.
func IsOneToken(word string) bool { return CountTokens(word) == 1 && !hasSpace(word) }

func hasSpace(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) {
			return true
		}
	}
	return false
}

// PromptTokens returns the number of prompt tokens the sim counts for msgs
// (template included). It is what usage.prompt_tokens reports, so a verifier
// can recompute prompt-token targets without running the server.
func PromptTokens(msgs []Message) int {
	n := TemplateTokensPerRequest
	for i := range msgs {
		n += messageTokens(&msgs[i])
	}
	return n
}

func messageTokens(m *Message) int {
	n := TemplateTokensPerMessage + CountTokens(m.Content)
	for _, p := range m.Parts {
		n += CountTokens(p.Text)
	}
	for _, tc := range m.ToolCalls {
		n += TemplateTokensPerToolCall + CountTokens(tc.Function.Name) + CountTokens(tc.Function.Arguments)
	}
	return n
}

// Template marker tokens as they enter the prefix-cache hash. They contain
// characters no whitespace-split word of user text is likely to match, and
// even then a collision only changes cache hits, never counts.
const (
	tokBOS      = "<|bos|>"
	tokStart    = "<|im_start|>"
	tokEnd      = "<|im_end|>"
	tokToolCall = "<|tool_call|>"
	roleAsst    = "assistant"
)

// promptHasher walks the templated token sequence of a prompt, counts its
// tokens and records a hash for every full block of blockSize tokens. The hash
// is FNV-1a (64 bit) over the token bytes, each token followed by a 0xff
// separator, running from the first token of the prompt (seeded by the cache
// salt); the hash of block i is the running state at the block's last token,
// finalised with SplitMix64. It therefore commits to the block's content and
// to every block before it — the same chaining vLLM's prefix cache uses.
type promptHasher struct {
	blockSize int
	h         uint64
	inBlock   int
	tokens    int
	hashes    []uint64
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newPromptHasher(blockSize int, salt string) *promptHasher {
	p := &promptHasher{blockSize: blockSize, h: fnvOffset}
	if salt != "" {
		p.bytes(salt)
		p.h ^= 0xfe
		p.h *= fnvPrime
	}
	return p
}

func (p *promptHasher) bytes(s string) {
	h := p.h
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	p.h = h
}

func (p *promptHasher) token(tok string) {
	p.bytes(tok)
	p.h ^= 0xff
	p.h *= fnvPrime
	p.tokens++
	p.inBlock++
	if p.inBlock == p.blockSize {
		p.hashes = append(p.hashes, splitmix64(p.h))
		p.inBlock = 0
	}
}

func (p *promptHasher) text(s string) { forEachToken(s, p.token) }

// hashPrompt returns the prompt's token count, its full-block hashes and a
// hash of the whole prompt.
func hashPrompt(msgs []Message, blockSize int, salt string) (tokens int, hashes []uint64, whole uint64) {
	p := newPromptHasher(blockSize, salt)
	p.token(tokBOS)
	for i := range msgs {
		m := &msgs[i]
		p.token(tokStart)
		p.token(m.Role)
		p.text(m.Content)
		for _, part := range m.Parts {
			p.text(part.Text)
		}
		for _, tc := range m.ToolCalls {
			p.token(tokToolCall)
			p.text(tc.Function.Name)
			p.text(tc.Function.Arguments)
		}
		p.token(tokEnd)
	}
	p.token(tokStart)
	p.token(roleAsst)
	return p.tokens, p.hashes, splitmix64(p.h)
}
