package bundle

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func compress(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bomb is a small zstd stream that expands to frames × 64 MiB of zeros.
func bomb(t testing.TB, frames int) []byte {
	frame := compress(t, make([]byte, 64<<20), zstd.WithEncoderLevel(zstd.SpeedFastest))
	return bytes.Repeat(frame, frames)
}

// heapGrowth runs f and returns the bytes it allocated.
func heapGrowth(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestZstdBombRefused(t *testing.T) {
	b := bomb(t, 16) // 1 GiB once expanded
	t.Logf("bomb: %d bytes compressed, %d MiB expanded", len(b), 16*64)
	var err error
	var n int64
	alloc := heapGrowth(func() {
		z, zerr := NewLimitedZstdReader(bytes.NewReader(b), ZstdLimits{MaxDecompressed: 32 << 20, MaxWindow: 8 << 20})
		if zerr != nil {
			err = zerr
			return
		}
		defer z.Close()
		n, err = io.Copy(io.Discard, z)
	})
	if !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("copy = %d, %v; want ErrDecompressedTooLarge", n, err)
	}
	if n != 32<<20 {
		t.Errorf("read %d bytes before refusing, want exactly the limit %d", n, 32<<20)
	}
	t.Logf("allocated %d KiB", alloc>>10)
	if alloc > 16<<20 {
		t.Errorf("allocated %d MiB refusing a 1 GiB bomb, want < 16 MiB", alloc>>20)
	}
}

func TestZstdLongLineRefused(t *testing.T) {
	b := compress(t, bytes.Repeat([]byte("a"), 64<<20), zstd.WithEncoderLevel(zstd.SpeedFastest))
	var err error
	alloc := heapGrowth(func() {
		z, zerr := NewLimitedZstdReader(bytes.NewReader(b), ZstdLimits{MaxLine: 1 << 20})
		if zerr != nil {
			err = zerr
			return
		}
		defer z.Close()
		_, err = z.ReadLine()
	})
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("ReadLine: %v, want ErrLineTooLong", err)
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 1 {
		t.Fatalf("error %v: want a *LineError at line 1", err)
	}
	t.Logf("allocated %d KiB", alloc>>10)
	if alloc > 16<<20 {
		t.Errorf("allocated %d MiB refusing a 64 MiB line, want < 16 MiB", alloc>>20)
	}
}

func TestZstdWindowRefused(t *testing.T) {
	data := make([]byte, 8<<20)
	for i := range data { // incompressible enough to need the window
		data[i] = byte(i*7919 + i>>8)
	}
	b := compress(t, data, zstd.WithWindowSize(8<<20))
	z, err := NewLimitedZstdReader(bytes.NewReader(b), ZstdLimits{MaxWindow: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	_, err = io.Copy(io.Discard, z)
	if !errors.Is(err, zstd.ErrWindowSizeExceeded) {
		t.Fatalf("copy: %v, want zstd.ErrWindowSizeExceeded", err)
	}
}

func TestZstdLines(t *testing.T) {
	text := "one\r\ntwo\n\nfour"
	z, err := NewLimitedZstdReader(bytes.NewReader(compress(t, []byte(text))), ZstdLimits{MaxLine: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var got []string
	for {
		line, err := z.ReadLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if want := []string{"one", "two", "", "four"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

func TestLineReaderLimit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
		err  error
	}{
		{"exactly the limit", strings.Repeat("x", 16) + "\nab\n", 16, []string{strings.Repeat("x", 16), "ab"}, io.EOF},
		{"one above", strings.Repeat("x", 17) + "\n", 16, nil, ErrLineTooLong},
		{"last line above, no newline", "ok\n" + strings.Repeat("y", 40), 16, []string{"ok"}, ErrLineTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := NewLineReader(strings.NewReader(tc.in), tc.max)
			var got []string
			var err error
			for {
				var b []byte
				if b, err = lr.Next(); err != nil {
					break
				}
				got = append(got, string(b))
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("lines = %q, want %q", got, tc.want)
			}
			if _, again := lr.Next(); !errors.Is(again, tc.err) {
				t.Fatalf("after the end: %v, want the same error", again)
			}
		})
	}
}
