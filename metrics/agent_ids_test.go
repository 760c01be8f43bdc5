package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAgentIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	shuffled := func(lo, n int) []int {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = lo + i
		}
		rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		return ids
	}
	tests := []struct {
		name  string
		ids   []int
		dense bool // every id ends in the table
	}{
		{"a runner's block, shuffled", shuffled(0, 30000), true},
		{"a later block", shuffled(150_000, 20001), true},
		{"sparse", func() []int {
			var ids []int
			for range 5000 {
				ids = append(ids, rng.Int())
			}
			return ids
		}(), false},
		{"near the ends of int", append(shuffled(math.MaxInt-3000, 3001), shuffled(math.MinInt, 3000)...), false},
		{"two blocks far apart", append(shuffled(0, 4000), shuffled(1<<40, 4000)...), false},
		{"negative", shuffled(-10000, 20000), true},
		{"ascending", shuffled(0, 1)[:0], true}, // filled below
	}
	for i := range 20000 {
		tests[len(tests)-1].ids = append(tests[len(tests)-1].ids, i)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids agentIDs
			want := map[int]int32{}
			for i, id := range tc.ids {
				if _, ok := want[id]; ok {
					continue
				}
				if _, ok := ids.get(id); ok {
					t.Fatalf("id %d found before it was put", id)
				}
				ids.put(id, int32(i))
				want[id] = int32(i)
				if len(ids.dense) > max(minDenseIDs, 8*(ids.n+1)) {
					t.Fatalf("table of %d for %d ids", len(ids.dense), ids.n)
				}
			}
			for id, w := range want {
				if got, ok := ids.get(id); !ok || got != w {
					t.Fatalf("get(%d) = %d, %v; want %d", id, got, ok, w)
				}
			}
			if tc.dense && len(ids.sparse) > 0 {
				t.Errorf("%d of %d ids left in the map", len(ids.sparse), ids.n)
			}
			for range 1000 {
				id := rng.Int() - rng.Int()
				if _, held := want[id]; !held {
					if got, ok := ids.get(id); ok {
						t.Fatalf("get(%d) = %d for an id never put", id, got)
					}
				}
			}
		})
	}
}
