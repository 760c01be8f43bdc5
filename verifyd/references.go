package verifyd

import (
	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/verifier"
)

// GSM8KReferences are the embedded GSM8K test split's reference answers:
// what the daemon and `agentwatt verify` score accuracy against.
func GSM8KReferences() ([]verifier.Reference, error) {
	qs, err := accuracy.GSM8K()
	if err != nil {
		return nil, err
	}
	refs := make([]verifier.Reference, len(qs))
	for i, q := range qs {
		refs[i] = verifier.Reference{ID: q.ID, Expected: q.Expected}
	}
	return refs, nil
}
