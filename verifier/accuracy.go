package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// accuracyScore is the recomputed accuracy.
type accuracyScore struct {
	questions int
	correct   int
	fails     []string // malformed lines, unknown or repeated ids, missing questions
}

func (a *accuracyScore) score() float64 { return metrics.AccuracyScore(a.correct, a.questions) }

// scoreAccuracy scores accuracy.jsonl against the reference answers: every
// one of the first `questions` ids answered once, GSM8K's final number
// compared exactly (metrics.GSM8KCorrect); an errored answer is wrong.
func scoreAccuracy(r io.Reader, refs []Reference, questions int) (*accuracyScore, error) {
	byID := make(map[int]string, len(refs))
	for _, ref := range refs {
		byID[ref.ID] = ref.Expected
	}
	lr := bundle.NewLineReader(io.LimitReader(r, maxAccuracyBytes+1), maxAccuracyLine)
	var read int64
	as := &accuracyScore{questions: questions}
	var fails capped
	seen := map[int]bool{}
	for {
		b, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, bundle.ErrDigestMismatch) {
				return nil, err
			}
			fails.addf("%s: %v", bundle.AccuracyFile, err)
			break
		}
		read += int64(len(b)) + 1
		if read > maxAccuracyBytes {
			fails.addf("%s: more than %d bytes", bundle.AccuracyFile, maxAccuracyBytes)
			break
		}
		at := fmt.Sprintf("%s:%d", bundle.AccuracyFile, lr.Line())
		if len(bytes.TrimSpace(b)) == 0 {
			fails.addf("%s: blank line", at)
			continue
		}
		var l bundle.AccuracyRecord
		if err := json.Unmarshal(b, &l); err != nil {
			fails.addf("%s: %v", at, err)
			continue
		}
		want, ok := byID[l.ID]
		switch {
		case l.ID < 0 || l.ID >= questions:
			fails.addf("%s: question %d is not among the first %d", at, l.ID, questions)
			continue
		case !ok:
			return nil, fmt.Errorf("no reference answer for question %d", l.ID)
		case seen[l.ID]:
			fails.addf("%s: question %d answered twice", at, l.ID)
			continue
		}
		seen[l.ID] = true
		if l.Error == "" && metrics.GSM8KCorrect(l.Output, want) {
			as.correct++
		}
	}
	if len(seen) < questions {
		fails.addf("%s: %d of the %d questions answered", bundle.AccuracyFile, len(seen), questions)
	}
	as.fails = fails.reasons()
	return as, nil
}
