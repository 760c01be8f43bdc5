package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testMembers is a valid two-member group record.
func testMembers() *Members {
	inv := func(host string) *Inventory {
		return &Inventory{Source: "sim", Hostname: host, GPUs: []InventoryGPU{{Index: 0, Accelerator: "gb300"}, {Index: 1, Accelerator: "gb300"}}}
	}
	return &Members{Format: MembersFormat, Version: MembersVersion, Group: "rack-1", Leader: "node-a", Members: []Member{
		{Name: "node-a", Host: "a.local", Accelerator: "gb300", GPUs: 2, Inventory: inv("a")},
		{Name: "node-b", Host: "b.local", Accelerator: "gb300", GPUs: 2, Inventory: inv("b"), Offsets: []MemberOffset{
			{Probe: 0, At: OffsetAtStart, AtNs: 100, OffsetNs: 2e9, UncertaintyNs: 50_000, Rounds: 5},
			{Probe: 0, At: OffsetAtEnd, AtNs: 200, OffsetNs: 2e9, UncertaintyNs: 40_000, Rounds: 5},
		}},
	}}
}

func TestDecodeMembers(t *testing.T) {
	good, err := json.Marshal(testMembers())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeMembers(good); err != nil {
		t.Fatalf("DecodeMembers(good) = %v", err)
	}
	tests := []struct {
		name string
		edit func(ms *Members)
		want string
	}{
		{"traversal in a member name", func(ms *Members) { ms.Members[1].Name = "../summary" }, `"../summary"`},
		{"upper case member", func(ms *Members) { ms.Members[1].Name = "Node-B" }, "DNS label"},
		{"duplicate member", func(ms *Members) { ms.Members[1].Name = "node-a" }, "unique and sorted"},
		{"leader not a member", func(ms *Members) { ms.Leader = "node-z" }, "leader"},
		{"leader with offsets", func(ms *Members) { ms.Members[0].Offsets = ms.Members[1].Offsets }, "reference"},
		{"gpus not the inventory's", func(ms *Members) { ms.Members[1].GPUs = 4 }, "declares 4 GPUs"},
		{"accelerator not the inventory's", func(ms *Members) { ms.Members[1].Accelerator = "h200" }, "accelerator"},
		{"no inventory", func(ms *Members) { ms.Members[1].Inventory = nil }, "inventory: missing"},
		{"negative uncertainty", func(ms *Members) { ms.Members[1].Offsets[0].UncertaintyNs = -1 }, "uncertainty"},
		{"offsets out of order", func(ms *Members) { ms.Members[1].Offsets[1].AtNs = 50 }, "before the one before"},
		{"bad moment", func(ms *Members) { ms.Members[1].Offsets[1].At = "middle" }, "middle"},
		{"no members", func(ms *Members) { ms.Members = nil }, "members: 0"},
		{"other version", func(ms *Members) { ms.Version = 2 }, "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMembers()
			tt.edit(ms)
			data, _ := json.Marshal(ms)
			_, err := DecodeMembers(data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeMembers = %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("unknown field located", func(t *testing.T) {
		_, err := DecodeMembers([]byte("{\n  \"format\": \"agentwatt-members\",\n  \"extra\": 1}"))
		if err == nil || !strings.HasPrefix(err.Error(), "members.json:3:") {
			t.Errorf("DecodeMembers = %v, want members.json:3:col", err)
		}
	})
}

func TestMembersCheckFiles(t *testing.T) {
	ms := testMembers()
	file := func(name string) File { return File{Name: name, SHA256: strings.Repeat("0", 64)} }
	good := &Manifest{Files: []File{file(MembersFile), file(MemberPowerFile("node-a")), file(MemberPowerFile("node-b"))}}
	if err := ms.CheckFiles(good); err != nil {
		t.Errorf("CheckFiles(good) = %v", err)
	}
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"member without its file", []File{file(MemberPowerFile("node-a"))}, "member node-b"},
		{"a stranger's power file", append(append([]File{}, good.Files...), file(MemberPowerFile("node-x"))), "node-x is not a member"},
		{"single-host power beside", append(append([]File{}, good.Files...), file(PowerFile)), "beside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ms.CheckFiles(&Manifest{Files: tt.files})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckFiles = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// groupBundle seals a complete group bundle: members.json and a power
// file per member instead of power.jsonl.zst.
func groupBundle(t testing.TB, key []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for name, content := range testFiles {
		if name != PowerFile {
			files[name] = content
		}
	}
	files[MemberPowerFile("node-a")] = "a's samples\n"
	files[MemberPowerFile("node-b")] = "b's samples\n"
	for name, content := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(content))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteJSON(MembersFile, testMembers()); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(t.Context(), testManifest(), NewSigner(testKey(key[0]))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGroupBundleVerifies(t *testing.T) {
	dir := groupBundle(t, []byte{1})
	m, ps := verifyDir(t, dir, Trusted(pub(testKey(1))))
	if len(ps) > 0 {
		t.Fatalf("VerifyIntegrity = %v", ps)
	}
	for _, name := range []string{MemberPowerFile("node-a"), MemberPowerFile("node-b"), MembersFile} {
		if _, ok := m.File(name); !ok {
			t.Errorf("manifest does not list %s: %v", name, m.Files)
		}
	}
	if _, ok := m.File(PowerFile); ok {
		t.Error("group bundle lists power.jsonl.zst")
	}
}

// TestGroupBundleUnlistedMemberFile is the attack of a power file slipped
// into power/ after signing: a member whose energy nobody signed.
func TestGroupBundleUnlistedMemberFile(t *testing.T) {
	dir := groupBundle(t, []byte{1})
	if err := os.WriteFile(filepath.Join(dir, "power", "node-c.jsonl.zst"), []byte("more watts"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, ps := verifyDir(t, dir, Trusted(pub(testKey(1))))
	if !HasReason(ps, ReasonUnlistedFile) || !strings.Contains(fmt.Sprint(ps), "power/node-c.jsonl.zst") {
		t.Errorf("VerifyIntegrity = %v, want the unlisted power/node-c.jsonl.zst", ps)
	}
}

// TestWriterRefusesTraversal: a member name that climbs out of power/ is
// refused before anything is written.
func TestWriterRefusesTraversal(t *testing.T) {
	w, err := NewWriter(filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"power/../../x.jsonl.zst", MemberPowerFile("../x"), "power/a/b.jsonl.zst"} {
		if _, err := w.Create(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func FuzzDecodeMembers(f *testing.F) {
	good, _ := json.MarshalIndent(testMembers(), "", "  ")
	f.Add(good)
	f.Add([]byte(`{"format":"agentwatt-members","version":1,"group":"g","leader":"../a","members":[{"name":"../a","gpus":1}]}`))
	f.Add([]byte(`{"members":[` + strings.Repeat(`{},`, 100) + `{}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := DecodeMembers(data)
		if err != nil {
			return
		}
		for _, m := range ms.Members {
			name := MemberPowerFile(m.Name)
			if !ValidName(name) || strings.Contains(name, "..") {
				t.Fatalf("decoded member %q makes file name %q", m.Name, name)
			}
			if got, ok := MemberOfPowerFile(name); !ok || got != m.Name {
				t.Fatalf("MemberOfPowerFile(%q) = %q, %v", name, got, ok)
			}
		}
	})
}

func TestSumWindowEnergy(t *testing.T) {
	a := &WindowEnergy{CounterJ: 100, InstantJ: 101, CounterResets: 1, MaxGapS: 0.1, PerGPUCounterJ: map[string]float64{"0": 60, "1": 40}}
	b := &WindowEnergy{CounterJ: 300, InstantJ: 297, MaxGapS: 0.4, PerGPUCounterJ: map[string]float64{"0": 300}}
	got := SumWindowEnergy([]MemberEnergy{{"node-b", b}, {"node-a", a}}, 10, 200)
	want := &WindowEnergy{CounterJ: 400, InstantJ: 398, AvgPowerW: 40, JoulesPerToken: 2, CounterResets: 1, MaxGapS: 0.4,
		PerGPUCounterJ: map[string]float64{"node-a/0": 60, "node-a/1": 40, "node-b/0": 300}}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("SumWindowEnergy = %s, want %s", gj, wj)
	}
	if got := SumWindowEnergy([]MemberEnergy{{"node-a", a}, {"node-b", nil}}, 10, 200); got != nil {
		t.Errorf("a window one member did not measure: %+v, want nil", got)
	}
	if got := SumWindowEnergy(nil, 10, 200); got != nil {
		t.Errorf("no members: %+v, want nil", got)
	}
}
