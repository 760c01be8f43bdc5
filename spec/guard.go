package spec

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/goccy/go-yaml/scanner"
	"github.com/goccy/go-yaml/token"
)

// Limits on what Parse reads. A submission is a small document (a few hundred
// YAML tokens); these bound the time and memory that a hostile one can cost
// before and while it is parsed. The YAML library's parser is quadratic in
// nesting depth and in the size of one mapping, so both are capped before it
// runs.
const (
	// MaxFileSize is the largest document accepted, in bytes (1 MiB).
	MaxFileSize = 1 << 20
	// MaxTokens is the most YAML tokens a document may hold.
	MaxTokens = 10000
	// MaxDepth is the deepest nesting of block or of flow collections.
	MaxDepth = 64
	// MaxAliasExpansion is how many nodes aliases may add to a document once
	// expanded; it refuses alias ("billion laughs") bombs before decoding.
	MaxAliasExpansion = 10000

	// maxRawUnits bounds, from the raw bytes, how many tokens the lexer can
	// produce (each token starts at an indicator or after one, or after
	// whitespace), so that the lexer never allocates for a million tokens.
	maxRawUnits = 100000
)

// checkRaw looks at the bytes before any YAML is read: size, encoding,
// control characters and a cheap bound on the token count. It returns the
// bytes to parse (without a UTF-8 byte order mark) and at most one problem.
func checkRaw(file string, data []byte) ([]byte, *Problem) {
	if len(data) > MaxFileSize {
		return nil, &Problem{File: file, Line: 1, Col: 1, kind: ErrTooLarge,
			Message: fmt.Sprintf("file is %d bytes; the limit is %d (1 MiB)", len(data), MaxFileSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	line, col, units := 1, 1, 0
	inWord := false
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, &Problem{File: file, Line: line, Col: col,
				Message: fmt.Sprintf("file is not valid UTF-8 (byte 0x%02x); save it as UTF-8", data[i])}
		}
		if forbiddenRune(r) {
			return nil, &Problem{File: file, Line: line, Col: col,
				Message: fmt.Sprintf("control character %U is not allowed (is the file UTF-16 or binary?)", r)}
		}
		switch {
		case r == '\n':
			line, col, inWord = line+1, 1, false
		case r == ' ' || r == '\t' || r == '\r':
			col++
			inWord = false
		default:
			if !inWord || isIndicator(r) {
				units++
			}
			inWord = true
			col++
		}
		i += size
	}
	if units > maxRawUnits {
		return nil, &Problem{File: file, Line: 1, Col: 1,
			Message: fmt.Sprintf("document is too complex: about %d YAML tokens, the limit is %d (a submission has a few hundred)", units, MaxTokens)}
	}
	return data, nil
}

// forbiddenRune reports characters YAML does not allow in a document: C0 and
// C1 controls other than tab, newline, carriage return and NEL.
func forbiddenRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return false
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0xfffe || r == 0xffff:
		return true
	}
	return false
}

func isIndicator(r rune) bool {
	switch r {
	case '[', ']', '{', '}', ',', ':', '?', '-', '&', '*', '!', '|', '>', '\'', '"', '#', '%', '@', '`':
		return true
	}
	return false
}

// tokenize lexes src and checks the token stream against MaxTokens and
// MaxDepth, so that the parser never sees a document it would be slow on.
func tokenize(file string, src []byte) (tks token.Tokens, p *Problem) {
	defer func() {
		if r := recover(); r != nil { // hostile input must not take down the intake server
			tks, p = nil, &Problem{File: file, Line: 1, Col: 1, Message: fmt.Sprintf("syntax error: the YAML lexer failed on this input: %v", r)}
		}
	}()
	var s scanner.Scanner
	s.Init(string(src))
	for {
		sub, err := s.Scan()
		if err == io.EOF {
			break
		}
		tks.Add(sub...)
		if err != nil {
			break // the invalid token is in sub; the parser reports it
		}
	}
	if len(tks) > MaxTokens {
		return nil, &Problem{File: file, Line: 1, Col: 1,
			Message: fmt.Sprintf("document is too complex: %d YAML tokens, the limit is %d (a submission has a few hundred)", len(tks), MaxTokens)}
	}
	if tk := tooDeep(tks); tk != nil {
		return nil, &Problem{File: file, Line: tk.Position.Line, Col: tk.Position.Column,
			Message: fmt.Sprintf("document nests deeper than %d levels", MaxDepth)}
	}
	return tks, nil
}

// tooDeep returns the token at which flow or block nesting exceeds MaxDepth,
// or nil. Block depth is estimated from the columns of the tokens that start
// a block entry (sequence entries, explicit keys and mapping keys): nested
// block collections start at increasing columns.
func tooDeep(tks token.Tokens) *token.Token {
	flow := 0
	var cols []int // columns of the enclosing block entries, increasing
	push := func(c int) bool {
		for len(cols) > 0 && cols[len(cols)-1] >= c {
			cols = cols[:len(cols)-1]
		}
		cols = append(cols, c)
		return len(cols) > MaxDepth
	}
	for i, tk := range tks {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
			if flow > MaxDepth {
				return tk
			}
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.SequenceEntryType, token.MappingKeyType:
			if flow == 0 && push(tk.Position.Column) {
				return tk
			}
		case token.MappingValueType:
			if flow == 0 && i > 0 && push(tks[i-1].Position.Column) {
				return tk
			}
		case token.DocumentHeaderType:
			flow, cols = 0, cols[:0]
		}
	}
	return nil
}
