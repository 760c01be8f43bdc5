package spec

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// KindModelReferences is the kind of rules/models.yaml.
const KindModelReferences = "ModelReferences"

// ModelRefs are the reference accuracy scores of the models a submission may
// serve (rules/models.yaml): the accuracy gate compares a run's score with
// Rules.Accuracy.MinFraction × the model's reference score.
type ModelRefs struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Dataset is what the scores were measured on; it must match the rules'
	// accuracy dataset.
	Dataset string     `json:"dataset"`
	Models  []ModelRef `json:"models"`
}

// ModelRef is one model's reference score.
type ModelRef struct {
	// ID is the model id a submission names in model.id.
	ID string `json:"id"`
	// Score is the reference accuracy on the dataset, in [0, 1].
	Score float64 `json:"score"`
	// Source says where the score comes from.
	Source string `json:"source"`
	// Provisional marks a score not yet measured with agentwatt's own
	// accuracy harness (greedy, the rules' subset and output cap).
	Provisional bool `json:"provisional,omitempty"`
}

// Lookup returns the reference of model id.
func (m *ModelRefs) Lookup(id string) (ModelRef, bool) {
	for _, r := range m.Models {
		if r.ID == id {
			return r, true
		}
	}
	return ModelRef{}, false
}

// IDs lists the model ids in file order.
func (m *ModelRefs) IDs() []string {
	ids := make([]string, len(m.Models))
	for i, r := range m.Models {
		ids[i] = r.ID
	}
	return ids
}

// Validate checks the model references.
func (m *ModelRefs) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.APIVersion != APIVersion {
		bad("apiVersion: want %q, got %q", APIVersion, m.APIVersion)
	}
	if m.Kind != KindModelReferences {
		bad("kind: want %q, got %q", KindModelReferences, m.Kind)
	}
	if m.Dataset == "" {
		bad("dataset: required")
	}
	seen := map[string]bool{}
	for i, r := range m.Models {
		if !reModelID.MatchString(r.ID) {
			bad("models[%d].id: %q is not a model id", i, r.ID)
		}
		if seen[r.ID] {
			bad("models[%d].id: %q appears twice", i, r.ID)
		}
		seen[r.ID] = true
		if math.IsNaN(r.Score) || r.Score <= 0 || r.Score > 1 {
			bad("models[%d].score: %v is not in (0, 1]", i, r.Score)
		}
		if r.Source == "" {
			bad("models[%d].source: required", i)
		}
	}
	return errors.Join(errs...)
}

var (
	modelsOnce sync.Once
	modelsRefs *ModelRefs
	modelsErr  error
)

// Models returns the model references built into the binary. Each call
// returns its own copy.
func Models() (*ModelRefs, error) {
	m, err := modelsShared()
	if err != nil {
		return nil, err
	}
	c := *m
	c.Models = append([]ModelRef(nil), m.Models...)
	return &c, nil
}

func modelsShared() (*ModelRefs, error) {
	modelsOnce.Do(func() {
		const name = "rules/models.yaml"
		data, err := rulesFS.ReadFile(name)
		if err != nil {
			modelsErr = err
			return
		}
		modelsRefs, modelsErr = DecodeModels(name, data)
	})
	return modelsRefs, modelsErr
}

// DecodeModels reads and validates a model references file.
func DecodeModels(filename string, data []byte) (*ModelRefs, error) {
	d := newDecoder(filename, KindModelReferences)
	var m ModelRefs
	d.decodeDocument(data, &m)
	if len(d.probs) > 0 {
		sortProblems(d.probs)
		return nil, d.probs
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return &m, nil
}
