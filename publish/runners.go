package publish

import (
	"maps"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
)

// RunnersOf lists the enrolled keys as published/runners.json
// (verifier.Runners: the file `agentwatt verify --keys` reads back).
func RunnersOf(enrolled map[string]queue.RunnerKey, now time.Time) *verifier.Runners {
	r := &verifier.Runners{SchemaVersion: verifier.RunnersSchemaVersion, UpdatedAt: now.UTC(), Runners: []verifier.RunnerPublic{}}
	for _, name := range slices.Sorted(maps.Keys(enrolled)) {
		k := enrolled[name]
		r.Runners = append(r.Runners, verifier.RunnerPublic{Name: name, KeyID: bundle.KeyID(k.PublicKey), PublicKey: string(bundle.MarshalPublicKey(k.PublicKey)),
			Pools: k.Pools, Sim: k.Sim, TrustedBy: k.TrustedBy, TrustedAt: k.TrustedAt})
	}
	return r
}
