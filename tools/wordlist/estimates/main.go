// Command estimates prints texts with workload.EstimateTokens of each, one
// JSON object per line, for tools/wordlist/estimate-check.mjs to compare with
// real tokenizers. Arguments: SWE-agent .traj files and GSM8K-style JSONL
// files ({"question","answer"}; the first 200 lines are used).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

type sample struct {
	Text     string `json:"text"`
	Estimate int    `json:"estimate"`
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	emit := func(s string) { enc.Encode(sample{Text: s, Estimate: workload.EstimateTokens(s)}) }
	for _, path := range os.Args[1:] {
		if err := texts(path, emit); err != nil {
			fmt.Fprintln(os.Stderr, "estimates:", err)
			os.Exit(1)
		}
	}
}

func texts(path string, emit func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if strings.HasSuffix(path, ".traj") {
		var traj struct {
			History []struct {
				Content   string `json:"content"`
				ToolCalls []struct {
					Function struct{ Name, Arguments string } `json:"function"`
				} `json:"tool_calls"`
			} `json:"history"`
		}
		if err := json.NewDecoder(f).Decode(&traj); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, m := range traj.History {
			emit(m.Content)
			for _, c := range m.ToolCalls {
				emit(c.Function.Name)
				emit(c.Function.Arguments)
			}
		}
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 0; n < 200 && sc.Scan(); n++ {
		var q struct{ Question, Answer string }
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n+1, err)
		}
		emit(q.Question + "\n" + q.Answer)
	}
	return sc.Err()
}
