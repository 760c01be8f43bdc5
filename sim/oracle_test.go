package sim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const gsm8kSubset = "testdata/gsm8k_test_first20.jsonl"

func loadGSM8K(t *testing.T) *AccuracySet {
	t.Helper()
	a, err := LoadAccuracySet(gsm8kSubset)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 20 {
		t.Fatalf("%d questions, want 20", a.Len())
	}
	return a
}

// finalNumber is what a GSM8K scorer reads: the text after the last "####".
func finalNumber(s string) string {
	i := strings.LastIndex(s, "####")
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(s[i+4:])
}

func TestAccuracyOracle(t *testing.T) {
	acc := loadGSM8K(t)
	for _, tt := range []struct {
		rate      float64
		wantWrong func(n int) bool
	}{
		{0, func(n int) bool { return n == 0 }},
		{1, func(n int) bool { return n == 20 }},
		{0.5, func(n int) bool { return n > 0 && n < 20 }},
	} {
		t.Run(fmt.Sprintf("error rate %g", tt.rate), func(t *testing.T) {
			srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.Accuracy, c.AccuracyErrorRate = acc, tt.rate }))
			c := testClient(t)
			wrong := 0
			for i := range acc.Len() {
				// Whitespace in the prompt may differ from the file.
				q := strings.Join(strings.Fields(acc.Question(i)), "\n")
				body := map[string]any{"messages": []map[string]any{
					{"role": "system", "content": "Solve the problem. End with #### and the number."},
					{"role": "user", "content": "Question: " + q + "\nAnswer:"},
				}, "max_tokens": 1024, "temperature": 0}
				status, ch := complete(t, c, url, body)
				if status != http.StatusOK {
					t.Fatalf("question %d: HTTP %d", i, status)
				}
				content := ch.Choices[0].Message.Content
				if ch.Usage.CompletionTokens != CountTokens(content) || *ch.Choices[0].FinishReason != "stop" {
					t.Errorf("question %d: usage %d tokens for %d in the text, finish %q", i, ch.Usage.CompletionTokens, CountTokens(content), *ch.Choices[0].FinishReason)
				}
				got := finalNumber(content)
				if got == "" || strings.Contains(content, "<<") {
					t.Errorf("question %d: answer %q has no final number or keeps <<calc>> notes", i, content)
				}
				if got != acc.Answer(i) {
					wrong++
				}
			}
			if !tt.wantWrong(wrong) {
				t.Errorf("%d of 20 answers wrong at error rate %g", wrong, tt.rate)
			}
			if got := srv.Stats().Faults.OracleAnswers; got != 20 {
				t.Errorf("oracle answered %d, want 20", got)
			}
		})
	}
}

// A streamed oracle answer has the same text, and a prompt that holds no
// question gets ordinary generated words.
func TestAccuracyOracleStreamAndMiss(t *testing.T) {
	acc := loadGSM8K(t)
	_, url := startSim(t, tinyConfig(t, func(c *Config) { c.Accuracy = acc }))
	c := testClient(t)
	s := summarize(t, streamChat(t, url, c, chatReq(true, acc.Question(3), map[string]any{"max_tokens": 1024})))
	if finalNumber(s.text) != acc.Answer(3) || s.usage.CompletionTokens != CountTokens(s.text) {
		t.Errorf("streamed answer %q (usage %+v), want final %s", s.text, s.usage, acc.Answer(3))
	}
	// Only the last user message counts.
	body := map[string]any{"messages": []map[string]any{
		{"role": "user", "content": acc.Question(3)}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "something else"},
	}, "max_tokens": 20, "min_tokens": 20, "ignore_eos": true}
	_, ch := complete(t, c, url, body)
	if strings.Contains(ch.Choices[0].Message.Content, "####") {
		t.Errorf("answered a question that is not in the last user message: %q", ch.Choices[0].Message.Content)
	}
	// max_tokens below the answer length truncates it.
	_, ch = complete(t, c, url, chatReq(false, acc.Question(3), map[string]any{"max_tokens": 3}))
	if ch.Usage.CompletionTokens != 3 || *ch.Choices[0].FinishReason != "length" {
		t.Errorf("truncated answer: %d tokens, finish %q", ch.Usage.CompletionTokens, *ch.Choices[0].FinishReason)
	}
}

func TestWrongNumber(t *testing.T) {
	tests := []struct{ in string }{{"18"}, {"-4"}, {"1,450,000"}, {"2.5"}, {"x"}}
	for _, tt := range tests {
		for h := uint64(0); h < 20; h++ {
			got := wrongNumber(tt.in, h)
			if got == tt.in || got == strings.ReplaceAll(tt.in, ",", "") {
				t.Errorf("wrongNumber(%q, %d) = %q, not different", tt.in, h, got)
			}
		}
	}
}

func TestParseAccuracySetErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad json", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\n", "set.jsonl:2:"},
		{"no final line", `{"question":"q","answer":"just text"}`, "set.jsonl:1: answer: no final"},
		{"missing question", `{"answer":"#### 3"}`, "set.jsonl:1: question"},
		{"two numbers", `{"question":"q","answer":"#### 3 4"}`, "set.jsonl:1: answer"},
		{"empty", "\n\n", "no questions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccuracySet("set.jsonl", strings.NewReader(tt.in))
			if !errors.Is(err, ErrInvalidAccuracySet) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrInvalidAccuracySet mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzParseAccuracySet(f *testing.F) {
	f.Add(`{"question":"How many apples","answer":"Two plus two.\n#### 4"}`)
	f.Add("{\"question\":\"a\",\"answer\":\"#### 1\"}\n{\"question\":\"a b c d e f g\",\"answer\":\"x <<1+1=2>>2\\n#### 2\"}")
	f.Add("{")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAccuracySet("fuzz.jsonl", strings.NewReader(s))
		if err != nil {
			return
		}
		for i := range a.Len() {
			if got := a.match("Q: " + a.Question(i) + " A:"); got < 0 {
				t.Fatalf("question %d not found in a prompt that contains it", i)
			}
			if r := a.response(i, true, 1); finalNumber(r) == a.Answer(i) {
				t.Fatalf("wrong response %q keeps the right number %q", r, a.Answer(i))
			}
		}
	})
}
