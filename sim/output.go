package sim

// outputWords is the fixed vocabulary of generated text. Each word is one
// simulated token; generated content is these words separated by single
// spaces, so re-tokenizing a response gives back completion_tokens.
var outputWords = [...]string{
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"with", "was", "on", "be", "by", "this", "are", "from", "or", "at",
	"an", "which", "not", "have", "has", "but", "can", "all", "we", "will",
	"one", "more", "also", "if", "when", "there", "so", "each", "other", "into",
	"function", "value", "return", "error", "file", "test", "call", "result", "change", "line",
	"code", "type", "check", "field", "list", "input", "output", "state", "case", "path",
	"module", "import", "string", "number", "update", "build", "run", "patch", "fix", "issue",
	"config", "server", "client", "request", "response", "stream", "token", "block", "cache", "queue",
	"first", "next", "last", "new", "old", "same", "small", "large", "short", "long",
	"read", "write", "open", "close", "start", "stop", "send", "parse", "load", "save",
	"because", "then", "now", "here", "only", "still", "again", "already", "instead", "after",
	"let", "us", "see", "look", "find", "make", "use", "keep", "add", "remove",
	"correct", "wrong", "simple", "clear", "exact", "final", "empty", "full",
}

// spacedWords are the words with a leading space, to avoid allocating per token.
var spacedWords = func() [len(outputWords)]string {
	var s [len(outputWords)]string
	for i, w := range outputWords {
		s[i] = " " + w
	}
	return s
}()

// outputText yields a response's content, one token's text at a time: first
// the fixed pieces (an oracle answer), then seeded words. Each piece after the
// first carries its leading whitespace, so the pieces concatenate to the text.
type outputText struct {
	fixed []string
	r     *rng
	i     int
}

func (o *outputText) next() string {
	var p string
	switch {
	case o.i < len(o.fixed):
		p = o.fixed[o.i]
	case o.i == 0:
		p = outputWords[o.r.intn(len(outputWords))]
	default:
		p = spacedWords[o.r.intn(len(outputWords))]
	}
	o.i++
	return p
}

// pieces splits text into tokens that keep their leading whitespace (the
// first without it), so that concatenating them gives the text back without
// its leading and trailing whitespace.
func pieces(text string) []string {
	var out []string
	last := -1 // end of the previous token
	forEachTokenIndex(text, func(start, end int) {
		if last < 0 {
			out = append(out, text[start:end])
		} else {
			out = append(out, text[last:end])
		}
		last = end
	})
	return out
}

// finishReason values.
const (
	finishStop   = "stop"
	finishLength = "length"
)

// outputLength decides how many tokens a request produces and why it ends.
// natural is the length the "model" would stop at on its own.
func outputLength(ignoreEOS bool, maxTokens, minTokens, natural int, rf requestFaults) (int, string) {
	switch {
	case rf.ignoreMinTokens:
		// Fault: stop early regardless of min_tokens/ignore_eos.
		if maxTokens <= 1 {
			return 1, finishStop
		}
		return 1 + position(rf.earlyFrac, maxTokens-1), finishStop
	case ignoreEOS:
		return maxTokens, finishLength
	case natural > maxTokens:
		return maxTokens, finishLength
	default:
		return max(natural, minTokens, 1), finishStop
	}
}
