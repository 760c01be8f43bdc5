package verifiertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// EditRecords rewrites requests.jsonl.zst in dir, passing each record to fn.
func EditRecords(dir string, fn func(r *metrics.Request)) error {
	path := filepath.Join(dir, bundle.RequestsFile)
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	rr, err := metrics.NewRecordReader(in)
	if err != nil {
		in.Close()
		return err
	}
	var recs []metrics.Request
	for {
		var r metrics.Request
		err := rr.Next(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	rr.Close()
	in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	rw, err := metrics.NewRecordWriter(out)
	if err != nil {
		return err
	}
	for i := range recs {
		fn(&recs[i])
		if err := rw.Write(&recs[i]); err != nil {
			return err
		}
	}
	return rw.Close()
}

// EditPower rewrites power.jsonl.zst in dir, keeping the samples keep
// returns true for.
func EditPower(dir string, keep func(s *bundle.PowerLine) bool) error {
	return editPowerFile(filepath.Join(dir, bundle.PowerFile), keep)
}

func editPowerFile(path string, keep func(s *bundle.PowerLine) bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	zr, err := zstd.NewReader(nil)
	if err != nil {
		return err
	}
	raw, err := zr.DecodeAll(data, nil)
	zr.Close()
	if err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	zw, err := zstd.NewWriter(out)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(zw)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var s bundle.PowerLine
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return err
		}
		if keep(&s) {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// EditJSON rewrites a JSON file of dir through fn.
func EditJSON[T any](dir, name string, fn func(v *T)) error {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	fn(&v)
	out, err := json.MarshalIndent(&v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o600)
}

// EditAccuracy rewrites accuracy.jsonl through fn.
func EditAccuracy(dir string, fn func(l *bundle.AccuracyRecord)) error {
	path := filepath.Join(dir, bundle.AccuracyFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var l bundle.AccuracyRecord
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return err
		}
		fn(&l)
		b, _ := json.Marshal(l)
		out = append(append(out, b...), '\n')
	}
	return os.WriteFile(path, out, 0o600)
}
