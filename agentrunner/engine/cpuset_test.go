package engine

import "testing"

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"2-15", "2-15", true},
		{"0,2,4-7", "0,2,4-7", true},
		{" 1 , 3 ", "1,3", true},
		{"0-0", "0", true},
		{"3,1-2", "1-3", true},
		{"", "", false},
		{"a", "", false},
		{"5-2", "", false},
		{"-1", "", false},
		{"1-", "", false},
		{"2000", "", false},
	}
	for _, tc := range tests {
		set, err := ParseCPUList(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseCPUList(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok {
			if got := FormatCPUSet(set); got != tc.want {
				t.Errorf("ParseCPUList(%q) = %s, want %s", tc.in, got, tc.want)
			}
		}
	}
}
