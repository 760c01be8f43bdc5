package agentrunner

import (
	"context"
	"fmt"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// accuracy asks the accuracy questions of the model the load resolved,
// recording every answer in the bundle's accuracy.jsonl.
func (jr *jobRun) accuracy(ctx context.Context, js *jobSpec, eng *jobEngine, l *loadRun) (*accuracy.Result, error) {
	qs, err := accuracy.Subset(js.rules.Accuracy.Dataset, js.profile.AccuracyQuestions)
	if err != nil {
		return nil, err
	}
	f, err := jr.bw.Create(bundle.AccuracyFile)
	if err != nil {
		return nil, err
	}
	res, err := accuracy.Run(ctx, accuracy.Config{
		Endpoint: eng.url(), Model: l.rep.Model(), MaxTokens: js.rules.Accuracy.MaxOutputTokens,
		Temperature: js.rules.Sampling.Temperature, TopP: js.rules.Sampling.TopP,
	}, qs, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if e := eng.ended(); e != nil {
			return nil, e
		}
		return nil, err
	}
	jr.log.Info().Int("correct", res.Correct).Int("questions", res.Questions).Msg("accuracy phase")
	jr.ev.publish(queue.EventProgress, fmt.Sprintf("accuracy: %d of %d correct", res.Correct, res.Questions), res)
	return &res, nil
}
