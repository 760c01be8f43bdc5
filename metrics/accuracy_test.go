package metrics

import "testing"

func TestExtractGSM8KAnswer(t *testing.T) {
	tests := []struct {
		name, text, want string
		ok               bool
	}{
		{"final line", "She makes 9 * 2 = $18.\n#### 18", "18", true},
		{"thousands and dollar", "so #### $1,250", "1250", true},
		{"last of several finals", "#### 3\nwait\n#### 4", "4", true},
		{"no final line: last number", "3 apples and 5 pears make 8.", "8", true},
		{"negative decimal", "#### -2.5", "-2.5", true},
		{"trailing period", "The answer is 42.", "42", true},
		{"no number", "I cannot say.", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ExtractGSM8KAnswer(tt.text)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ExtractGSM8KAnswer(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestGSM8KCorrect(t *testing.T) {
	tests := []struct {
		name, output, expected string
		want                   bool
	}{
		{"same", "#### 18", "Janet sells 9 eggs.\n#### 18", true},
		{"decimal form", "#### 18.00", "#### 18", true},
		{"separator", "#### 1,000", "1000", true},
		{"wrong", "#### 17", "#### 18", false},
		{"no answer", "no idea", "#### 18", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GSM8KCorrect(tt.output, tt.expected); got != tt.want {
				t.Errorf("GSM8KCorrect(%q, %q) = %v, want %v", tt.output, tt.expected, got, tt.want)
			}
		})
	}
	if got := AccuracyScore(9, 10); got != 0.9 {
		t.Errorf("AccuracyScore(9, 10) = %v, want 0.9", got)
	}
}

func FuzzExtractGSM8KAnswer(f *testing.F) {
	for _, s := range []string{"#### 18", "a 1,2 b", "", "####", "#### $-", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ExtractGSM8KAnswer(s)
		if ok && got == "" {
			t.Errorf("ok with an empty answer for %q", s)
		}
	})
}
