package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Event is one server-sent event: its data field (the data lines joined with
// "\n") and when it arrived. Data is valid until the next call to Next.
type Event struct {
	Data   []byte
	TimeNs int64 // run clock: when the bytes that completed the event were received (kernel time where the connection has it) or read
}

// IsDone reports whether the event is the OpenAI end-of-stream marker
// `data: [DONE]`.
func (e Event) IsDone() bool { return string(bytes.TrimSpace(e.Data)) == "[DONE]" }

// SSEDecoder reads server-sent events from a stream at the byte level: one
// growable buffer per decoder, no allocation per event once warm. It follows
// the WHATWG event-stream rules that matter here: LF, CRLF and CR line ends,
// comment lines (": ping"), one optional space after "data:", several data
// lines joined with "\n", other fields ignored, an event dispatched at a
// blank line, a leading byte-order mark skipped.
type SSEDecoder struct {
	r        io.Reader
	clock    Clock
	buf      []byte
	pos, end int
	data     []byte // the current event's data
	hasData  bool
	readNs   int64
	rx       *rxConn // when set, the kernel's receive time stamps events
	rxFloor  int64   // receive times before this belong to older reads
	maxEvent int
	started  bool
	eof      bool
	err      error
}

const (
	defaultSSEBuffer   = 16 << 10
	defaultSSEMaxEvent = 4 << 20
)

// NewSSEDecoder reads events from r, stamping them with clock. bufSize is
// the initial buffer (default 16 KiB); an event may grow it up to maxEvent
// bytes (default 4 MiB), beyond which Next fails with ErrEventTooLarge.
func NewSSEDecoder(r io.Reader, clock Clock, bufSize, maxEvent int) *SSEDecoder {
	if bufSize <= 0 {
		bufSize = defaultSSEBuffer
	}
	if maxEvent <= 0 {
		maxEvent = defaultSSEMaxEvent
	}
	return &SSEDecoder{r: r, clock: clock, buf: make([]byte, bufSize), maxEvent: max(maxEvent, bufSize)}
}

// Reset points the decoder at a new stream, keeping its buffers.
func (d *SSEDecoder) Reset(r io.Reader) {
	d.r, d.pos, d.end, d.data, d.hasData = r, 0, 0, d.data[:0], false
	d.readNs, d.started, d.eof, d.err = 0, false, false, nil
	d.rx, d.rxFloor = nil, 0
}

// stampFromKernel makes the decoder stamp events with the time the
// connection's kernel received their bytes (rxConn) instead of the time it
// read them, for receive times at or after floor (the request's send).
func (d *SSEDecoder) stampFromKernel(c *rxConn, floor int64) { d.rx, d.rxFloor = c, floor }

// Next returns the next event. At the end of the stream it returns io.EOF
// when the stream ended between events and io.ErrUnexpectedEOF when it ended
// inside one (the partial event is dropped, as the standard says). Read
// errors are returned as they come.
func (d *SSEDecoder) Next() (Event, error) {
	for {
		if ev, ok := d.scan(); ok {
			return ev, nil
		}
		if d.err != nil {
			return Event{}, d.err
		}
		if d.eof {
			d.err = io.EOF
			if d.hasData || d.pos < d.end {
				d.err = io.ErrUnexpectedEOF
			}
			return Event{}, d.err
		}
		if err := d.fill(); err != nil {
			d.err = err
			return Event{}, err
		}
	}
}

// Drain reads and discards up to limit more bytes of the stream, so that an
// HTTP/1.1 connection can be reused after [DONE]. It reports whether the
// stream ended within the limit.
func (d *SSEDecoder) Drain(limit int64) bool {
	if d.eof || d.err != nil {
		return d.eof
	}
	n, err := io.Copy(io.Discard, io.LimitReader(d.r, limit+1))
	return err == nil && n <= limit
}

// fill reads more bytes after compacting or growing the buffer.
func (d *SSEDecoder) fill() error {
	if d.pos > 0 {
		d.end = copy(d.buf, d.buf[d.pos:d.end])
		d.pos = 0
	}
	if d.end == len(d.buf) {
		if len(d.buf) >= d.maxEvent {
			return fmt.Errorf("%w: over %d bytes", ErrEventTooLarge, d.maxEvent)
		}
		nb := make([]byte, min(2*len(d.buf), d.maxEvent))
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	n, err := d.r.Read(d.buf[d.end:])
	if n > 0 {
		d.readNs = d.clock.Now()
		if d.rx != nil {
			// Bytes reach the body only from the connection's latest read:
			// its receive time is theirs.
			if t := d.rx.lastRxNs(); t >= d.rxFloor && t <= d.readNs {
				d.readNs = t
			}
		}
		d.end += n
		if !d.started && d.end >= 3 {
			d.started = true
			if bytes.HasPrefix(d.buf[d.pos:d.end], []byte("\xef\xbb\xbf")) {
				d.pos += 3
			}
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		d.eof = true
		d.started = true
	case err != nil:
		return err
	}
	return nil
}

// scan consumes complete lines from the buffer and returns an event when a
// blank line ends one.
func (d *SSEDecoder) scan() (Event, bool) {
	for {
		line, next, ok := d.nextLine()
		if !ok {
			return Event{}, false
		}
		d.pos = next
		if len(line) == 0 {
			if !d.hasData {
				continue
			}
			d.hasData = false
			return Event{Data: d.data, TimeNs: d.readNs}, true
		}
		if line[0] == ':' {
			continue // comment, e.g. ": ping"
		}
		name, value := line, line[len(line):]
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if string(name) != "data" {
			continue // event, id, retry and unknown fields
		}
		if d.hasData {
			d.data = append(d.data, '\n')
			d.data = append(d.data, value...)
		} else {
			d.data = append(d.data[:0], value...)
			d.hasData = true
		}
	}
}

// nextLine finds the line starting at pos: its content without the line end
// and the position after the line end. A CR at the end of the buffer waits
// for the next byte (it may be half of a CRLF) unless the stream has ended.
func (d *SSEDecoder) nextLine() (line []byte, next int, ok bool) {
	if !d.started {
		return nil, 0, false // the byte-order mark check needs the first bytes
	}
	b := d.buf[d.pos:d.end]
	lf := bytes.IndexByte(b, '\n')
	search := b
	if lf >= 0 {
		search = b[:lf]
	}
	if cr := bytes.IndexByte(search, '\r'); cr >= 0 {
		switch {
		case cr+1 < len(b) && b[cr+1] == '\n':
			return b[:cr], d.pos + cr + 2, true
		case cr+1 < len(b) || d.eof:
			return b[:cr], d.pos + cr + 1, true
		default:
			return nil, 0, false
		}
	}
	if lf >= 0 {
		return b[:lf], d.pos + lf + 1, true
	}
	return nil, 0, false
}
