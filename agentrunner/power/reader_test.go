package power

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriterAbortAndClose(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateWriter(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var s Sample
	s.EnergyMJ = 1
	if err := w.Write(s); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Abort left %d files", len(entries))
	}
	if err := w.Write(s); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if _, err := CreateWriter(filepath.Join(dir, "missing", FileName)); err == nil {
		t.Error("CreateWriter in a missing directory succeeded")
	}
}
