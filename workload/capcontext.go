package workload

// CapContext cuts t before its first turn whose input plus output tokens
// exceed limit: the later turns cannot be replayed without that turn's
// history. Sub-agents are cut the same way; one that started after the
// parent's last kept turn (AfterTurns above it) or that keeps no turn is
// dropped. It returns how many turns were removed, sub-agents included; t
// keeps no turn when its first turn alone exceeds limit. limit ≤ 0 cuts
// nothing.
func CapContext(t *Trajectory, limit int) int {
	if limit <= 0 {
		return 0
	}
	k := 0
	for k < len(t.Turns) && t.Turns[k].InputTokens()+t.Turns[k].OutputTokens <= limit {
		k++
	}
	cut := len(t.Turns) - k
	t.Turns = t.Turns[:k]
	kept := t.Subagents[:0]
	for _, s := range t.Subagents {
		if k == 0 || s.AfterTurns > k {
			cut += s.TurnCount()
			continue
		}
		cut += CapContext(s, limit)
		if len(s.Turns) == 0 {
			continue
		}
		kept = append(kept, s)
	}
	clear(t.Subagents[len(kept):])
	t.Subagents = kept
	if len(t.Subagents) == 0 {
		t.Subagents = nil
	}
	return cut
}

// TurnCount is how many turns t and its sub-agents hold.
func (t *Trajectory) TurnCount() int {
	n := 0
	t.Walk(func(tr *Trajectory, _ int) { n += len(tr.Turns) })
	return n
}
