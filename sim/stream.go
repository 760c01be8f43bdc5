package sim

import "sync"

// stream is what the engine tells the HTTP handler about one request: how
// many output tokens exist, whether it finished, the cached prompt tokens.
// The engine never blocks on it; the handler is woken through notify.
type stream struct {
	mu       sync.Mutex
	produced int
	finished bool
	err      error
	cached   int
	firstV   int64 // virtual ns at the first output token
	lastV    int64 // virtual ns at the latest output token
	notify   chan struct{}
}

func newStream() *stream { return &stream{notify: make(chan struct{}, 1)} }

func (st *stream) signal() {
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

func (st *stream) produce(n int, done bool, v int64) {
	st.mu.Lock()
	if st.produced == 0 {
		st.firstV = v
	}
	st.produced, st.finished, st.lastV = n, done, v
	st.mu.Unlock()
	st.signal()
}

func (st *stream) fail(err error) {
	st.mu.Lock()
	if !st.finished {
		st.err, st.finished = err, true
	}
	st.mu.Unlock()
	st.signal()
}

func (st *stream) snapshot() (produced int, finished bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.produced, st.finished, st.err
}

func (st *stream) cachedTokens() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cached
}
