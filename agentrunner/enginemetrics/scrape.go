package enginemetrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Bounds on one scrape.
const (
	MaxBytes      = 8 << 20 // a /metrics body; vLLM's is a few hundred KiB
	MaxLineBytes  = 64 << 10
	MaxSeries     = 1024 // samples of the wanted names in one body
	DefaultTimout = 2 * time.Second
)

// ErrTooLarge: the body or one of its lines passed a bound.
var ErrTooLarge = errors.New("engine metrics: too large")

// Scrape GETs url (the engine's /metrics) within timeout (0: DefaultTimout)
// and returns the value of each of names present, summed over its label
// sets. A name absent from the body is absent from the map.
func Scrape(ctx context.Context, c *http.Client, url string, names []string, timeout time.Duration) (map[string]float64, error) {
	if timeout <= 0 {
		timeout = DefaultTimout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("engine metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("engine metrics: GET %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("engine metrics: %w", err)
	}
	return Parse(body, names)
}

// Parse reads Prometheus text format and returns each of names present,
// summed over its series (counter, gauge or untyped). It rejects a body
// over MaxBytes, a line over MaxLineBytes, more than MaxSeries samples of
// the wanted names, and a non-finite or negative value of a wanted name.
// Only the wanted names' lines (samples, # HELP, # TYPE) reach the text
// parser: the rest of the body (an engine's hundreds of other series) can
// neither cost memory nor fail the scrape.
func Parse(body []byte, names []string) (map[string]float64, error) {
	if len(body) > MaxBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, MaxBytes)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var kept []byte
	series := 0
	for line, rest := 1, body; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		if i > MaxLineBytes {
			return nil, fmt.Errorf("%w: line %d over %d bytes", ErrTooLarge, line, MaxLineBytes)
		}
		l := rest[:i]
		rest = rest[min(i+1, len(rest)):]
		name, sample := lineName(l)
		if !want[string(name)] {
			continue
		}
		if sample {
			if series++; series > MaxSeries {
				return nil, fmt.Errorf("%w: more than %d series of the wanted metrics", ErrTooLarge, MaxSeries)
			}
		}
		kept = append(append(kept, l...), '\n')
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(kept))
	if err != nil {
		return nil, fmt.Errorf("engine metrics: %w", err)
	}
	out := map[string]float64{}
	for _, name := range names {
		f, ok := fams[name]
		if !ok {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			v, ok := value(m)
			if !ok {
				continue
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return nil, fmt.Errorf("engine metrics: %s = %g: want a finite non-negative value", name, v)
			}
			sum += v
		}
		if math.IsInf(sum, 0) {
			return nil, fmt.Errorf("engine metrics: %s sums to %g", name, sum)
		}
		out[name] = sum
	}
	return out, nil
}

func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// lineName is the metric a text-format line is about: a sample's name
// (sample true), or the name of a # HELP or # TYPE comment; nil for any
// other line.
func lineName(l []byte) (name []byte, sample bool) {
	l = bytes.TrimLeft(l, " \t")
	if len(l) == 0 {
		return nil, false
	}
	if l[0] == '#' {
		f := bytes.Fields(l[1:])
		if len(f) >= 2 && (string(f[0]) == "HELP" || string(f[0]) == "TYPE") {
			return f[1], false
		}
		return nil, false
	}
	end := bytes.IndexAny(l, "{ \t")
	if end < 0 {
		end = len(l)
	}
	return l[:end], true
}
