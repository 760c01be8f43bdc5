package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkValidate measures validate throughput over the example
// submissions: files/s and MB/s.
func BenchmarkValidate(b *testing.B) {
	files, _ := filepath.Glob("../examples/submissions/*.yaml")
	var docs [][]byte
	var size int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
		size += int64(len(data))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for i, d := range docs {
			if _, err := Parse(files[i], d); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkParseHostile measures what refusing (or reading) a hostile
// document costs: each stays bounded by the limits in guard.go.
func BenchmarkParseHostile(b *testing.B) {
	bomb, err := os.ReadFile("testdata/invalid/alias-bomb.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var bigMap strings.Builder
	bigMap.WriteString("engine:\n  env:\n")
	for i := 0; bigMap.Len() < 40000; i++ {
		bigMap.WriteString("    K" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "_" + itoa(i) + ": v\n")
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"alias-bomb", bomb},
		{"1MiB-brackets", []byte(strings.Repeat("[", MaxFileSize))},
		{"deep-flow-64", []byte(strings.Repeat("[", 64) + strings.Repeat("]", 64))},
		{"mapping-near-token-limit", []byte(bigMap.String())},
		{"1MiB-literal", []byte("optimizations:\n  notes: |\n" + strings.Repeat("    "+strings.Repeat("QUJD", 19)+"\n", MaxFileSize/81-1))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(c.name, c.data)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for ; i > 0; i /= 10 {
		n--
		buf[n] = byte('0' + i%10)
	}
	return string(buf[n:])
}
