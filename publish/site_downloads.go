package publish

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"
)

// csvColumns are the columns of results.csv, one row per latest result.
var csvColumns = []string{"model", "tier", "min_decode_tps", "max_ttft_s", "system", "vendor", "name", "framework", "framework_version",
	"max_agents", "agents_per_mw", "agents_per_gpu", "output_tokens_per_s", "joules_per_token", "avg_power_w", "gpus",
	"power_boundary", "rules_version", "profile", "simulated", "hardware", "accuracy", "date", "job", "attempt", "bundle", "verdict",
	"repeats", "agents_per_mw_min", "agents_per_mw_median", "agents_per_mw_max"}

// Downloads are the leaderboard as results.json (the Leaderboard, as
// published/results.json) and as results.csv (its latest results).
func Downloads(r *Leaderboard) (jsonData, csvData []byte, err error) {
	jsonData, err = json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(csvColumns)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, x := range r.Results {
		row := []string{x.Model, x.Tier, f(x.MinDecodeTPS), f(x.MaxTTFTS), x.System, x.Vendor, x.Name,
			x.Framework, x.FrameworkVersion, strconv.Itoa(x.MaxAgents), f(x.AgentsPerMW), f(x.AgentsPerGPU),
			f(x.OutputTokensPerS), f(x.JoulesPerToken), f(x.AvgPowerW), strconv.Itoa(x.GPUs), x.PowerBoundary, x.RulesVersion,
			x.Profile, strconv.FormatBool(x.Simulated), strconv.FormatBool(x.Hardware), f(x.Accuracy), x.Date.Format(time.RFC3339),
			x.Job, strconv.Itoa(x.Attempt), x.Bundle, x.Verdict, strconv.Itoa(max(1, x.Repeats)), "", "", ""}
		if s := x.AgentsPerMWSpread; s != nil {
			copy(row[len(row)-3:], []string{f(s.Min), f(s.Median), f(s.Max)})
		}
		for i, c := range row {
			row[i] = csvSafe(c)
		}
		_ = w.Write(row)
	}
	w.Flush()
	return append(jsonData, '\n'), b.Bytes(), w.Error()
}

// csvSafe keeps a string from being a formula when a spreadsheet opens the
// file (=, +, -, @ and control characters lead a formula); a negative
// number stays a number.
func csvSafe(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
