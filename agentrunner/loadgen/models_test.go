package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestListModels(t *testing.T) {
	tests := []struct {
		name, body string
		want       []ModelInfo
		err        string
	}{
		{"vLLM", `{"object":"list","data":[{"id":"m","object":"model","root":"m","max_model_len":131072}]}`,
			[]ModelInfo{{ID: "m", ContextLength: 131072, ContextField: "max_model_len"}}, ""},
		{"not reported", `{"data":[{"id":"m"}]}`, []ModelInfo{{ID: "m"}}, ""},
		{"null", `{"data":[{"id":"m","max_model_len":null}]}`, []ModelInfo{{ID: "m"}}, ""},
		{"other name", `{"data":[{"id":"a","context_length":8192},{"id":"b","context_window":4096}]}`,
			[]ModelInfo{{ID: "a", ContextLength: 8192, ContextField: "context_length"}, {ID: "b", ContextLength: 4096, ContextField: "context_window"}}, ""},
		{"max_model_len first", `{"data":[{"id":"m","context_length":1,"max_model_len":2}]}`,
			[]ModelInfo{{ID: "m", ContextLength: 2, ContextField: "max_model_len"}}, ""},
		{"not a number is not reported", `{"data":[{"id":"m","max_model_len":"big"}]}`, []ModelInfo{{ID: "m"}}, ""},
		{"sequence limit", `{"data":[{"id":"m","max_model_len":2048,"max_num_seqs":16}]}`,
			[]ModelInfo{{ID: "m", ContextLength: 2048, ContextField: "max_model_len", MaxSequences: 16, SequencesField: "max_num_seqs"}}, ""},
		{"sequence limit, other names", `{"data":[{"id":"a","max_running_requests":8},{"id":"b","max_concurrent_requests":-3}]}`,
			[]ModelInfo{{ID: "a", MaxSequences: 8, SequencesField: "max_running_requests"}, {ID: "b"}}, ""},
		{"no id", `{"data":[{"max_model_len":2}]}`, nil, "data[0]: no model id"},
		{"not JSON", `<html>`, nil, "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer k" {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			got, err := ListModels(context.Background(), srv.URL+"/v1", "k")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ListModels = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseModels: whatever a server lists, parsing never panics, every
// model has an id, and a limit is reported only as a positive integer under
// the field it came from (a hostile engine cannot raise or zero a search's
// cap with a negative, fractional or non-numeric value).
func FuzzParseModels(f *testing.F) {
	for _, s := range []string{
		`{"object":"list","data":[{"id":"m","max_model_len":131072,"max_num_seqs":256}]}`,
		`{"data":[{"id":"a","max_running_requests":8},{"id":"b","max_concurrent_requests":-3}]}`,
		`{"data":[{"id":"m","max_num_seqs":1e99}]}`, `{"data":[{"id":"m","max_num_seqs":16.5}]}`,
		`{"data":[{"id":"m","max_num_seqs":"16"}]}`, `{"data":[{"max_model_len":2}]}`, `{"data":null}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := parseModels(body)
		if err != nil {
			return
		}
		for _, m := range list {
			if m.ID == "" || m.ContextLength < 0 || m.MaxSequences < 0 ||
				(m.ContextLength > 0) != (m.ContextField != "") || (m.MaxSequences > 0) != (m.SequencesField != "") {
				t.Fatalf("parsed %+v from %q", m, body)
			}
		}
	})
}
