package bundle

import "testing"

func TestKeys(t *testing.T) {
	if got, want := Prefix("abc", 2), "runs/abc/2/"; got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
	key := Key("abc", 3, SummaryFile)
	if want := "runs/abc/3/summary.json"; key != want {
		t.Errorf("Key = %q, want %q", key, want)
	}
	job, attempt, name, err := ParseKey(key)
	if err != nil || job != "abc" || attempt != 3 || name != SummaryFile {
		t.Errorf("ParseKey(%q) = %q, %d, %q, %v", key, job, attempt, name, err)
	}
	if _, _, name, err := ParseKey(Key("abc", 3, MemberPowerFile("node-1"))); err != nil || name != "power/node-1.jsonl.zst" {
		t.Errorf("ParseKey(member power file) = %q, %v", name, err)
	}
	for _, bad := range []string{"abc/1/x", "runs/abc/1/power/../x.jsonl.zst", "runs/abc/1/power/a/b.jsonl.zst", "runs/abc/0/x", "runs/abc/01/x", "runs/abc/1/", "runs//1/x", "runs/abc/1/x/y", "runs/abc/one/x"} {
		if _, _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{RequestsFile, true},
		{"custom_file-1.json", true},
		{ManifestFile, false},
		{EnvelopeFile, false},
		{VerdictFile, false},
		{"", false},
		{".hidden", false},
		{"a/b", false},
		{"..", false},
		{"a b", false},
		{"é.json", false},
		{MemberPowerFile("node-1"), true},
		{"power/../summary.json.jsonl.zst", false},
		{"power/..jsonl.zst", false},
		{"power/Node.jsonl.zst", false},
		{"power/a/b.jsonl.zst", false},
		{"power/node-1.json", false},
		{"other/node-1.jsonl.zst", false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
