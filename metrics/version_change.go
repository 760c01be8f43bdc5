package metrics

import "math"

// ChangeKind is what a result's change against the previous framework
// version's is: a regression, an improvement, or nothing flagged ("").
type ChangeKind string

// The kinds VersionChange flags.
const (
	Regression  ChangeKind = "regression"
	Improvement ChangeKind = "improvement"
)

// VersionChange compares one tier's Agents/MW at a new framework version
// (next) with the previous version's (prev): change = (next − prev) / prev,
// a regression when change < −max(threshold, spread) and an improvement
// when change > +max(threshold, spread), else not flagged. threshold is the
// rules' regression.threshold; spread is the larger relative spread of
// Agents/MW across the two results' repeated runs (0 for a result of one
// run). ok is false when there is nothing to compare: a previous figure
// that is not positive, or a figure that is not a number.
//
// Agents/MW is the headline figure: the capacity (max agents at the tier)
// per unit of measured power, so a version that serves fewer agents, or
// the same agents for more power, shows as a regression.
func VersionChange(prev, next, threshold, spread float64) (change float64, kind ChangeKind, ok bool) {
	if !(prev > 0) || math.IsNaN(next) || math.IsInf(next, 0) || math.IsInf(prev, 0) {
		return 0, "", false
	}
	change = (next - prev) / prev
	band := math.Max(threshold, spread)
	switch {
	case change < -band:
		kind = Regression
	case change > band:
		kind = Improvement
	}
	return change, kind, true
}
