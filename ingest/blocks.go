package ingest

import (
	"fmt"

	"github.com/agentwatt/agentwatt/workload"
)

// tailIDs hands out block ids for the unhashed tail of a prompt: negative
// numbers, unique within one hash-id scope, so they never collide with a
// trace's own (non-negative) ids and each tail synthesises its own text.
type tailIDs struct{ next int64 }

func (t *tailIDs) take() int64 {
	t.next--
	return t.next
}

// maxTokens bounds one prompt or answer (4 Mi tokens, above any model's
// context): a larger count is a broken or hostile trace.
const maxTokens = 1 << 22

// maxTailBlocks bounds the unhashed tail of one prompt, in blocks. Real
// traces hash every block (Mooncake) or all but a partial last one (Weka);
// a long unhashed tail means the hash ids do not describe the prompt.
const maxTailBlocks = 4096

// blockRun builds a prompt of tokens tokens from a trace's hash ids.
//
// Hashed blocks cover the first len(ids)×blockSize tokens; the last hashed
// block may be partial (Mooncake: ids = ⌈tokens/blockSize⌉). Tokens beyond
// the hashed blocks (Weka hashes full blocks only) become fresh tail blocks
// with ids from tails.
func blockRun(ids []int64, tokens, blockSize int, tails *tailIDs) (workload.Segment, error) {
	n := len(ids)
	if tokens <= 0 || tokens > maxTokens {
		return workload.Segment{}, fmt.Errorf("%d input tokens: want 1..%d", tokens, maxTokens)
	}
	if n > 0 && (n-1)*blockSize >= tokens {
		return workload.Segment{}, fmt.Errorf("%d hash ids of %d-token blocks need more than %d input tokens", n, blockSize, tokens)
	}
	tail := (tokens - min(tokens, n*blockSize) + blockSize - 1) / blockSize
	if tail > maxTailBlocks {
		return workload.Segment{}, fmt.Errorf("%d hash ids of %d-token blocks cover %d of %d input tokens; more than %d blocks would be unhashed",
			n, blockSize, n*blockSize, tokens, maxTailBlocks)
	}
	blocks := make([]int64, n, n+tail)
	copy(blocks, ids)
	for covered := n * blockSize; covered < tokens; covered += blockSize {
		blocks = append(blocks, tails.take())
	}
	return workload.Segment{Blocks: blocks, Tokens: tokens}, nil
}
