package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/metrics"
)

// csvHeader names requests.csv's columns: the record's fields, then the
// figures metrics derives from them (empty where there is none).
var csvHeader = []string{
	"probe", "phase", "agent", "subagent", "trajectory", "turn",
	"t_send_ns", "t_first_ns", "t_last_ns",
	"prompt_tokens", "cached_tokens", "completion_tokens", "target_prompt_tokens", "target_completion_tokens", "chunks",
	"status", "error", "token_count_source",
	"ttft_s", "itl_s", "e2e_s", "decode_tps",
}

type csvWriter struct {
	w   *csv.Writer
	row []string
}

func newCSVWriter(w io.Writer) (*csvWriter, error) {
	c := &csvWriter{w: csv.NewWriter(w), row: make([]string, len(csvHeader))}
	return c, c.w.Write(csvHeader)
}

func (c *csvWriter) write(r *metrics.Request) error {
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	row := c.row[:0]
	row = append(row, strconv.Itoa(r.Probe), cell(r.Phase), strconv.Itoa(r.Agent), cell(r.Subagent), cell(r.Trajectory), strconv.Itoa(r.Turn),
		i64(r.TSendNs), i64(r.TFirstNs), i64(r.TLastNs),
		strconv.Itoa(r.PromptTokens), "", strconv.Itoa(r.CompletionTokens), strconv.Itoa(r.TargetPromptTokens), strconv.Itoa(r.TargetCompletionTokens), strconv.Itoa(r.Chunks),
		cell(r.Status), cell(r.Error), cell(r.TokenCountSource), "", "", "", "")
	if r.CachedTokens.Known {
		row[10] = strconv.Itoa(r.CachedTokens.Value)
	}
	if r.Status == metrics.StatusOK && r.TFirstNs > 0 && r.TFirstNs >= r.TSendNs {
		row[18] = f(metrics.TTFT(r.TSendNs, r.TFirstNs).Seconds())
		row[20] = f(metrics.EndToEndLatency(r.TSendNs, r.TLastNs).Seconds())
		if d, ok := metrics.InterTokenLatency(r.CompletionTokens, r.TFirstNs, r.TLastNs); ok {
			row[19] = f(d.Seconds())
		}
		if v, ok := metrics.DecodeRate(r.CompletionTokens, r.TFirstNs, r.TLastNs); ok {
			row[21] = f(v)
		}
	}
	return c.w.Write(row)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// cell neutralises a text that a spreadsheet would run as a formula (the
// server chooses error texts): a leading =, +, -, @, tab or carriage
// return gets a ' in front (OWASP's advice for CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
