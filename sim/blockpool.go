package sim

// blockPool is the KV cache: fixed-size blocks with reference counts, and the
// prefix cache over them. A block whose reference count drops to zero stays
// cached (if it holds a full prompt block with a hash) in an LRU list and is
// reused — evicted — only when a fresh block is needed and none is left, the
// way vLLM's free block queue works. Blocks without a hash go to a plain free
// stack and are reused first.
//
// Blocks are created lazily up to the capacity, so an unlimited pool costs
// memory only for blocks in use plus the idle cache bound.
type blockPool struct {
	capacity  int // max blocks; 0 = unlimited
	idleCache int // max cached free blocks when unlimited

	blocks  []kvBlock
	free    []int32 // free blocks without a hash (stack)
	lruHead int32   // least recently freed cached block; -1 if none
	lruTail int32
	nLRU    int // cached free blocks
	byHash  map[uint64]int32
	evicted uint64
}

type kvBlock struct {
	hash       uint64
	hashed     bool
	ref        int32
	prev, next int32 // LRU links while ref == 0 and hashed
}

const noBlock = int32(-1)

func newBlockPool(capacityBlocks, idleCacheBlocks int) *blockPool {
	return &blockPool{capacity: capacityBlocks, idleCache: idleCacheBlocks, lruHead: noBlock, lruTail: noBlock,
		byHash: make(map[uint64]int32)}
}

// available is how many blocks could be handed out now, counting cached free
// blocks as evictable; excludeLRU of those are about to be taken by a cache hit.
func (p *blockPool) available(excludeLRU int) int {
	if p.capacity == 0 {
		return int(^uint(0) >> 1)
	}
	return len(p.free) + (p.capacity - len(p.blocks)) + p.nLRU - excludeLRU
}

// used is the number of blocks held by sequences.
func (p *blockPool) used() int { return len(p.blocks) - len(p.free) - p.nLRU }

// allocate hands out one block with ref 1; the caller checked available.
func (p *blockPool) allocate() int32 {
	var id int32
	switch {
	case len(p.free) > 0:
		id = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
	case p.capacity == 0 || len(p.blocks) < p.capacity:
		p.blocks = append(p.blocks, kvBlock{prev: noBlock, next: noBlock})
		id = int32(len(p.blocks) - 1)
	case p.lruHead != noBlock:
		id = p.lruHead
		p.unlinkLRU(id)
		p.unhash(id)
	default:
		panic("sim: KV block pool exhausted (caller must check available)")
	}
	p.blocks[id].ref = 1
	return id
}

// lookup counts the leading hashes that are cached, and how many of those hit
// blocks sit in the LRU (unreferenced).
func (p *blockPool) lookup(hashes []uint64) (hits, inLRU int) {
	for _, h := range hashes {
		id, ok := p.byHash[h]
		if !ok {
			break
		}
		hits++
		if p.blocks[id].ref == 0 {
			inLRU++
		}
	}
	return hits, inLRU
}

// acquireCached takes a reference on the cached block for h.
func (p *blockPool) acquireCached(h uint64) int32 {
	id := p.byHash[h]
	b := &p.blocks[id]
	if b.ref == 0 {
		p.unlinkLRU(id)
	}
	b.ref++
	return id
}

// register makes a full prompt block findable by its hash. A hash already
// cached by another block (computed concurrently) is left alone.
func (p *blockPool) register(id int32, h uint64) {
	if _, ok := p.byHash[h]; ok {
		return
	}
	b := &p.blocks[id]
	if b.hashed {
		return
	}
	b.hash, b.hashed = h, true
	p.byHash[h] = id
}

// release drops a sequence's references, last block first, so that the tail
// of a sequence is evicted before its head.
func (p *blockPool) release(ids []int32) {
	for i := len(ids) - 1; i >= 0; i-- {
		id := ids[i]
		b := &p.blocks[id]
		b.ref--
		if b.ref > 0 {
			continue
		}
		if b.hashed {
			p.pushLRU(id)
		} else {
			p.free = append(p.free, id)
		}
	}
	if p.capacity == 0 {
		for p.nLRU > p.idleCache && p.lruHead != noBlock {
			id := p.lruHead
			p.unlinkLRU(id)
			p.unhash(id)
			p.free = append(p.free, id)
		}
	}
}

func (p *blockPool) unhash(id int32) {
	b := &p.blocks[id]
	if b.hashed {
		delete(p.byHash, b.hash)
		b.hashed = false
		p.evicted++
	}
}

func (p *blockPool) pushLRU(id int32) {
	b := &p.blocks[id]
	b.prev, b.next = p.lruTail, noBlock
	if p.lruTail != noBlock {
		p.blocks[p.lruTail].next = id
	} else {
		p.lruHead = id
	}
	p.lruTail = id
	p.nLRU++
}

func (p *blockPool) unlinkLRU(id int32) {
	b := &p.blocks[id]
	if b.prev != noBlock {
		p.blocks[b.prev].next = b.next
	} else {
		p.lruHead = b.next
	}
	if b.next != noBlock {
		p.blocks[b.next].prev = b.prev
	} else {
		p.lruTail = b.prev
	}
	b.prev, b.next = noBlock, noBlock
	p.nLRU--
}
