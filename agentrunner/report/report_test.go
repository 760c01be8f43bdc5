package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// hostile is what a server or a vendor could put in a name or an error.
const hostile = "</script><script>alert(1)</script>|`x`\x1b[31m"

// writeRun writes a two-probe run: probe 0 at N=2 (window [10 s, 20 s)),
// probe 1 at N=4 (window [30 s, 40 s)), invalid; requests in and around
// the windows, one of them an error whose text is a spreadsheet formula.
func writeRun(t *testing.T, dir string, bundleDir bool) []metrics.Request {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var recs []metrics.Request
	for p, ws := range []int64{10e9, 30e9} {
		for i := range 40 {
			send := ws - 2e9 + int64(i)*3e8 // some before the window
			first := send + int64(i+1)*5e6
			recs = append(recs, metrics.Request{Probe: p, Phase: metrics.PhaseWindow, Agent: i % 2, Trajectory: "traj", TSendNs: send, TFirstNs: first,
				TLastNs: first + int64(i+1)*2e7, CompletionTokens: 21, Status: metrics.StatusOK, TokenCountSource: metrics.TokenSourceUsage})
		}
	}
	recs = append(recs, metrics.Request{Probe: 0, TSendNs: 11e9, TLastNs: 12e9, Status: metrics.StatusError, Error: "=HYPERLINK(\"http://evil\")"})
	f, err := os.Create(filepath.Join(dir, bundle.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	rw, err := metrics.NewRecordWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := rw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	probes := &bundle.Probes{Format: bundle.ProbesFormat, Version: bundle.ProbesVersion, History: bundle.HistoryRecorded, Probes: []bundle.ProbeRecord{
		{Probe: 0, Agents: 2, Purpose: bundle.PurposeSearch, Tier: "t20", StartNs: 0, WarmupStartNs: 5e9, WindowStartNs: 10e9, WindowEndNs: 20e9, DoneNs: 21e9,
			Result: metrics.ProbeResult{Agents: 2, WindowS: 10, Valid: true, Conclusive: true, Tiers: []metrics.TierResult{{Tier: "t20", MetShare: 0.95, Passed: true}}}},
		{Probe: 1, Agents: 4, Purpose: bundle.PurposeConfirm, Tier: "t20", StartNs: 20e9, WarmupStartNs: 25e9, WindowStartNs: 30e9, WindowEndNs: 40e9, DoneNs: 41e9,
			Result: metrics.ProbeResult{Agents: 4, WindowS: 10, Valid: false, InvalidReasons: []string{"client scheduling lag p99 80ms > 50ms"}, Conclusive: true,
				Tiers: []metrics.TierResult{{Tier: "t20", MetShare: 0.5}}}},
	}}
	if err := replay.WriteJSONFile(filepath.Join(dir, bundle.ProbesFile), probes); err != nil {
		t.Fatal(err)
	}
	zero := 0
	var sum any = &replay.Summary{Format: replay.SummaryFormat, Version: replay.SummaryVersion, Mode: replay.ModeSearch, Rules: "v1", Profile: "test",
		Model: hostile, Workload: replay.WorkloadRef{Name: "w"},
		Tiers: map[string]replay.TierSummary{"t20": {MaxAgents: 2, MinDecodeTPS: 20, MaxTTFTS: 2, ConfirmationProbe: &zero, Reason: hostile}}}
	if bundleDir {
		sum = &bundle.Summary{SchemaVersion: bundle.SummarySchemaVersion, Simulated: true, Profile: "test",
			Tiers: map[string]bundle.TierSummary{"t20": {MaxAgents: 2, MinDecodeTPS: 20, MaxTTFTS: 2, ConfirmProbe: &zero,
				AvgPowerW: 812.4, AgentsPerMW: 2462, JoulesPerToken: 0.4321}}}
		if err := os.WriteFile(filepath.Join(dir, bundle.ManifestFile), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := replay.WriteJSONFile(filepath.Join(dir, replay.SummaryName), sum); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestReportFromBenchDir: the figures are metrics' over each window's
// requests, every record is a CSV row, every file is written.
func TestReportFromBenchDir(t *testing.T) {
	dir := t.TempDir()
	recs := writeRun(t, dir, false)
	r, err := Write(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "bench" || r.Records != len(recs) || len(r.Probes) != 2 || len(r.Tiers) != 1 {
		t.Fatalf("report %+v", r)
	}
	for i, w := range [][2]int64{{10e9, 20e9}, {30e9, 40e9}} {
		if got, want := r.Probes[i].Stats, metrics.WindowRequestStats(recs, w[0], w[1]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("probe %d: %+v, want metrics' %+v", i, got, want)
		}
	}
	if r.Probes[0].Stats.Errors != 1 || r.Tiers[0].Stats.Requests != r.Probes[0].Stats.Requests {
		t.Errorf("probe 0 %+v, tier %+v: want the error counted and the tier showing its confirmation probe", r.Probes[0].Stats, r.Tiers[0].Stats)
	}
	mdText, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Probes[0].Stats
	for _, want := range []string{
		"| Tier | Target | N_max |", "| t20 | ≥20 tok/s, TTFT ≤2s | 2 | no | 0 |",
		triple(s.TTFTS.P50*1e3, s.TTFTS.P90*1e3, s.TTFTS.P99*1e3, 0), triple(s.ITLS.P50*1e3, s.ITLS.P90*1e3, s.ITLS.P99*1e3, 1),
		"| 1 | 4 | confirm t20 |", "invalid: client scheduling lag p99 80ms &gt; 50ms |", "pass 95.0%", "fail 50.0%",
	} {
		if !strings.Contains(string(mdText), want) {
			t.Errorf("report.md lacks %q:\n%s", want, mdText)
		}
	}
	rows, err := csv.NewReader(mustOpen(t, filepath.Join(dir, CSVFile))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs)+1 || rows[0][0] != "probe" || rows[0][len(rows[0])-1] != "decode_tps" {
		t.Errorf("%d CSV rows, want a header and %d records", len(rows), len(recs))
	}
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"uPlot", "Time to first token (ms)", "c-pass", `"ttft_p99":[`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestReportEscapesRunText: ATTACK — a model name and a tier reason chosen
// by the server or vendor cannot inject script into report.html, break
// report.md's tables or the terminal, and an error text cannot become a
// spreadsheet formula in requests.csv.
func TestReportEscapesRunText(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, false)
	if _, err := Write(dir, dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if n := strings.Count(string(html), "<script>"); n != 2 || strings.Contains(string(html), "<script>alert") {
		t.Errorf("report.html: %d script elements (want uPlot's and ours) or the hostile one", n)
	}
	mdText, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, bad := range []string{"<script>", "\x1b", "|`x`"} {
		if strings.Contains(string(mdText), bad) {
			t.Errorf("report.md holds %q", bad)
		}
	}
	for _, line := range strings.Split(string(mdText), "\n") {
		if strings.HasPrefix(line, "| t20 |") && strings.Count(line, "|")-strings.Count(line, `\|`) != 13 {
			t.Errorf("tier row has a broken column count: %q", line)
		}
	}
	rows, _ := csv.NewReader(mustOpen(t, filepath.Join(dir, CSVFile))).ReadAll()
	found := false
	for _, row := range rows {
		for _, c := range row {
			if strings.Contains(c, "HYPERLINK") {
				found = true
				if !strings.HasPrefix(c, "'=") {
					t.Errorf("CSV cell %q would run as a formula", c)
				}
			}
		}
	}
	if !found {
		t.Error("the error record is missing from requests.csv")
	}
}

// TestReportFromBundleDir: a bundle directory's summary.json is the
// bundle's format; the report says simulated.
func TestReportFromBundleDir(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, true)
	var md bytes.Buffer
	r, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if r.Kind != "bundle" || !r.Simulated || len(r.Tiers) != 1 || r.Tiers[0].MaxAgents != 2 || r.Tiers[0].Stats.Requests == 0 {
		t.Errorf("report %+v", r)
	}
	if !strings.Contains(md.String(), "# agentwatt bundle report") || !strings.Contains(md.String(), "**simulated engine**") {
		t.Errorf("report.md:\n%s", md.String())
	}
	b, _ := json.Marshal(r.chartData())
	if !strings.Contains(string(b), `"pass_t20":[95,50]`) {
		t.Errorf("chart data %s", b)
	}
	// the bundle's energy figures, labelled as the runner's claim
	var page bytes.Buffer
	if err := r.HTML(&page); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"report.md": md.String(), "report.html": page.String()} {
		for _, want := range []string{"Energy", "summary.json claims it (not verified here", "812", "2462", "0.432"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	if !strings.Contains(md.String(), "| t20 | 2 | 812 | 2462 | 0.432 |") {
		t.Errorf("report.md energy row:\n%s", md.String())
	}
}

// TestReportBenchDirHasNoEnergy: a bench directory's summary has no energy
// figures, and the report claims none.
func TestReportBenchDirHasNoEnergy(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, false)
	r, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if r.HasEnergy() || strings.Contains(md.String(), "## Energy") {
		t.Errorf("a bench report shows energy:\n%s", md.String())
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
