package agentrunner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/queue"
)

// TestPowerObjects: a member's power file reaches the leader only as the
// object of the member, job, attempt and term the leader asks for, within
// its size bound; another member's, a stale term's or an oversized one is
// refused, and nothing of it is written.
func TestPowerObjects(t *testing.T) {
	emb, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := queue.Open(context.Background(), nc, queue.Config{Replicas: 1}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objs, err := openPowerObjects(ctx, q.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "power.jsonl.zst")
	if err := os.WriteFile(src, []byte(strings.Repeat("p", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	const job = "0123456789abcdef0123456789abcdef"
	want := powerObjectKey{group: "rack", term: 7, job: job, attempt: 2, member: "node-1"}
	if err := objs.put(ctx, want, src); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(dir, "got")
	if err := objs.get(ctx, want, got, 1000); err != nil {
		t.Fatalf("the member's own file: %v", err)
	}
	if b, _ := os.ReadFile(got); len(b) != 1000 {
		t.Fatalf("fetched %d bytes, want 1000", len(b))
	}

	// node-2 puts its own file in node-1's place; term 6 left one.
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := objs.os.Put(ctx, jetstream.ObjectMeta{Name: want.name(), Headers: nats.Header{
		hdrMember: {"node-2"}, hdrJob: {job}, hdrAttempt: {"2"}, hdrTerm: {"7"},
	}}, f); err != nil {
		t.Fatal(err)
	}
	stale := want
	stale.term = 6
	if err := objs.put(ctx, stale, src); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		k     powerObjectKey
		limit int64
		want  string
	}{
		{"another member's file under this one's name", want, 1000, `names member "node-2"`},
		{"a stale term's file", powerObjectKey{group: "rack", term: 8, job: job, attempt: 2, member: "node-1"}, 1000, "not found"},
		{"larger than the bound", stale, 999, "power file of 1000 bytes, at most 999"},
		{"another attempt", powerObjectKey{group: "rack", term: 7, job: job, attempt: 3, member: "node-1"}, 1000, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "got")
			err := objs.get(ctx, tc.k, path, tc.limit)
			if !errors.Is(err, errPowerObject) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal with %q", err, tc.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("%s written from a refused object", path)
			}
		})
	}
}

// TestReadMemberPowerBomb: a member's power file that decompresses beyond
// its bound (a zstd bomb of valid lines) is refused, not read into memory.
func TestReadMemberPowerBomb(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node-1.jsonl.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`{"t_mono_ns":1,"t_unix_ns":1,"gpu":0,"power_w":100,"energy_mj":1,"power_source":"sim"}` + "\n")
	for range 20000 {
		if _, err := zw.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	limit := int64(len(line)) * 1000
	if fi.Size() > limit/memberPowerExpansion {
		t.Fatalf("the bomb is %d bytes compressed; the test wants it within the compressed bound %d", fi.Size(), limit/memberPowerExpansion)
	}
	if _, err := readMemberPower(path, "node-1", limit); err == nil {
		t.Fatal("a file decompressing 20 times past its bound was read")
	}
	if s, err := readMemberPower(path, "node-1", int64(len(line))*20000); err != nil || len(s) != 20000 {
		t.Fatalf("within its bound: %d samples, %v", len(s), err)
	}
}
