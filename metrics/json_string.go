package metrics

import "unicode/utf8"

// AppendJSONString appends s escaped for the inside of a JSON string,
// without the quotes, as encoding/json escapes it: `"` and `\`, control
// characters, U+2028 and U+2029, and invalid UTF-8 as U+FFFD; with
// htmlSafe also `<`, `>` and `&` (encoding/json's default). It is the one
// escaper of the hot paths that write JSON by hand: request records here,
// request bodies in the load generator, the sim's SSE chunks.
func AppendJSONString[S ~string | ~[]byte](dst []byte, s S, htmlSafe bool) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!htmlSafe || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most UTFMax bytes: converting those from a []byte does not
		// allocate.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}
