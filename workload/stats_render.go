package workload

import (
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteText writes s for people. With histograms it also draws the input
// and output length distributions as text bars.
func (s *Stats) WriteText(w io.Writer, histograms bool) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("workload             %s\n", s.Name)
	if s.Digest != "" {
		p("digest               %s\n", s.Digest)
	}
	p("trajectories         %d (forks %d)\n", s.Trajectories, s.Forks)
	p("sub-agents           %d (in %d trajectories, at most %d per trajectory)\n",
		s.Subagents, s.TrajectoriesWithSubagents, s.MaxSubagentsPerTrajectory)
	p("turns                %d\n", s.Turns)
	p("turns/trajectory     p50 %d  p90 %d  max %d\n", s.TurnsPerTrajectory.P50, s.TurnsPerTrajectory.P90, s.TurnsPerTrajectory.Max)
	p("input tokens/turn    p50 %s  p90 %s  p99 %s  max %s  (total %s)\n",
		Thousands(s.InputTokens.P50), Thousands(s.InputTokens.P90), Thousands(s.InputTokens.P99), Thousands(s.InputTokens.Max), Thousands(s.InputTokens.Total))
	p("output tokens/turn   p50 %s  p90 %s  p99 %s  max %s  (total %s)\n",
		Thousands(s.OutputTokens.P50), Thousands(s.OutputTokens.P90), Thousands(s.OutputTokens.P99), Thousands(s.OutputTokens.Max), Thousands(s.OutputTokens.Total))
	if s.EstimatedOutputTurns > 0 {
		p("                     %d turns' output lengths are estimates (no usage in the source)\n", s.EstimatedOutputTurns)
	}
	if s.ContextCap > 0 {
		p("max context          %s tokens (cut at %s)\n", Thousands(int64(s.MaxContextTokens)), Thousands(int64(s.ContextCap)))
	} else {
		p("max context          %s tokens\n", Thousands(int64(s.MaxContextTokens)))
	}
	p("think time           p50 %.1fs  p90 %.1fs  max %.1fs\n", s.ThinkTimeS.P50, s.ThinkTimeS.P90, s.ThinkTimeS.Max)
	p("shared prefix        p50 %s  p90 %s  max %s tokens\n", Thousands(s.SharedPrefixTokens.P50), Thousands(s.SharedPrefixTokens.P90), Thousands(s.SharedPrefixTokens.Max))
	p("prefix-cache hits    %.1f%% of input tokens (within trajectories %s, shared prefixes %s)\n",
		100*s.PrefixHitRate, Thousands(s.PrefixHit.WithinTrajectory), Thousands(s.PrefixHit.AcrossTrajectory))
	for _, src := range s.Sources {
		p("source               %s  %s  %s  %d trajectories, %d turns\n", src.Format, src.File, src.Licence, src.Trajectories, src.Turns)
	}
	if histograms {
		p("\ninput tokens per turn (bins [lo, hi))\n")
		textHistogram(&b, s.InputHistogram)
		p("\noutput tokens per turn (bins [lo, hi))\n")
		textHistogram(&b, s.OutputHistogram)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const barWidth = 40

func textHistogram(b *strings.Builder, bins []Bin) {
	var peak int64
	for _, x := range bins {
		peak = max(peak, x.Count)
	}
	for _, x := range bins {
		n := 0
		if peak > 0 {
			n = int((x.Count*barWidth + peak - 1) / peak)
		}
		fmt.Fprintf(b, "  %13s  %-*s %d\n", binLabel(x), barWidth, strings.Repeat("█", n), x.Count)
	}
}

// binLabel names a bin [Lo, Hi) as "Lo–Hi" ("0" for the bin of zeros).
func binLabel(x Bin) string {
	if x.Hi-x.Lo <= 1 {
		return pow2(x.Lo)
	}
	return pow2(x.Lo) + "–" + pow2(x.Hi)
}

// pow2 formats a bin edge with Ki/Mi suffixes when it is a round multiple.
func pow2(v int64) string {
	switch {
	case v >= 1<<20 && v%(1<<20) == 0:
		return fmt.Sprintf("%dMi", v>>20)
	case v >= 1<<10 && v%(1<<10) == 0:
		return fmt.Sprintf("%dKi", v>>10)
	}
	return Thousands(v)
}

// Thousands formats a count with thousands separators: 98304 → "98,304".
func Thousands(v int64) string {
	s := strconv.FormatInt(v, 10)
	digits := strings.TrimPrefix(s, "-")
	out := make([]byte, 0, len(s)+len(digits)/3)
	out = append(out, s[:len(s)-len(digits)]...)
	for i := range len(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, digits[i])
	}
	return string(out)
}

// WriteSVG writes input_tokens.svg and output_tokens.svg (bar charts of the
// histograms) into dir, creating it if needed.
func (s *Stats) WriteSVG(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, c := range []struct {
		file, title string
		bins        []Bin
	}{
		{"input_tokens.svg", "Input tokens per turn — " + s.Name, s.InputHistogram},
		{"output_tokens.svg", "Output tokens per turn — " + s.Name, s.OutputHistogram},
	} {
		p := filepath.Join(dir, c.file)
		if err := writeFileAtomic(p, []byte(svgHistogram(c.title, c.bins))); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func svgHistogram(title string, bins []Bin) string {
	const w, h, left, bottom, top = 720, 360, 60, 70, 40
	var peak int64
	for _, x := range bins {
		peak = max(peak, x.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="14">%s</text>`+"\n", left, html.EscapeString(title))
	plotW, plotH := w-left-20, h-top-bottom
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<text x="8" y="%d">%d</text>`+"\n", top+10, peak)
	if len(bins) > 0 && peak > 0 {
		bw := float64(plotW) / float64(len(bins))
		for i, x := range bins {
			bh := float64(plotH) * float64(x.Count) / float64(peak)
			xx := float64(left) + float64(i)*bw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4a7ab5"><title>%s: %d</title></rect>`+"\n",
				xx+1, float64(top+plotH)-bh, bw-2, bh, html.EscapeString(binLabel(x)), x.Count)
			fmt.Fprintf(&b, `<text transform="translate(%.1f,%d) rotate(45)">%s</text>`+"\n",
				xx+bw/2, top+plotH+12, html.EscapeString(binLabel(x)))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
