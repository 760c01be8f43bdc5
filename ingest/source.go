package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// readSource reads an input file (bounded by limits) and describes it.
func readSource(in Input, lim Limits) ([]byte, workload.Source, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, workload.Source{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, workload.Source{}, err
	}
	if fi.IsDir() {
		return nil, workload.Source{}, fmt.Errorf("%s: is a directory", in.Path)
	}
	if fi.Size() > lim.MaxFileBytes {
		return nil, workload.Source{}, &workload.FormatError{File: in.Path,
			Msg: fmt.Sprintf("%d bytes is over the %d-byte limit", fi.Size(), lim.MaxFileBytes), Err: workload.ErrTooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(f, lim.MaxFileBytes+1))
	if err != nil {
		return nil, workload.Source{}, err
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return nil, workload.Source{}, &workload.FormatError{File: in.Path,
			Msg: fmt.Sprintf("over the %d-byte limit", lim.MaxFileBytes), Err: workload.ErrTooLarge}
	}
	sum := sha256.Sum256(data)
	return data, newSource(in, hex.EncodeToString(sum[:]), int64(len(data))), nil
}

// newSource describes an input of the given content hash and size, with
// the licence found beside it (or given).
func newSource(in Input, hexSum string, n int64) workload.Source {
	src := workload.Source{
		ID:      in.Format + ":" + hexSum[:16],
		Format:  in.Format,
		File:    filepath.Base(in.Path),
		SHA256:  hexSum,
		Bytes:   n,
		Licence: "unknown",
		Origin:  in.Origin,
	}
	if file, spdx := detectLicence(filepath.Dir(filepath.Clean(in.Path))); file != "" {
		src.LicenceFile, src.Licence = file, spdx
	}
	if in.Licence != "" {
		src.Licence = in.Licence
	}
	return src
}

// detectLicence looks for a licence file beside an input (LICENSE*,
// LICENCE*, COPYING*) and recognises the common ones. It returns the file's
// name and an SPDX id, "unknown" when the text is not recognised.
func detectLicence(dir string) (string, string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", ""
	}
	var names []string
	for _, e := range entries {
		up := strings.ToUpper(e.Name())
		if e.Type().IsRegular() && (strings.HasPrefix(up, "LICENSE") || strings.HasPrefix(up, "LICENCE") || strings.HasPrefix(up, "COPYING")) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", ""
	}
	slices.Sort(names)
	b, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		return names[0], "unknown"
	}
	return names[0], classifyLicence(b)
}

func classifyLicence(b []byte) string {
	head := b[:min(len(b), 4096)]
	switch {
	case bytes.Contains(head, []byte("Apache License")) && bytes.Contains(head, []byte("Version 2.0")):
		return "Apache-2.0"
	case bytes.Contains(head, []byte("Permission is hereby granted, free of charge")):
		return "MIT"
	case bytes.Contains(head, []byte("Redistribution and use in source and binary forms")):
		if bytes.Contains(head, []byte("Neither the name")) {
			return "BSD-3-Clause"
		}
		return "BSD-2-Clause"
	case bytes.Contains(head, []byte("Attribution 4.0 International")):
		return "CC-BY-4.0"
	}
	return "unknown"
}
