package scaler

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/agentwatt/agentwatt/internal/yamlfile"
	"github.com/agentwatt/agentwatt/queue"
)

// File is the scaler's config file (agentwatt scaler --config FILE):
//
//	interval: 15s          # how often every pool is looked at
//	cooldown: 10m          # demand below capacity this long before a scale-in
//	aws:
//	  region: us-east-1    # default: the credential chain's
//	pools:
//	  - name: h200x8
//	    min: 0
//	    max: 4
//	    backend: aws       # aws, or none (observed only; the default)
//	    group: agentwatt-h200x8
type File struct {
	Interval time.Duration
	Cooldown time.Duration
	AWS      AWSFile
	Pools    []PoolFile
}

// AWSFile is the file's aws section.
type AWSFile struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // a VPC endpoint or a stand-in; empty: AWS's
}

// PoolFile is one pool of the file.
type PoolFile struct {
	Name    string `yaml:"name"`
	Min     int    `yaml:"min"`
	Max     int    `yaml:"max"`
	Backend string `yaml:"backend"`
	Group   string `yaml:"group"`
}

// Back-ends a pool of the file may name.
const (
	BackendNone = "none"
	BackendAWS  = "aws"
)

// rawFile is File as written: durations as strings, so that a bad one is
// placed at its line.
type rawFile struct {
	Interval string     `yaml:"interval"`
	Cooldown string     `yaml:"cooldown"`
	AWS      AWSFile    `yaml:"aws"`
	Pools    []PoolFile `yaml:"pools"`
}

// ErrFile is the error of a config file that is not valid.
var ErrFile = errors.New("scaler config file")

// FileError is one problem of a config file, at its line and column; it
// wraps ErrFile.
type FileError = yamlfile.Error

// maxFile bounds a config file (a pool is a few lines).
const maxFile = 256 << 10

var (
	// groupRe: an Auto Scaling group name (1-255 characters, no control
	// characters; we also refuse spaces and quotes, never needed).
	groupRe    = regexp.MustCompile(`^[A-Za-z0-9._:/@+=-]{1,255}$`)
	regionRe   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	maxPoolCap = 10000
)

// ParseFile reads a config file strictly (unknown fields, duplicate keys,
// wrong types and aliases refused) and checks every pool. file only labels
// errors, which are *FileError with the line and column.
func ParseFile(file string, data []byte) (f *File, err error) {
	var raw rawFile
	doc, err := yamlfile.Decode(file, data, maxFile, ErrFile, &raw)
	if err != nil {
		return nil, err
	}
	bad := func(path, format string, args ...any) error {
		return doc.Errorf(path, "%s: %s", path[2:], fmt.Sprintf(format, args...))
	}
	f = &File{AWS: raw.AWS, Pools: raw.Pools}
	for _, d := range []struct {
		path string
		s    string
		to   *time.Duration
	}{{"$.interval", raw.Interval, &f.Interval}, {"$.cooldown", raw.Cooldown, &f.Cooldown}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 {
			return nil, bad(d.path, "%q: want a positive duration such as 15s or 10m", d.s)
		}
		*d.to = v
	}
	if f.Interval != 0 && f.Interval < time.Second {
		return nil, bad("$.interval", "%s: want at least 1s (the scaler reads JetStream and the back-end every interval)", f.Interval)
	}
	if f.AWS.Region != "" && !regionRe.MatchString(f.AWS.Region) {
		return nil, bad("$.aws.region", "%q: want an AWS region such as us-east-1", f.AWS.Region)
	}
	if e := f.AWS.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, bad("$.aws.endpoint", "%q: want an https:// URL (a VPC endpoint)", e)
		}
	}
	if len(f.Pools) == 0 {
		return nil, doc.At(1, 1, "no pools: want a list under pools:")
	}
	seen := map[string]bool{}
	for i := range f.Pools {
		p := &f.Pools[i]
		at := func(field string) string { return fmt.Sprintf("$.pools[%d].%s", i, field) }
		switch {
		case !queue.ValidPool(p.Name):
			return nil, bad(at("name"), "%q: want a pool name (lower-case letters, digits, '-', '_')", p.Name)
		case seen[p.Name]:
			return nil, bad(at("name"), "%q is listed twice", p.Name)
		case p.Min < 0 || p.Min > maxPoolCap:
			return nil, bad(at("min"), "%d: want 0 to %d", p.Min, maxPoolCap)
		case p.Max < 1 || p.Max > maxPoolCap:
			return nil, bad(at("max"), "%d: want 1 to %d", p.Max, maxPoolCap)
		case p.Min > p.Max:
			return nil, bad(at("min"), "%d is above max %d", p.Min, p.Max)
		}
		seen[p.Name] = true
		switch p.Backend {
		case "", BackendNone:
			p.Backend = BackendNone
			if p.Group != "" {
				return nil, bad(at("group"), "a group needs backend: aws")
			}
		case BackendAWS:
			if !groupRe.MatchString(p.Group) {
				return nil, bad(at("group"), "%q: want the Auto Scaling group's name", p.Group)
			}
		default:
			return nil, bad(at("backend"), "%q: want aws or none", p.Backend)
		}
	}
	return f, nil
}
