package sim

import "testing"

func TestBlockPoolLRU(t *testing.T) {
	p := newBlockPool(6, 0)
	take := func(hashes ...uint64) []int32 {
		var ids []int32
		for _, h := range hashes {
			id := p.allocate()
			p.register(id, h)
			ids = append(ids, id)
		}
		return ids
	}
	a := take(1, 2)
	b := take(3, 4)
	c := take(5, 6)
	if got := p.available(0); got != 0 {
		t.Fatalf("available = %d, want 0", got)
	}
	p.release(a)
	p.release(b)
	p.release(c)
	// Touch a again: it becomes the most recently used.
	if hits, inLRU := p.lookup([]uint64{1, 2}); hits != 2 || inLRU != 2 {
		t.Fatalf("lookup(a) = %d hits, %d in LRU; want 2, 2", hits, inLRU)
	}
	a = []int32{p.acquireCached(1), p.acquireCached(2)}
	p.release(a)
	// Two new blocks evict the least recently used: b's blocks, tail first.
	p.allocate()
	p.allocate()
	tests := []struct {
		name string
		hash uint64
		want int
	}{{"a head", 1, 1}, {"b evicted", 3, 0}, {"c kept", 5, 1}}
	for _, tt := range tests {
		if hits, _ := p.lookup([]uint64{tt.hash}); hits != tt.want {
			t.Errorf("%s: lookup(%d) = %d hits, want %d", tt.name, tt.hash, hits, tt.want)
		}
	}
	if p.evicted != 2 {
		t.Errorf("evicted = %d, want 2", p.evicted)
	}
}

func TestBlockPoolLookupStopsAtFirstMiss(t *testing.T) {
	p := newBlockPool(8, 0)
	for _, h := range []uint64{10, 11, 13} {
		p.register(p.allocate(), h)
	}
	if hits, _ := p.lookup([]uint64{10, 11, 12, 13}); hits != 2 {
		t.Errorf("hits = %d, want 2 (a prefix match stops at the first miss)", hits)
	}
}

func TestBlockPoolUnlimitedIdleCacheBound(t *testing.T) {
	p := newBlockPool(0, 3)
	var ids []int32
	for h := uint64(1); h <= 10; h++ {
		id := p.allocate()
		p.register(id, h)
		ids = append(ids, id)
	}
	p.release(ids)
	if p.nLRU != 3 || len(p.byHash) != 3 {
		t.Errorf("cached free blocks = %d (hashes %d), want 3", p.nLRU, len(p.byHash))
	}
	// Freed blocks are reused before the pool grows.
	n := len(p.blocks)
	p.allocate()
	if len(p.blocks) != n {
		t.Errorf("pool grew from %d to %d with free blocks available", n, len(p.blocks))
	}
}

func TestBlockPoolDuplicateHash(t *testing.T) {
	p := newBlockPool(4, 0)
	a, b := p.allocate(), p.allocate()
	p.register(a, 7)
	p.register(b, 7) // same content computed twice concurrently
	p.release([]int32{a, b})
	if p.nLRU != 1 || len(p.free) != 1 {
		t.Errorf("LRU %d, free %d; want the duplicate block in the plain free list", p.nLRU, len(p.free))
	}
}
