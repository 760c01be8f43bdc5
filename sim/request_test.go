package sim

import (
	"testing"
)

func FuzzDecodeChatRequest(f *testing.F) {
	f.Add(`{"model":"sim-tiny","messages":[{"role":"user","content":"hi there"}],"max_tokens":5,"min_tokens":5,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`)
	f.Add(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\": 1}"}}]},{"role":"tool","tool_call_id":"a","content":[{"type":"text","text":"out put"}]}]}`)
	f.Add(`{"messages":[{"role":"user","content":3}]}`)
	f.Add(`[]`)
	p, err := DefaultProfile("tiny")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, apiErr := decodeChatRequest([]byte(body), &p)
		if apiErr != nil {
			if apiErr.Status < 400 || apiErr.Status > 499 || apiErr.Message == "" {
				t.Fatalf("bad error %+v", apiErr)
			}
			return
		}
		n, hashes, _ := hashPrompt(req.Messages, p.BlockSize, req.CacheSalt)
		if n != PromptTokens(req.Messages) {
			t.Fatalf("hashPrompt counted %d, PromptTokens %d", n, PromptTokens(req.Messages))
		}
		if len(hashes) != n/p.BlockSize {
			t.Fatalf("%d block hashes for %d tokens", len(hashes), n)
		}
		maxT, minT, apiErr := req.lengths(n, &p)
		if apiErr == nil && (maxT < 1 || minT > maxT || n+maxT > p.MaxModelLen) {
			t.Fatalf("lengths accepted max %d min %d for prompt %d", maxT, minT, n)
		}
	})
}

func TestOutputLengthRules(t *testing.T) {
	tests := []struct {
		name                string
		ignoreEOS           bool
		maxT, minT, natural int
		fault               bool
		wantN               int
		wantFinish          string
	}{
		{"forced", true, 50, 50, 3, false, 50, "length"},
		{"ignore_eos without min", true, 50, 0, 3, false, 50, "length"},
		{"natural stop", false, 50, 0, 10, false, 10, "stop"},
		{"natural below min", false, 50, 20, 10, false, 20, "stop"},
		{"natural beyond max", false, 50, 0, 80, false, 50, "length"},
		{"fault stops early", true, 50, 50, 3, true, 1 + position(0.5, 49), "stop"},
		{"fault with one token", true, 1, 1, 3, true, 1, "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, finish := outputLength(tt.ignoreEOS, tt.maxT, tt.minT, tt.natural, requestFaults{ignoreMinTokens: tt.fault, earlyFrac: 0.5})
			if n != tt.wantN || finish != tt.wantFinish {
				t.Errorf("got %d %q, want %d %q", n, finish, tt.wantN, tt.wantFinish)
			}
		})
	}
}
