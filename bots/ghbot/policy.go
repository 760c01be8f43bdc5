package ghbot

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// The files of the submissions repository's default branch that say who may
// do what. A pull request's own copies are never read: a change to them
// takes effect when it is merged.
const (
	VendorsFile     = "VENDORS.yaml"
	MaintainersFile = "MAINTAINERS"
	// SubmissionsDir holds one folder per vendor: submissions/<vendor>/<name>.yaml.
	SubmissionsDir = "submissions"
)

// maxPolicyFile bounds VENDORS.yaml and MAINTAINERS.
const maxPolicyFile = 256 << 10

var (
	// loginRe is a GitHub login: letters, digits and single hyphens, at
	// most 39 characters.
	loginRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	// teamRe is org/team-slug.
	teamRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	// shaRe is a full commit SHA.
	shaRe = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// vendorRe is a vendor name as the spec has it (a DNS label).
	vendorRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Members is a list of GitHub users and org/team entries.
type Members struct {
	Users []string // logins, lower-cased
	Teams []string // org/slug, lower-cased
}

// Policy is who may submit for which vendor and who maintains the
// benchmark, read from the default branch.
type Policy struct {
	Vendors     map[string]Members // vendor → who may submit for it
	Maintainers Members
}

// ParseVendors reads VENDORS.yaml:
//
//	vendors:
//	  acme:
//	    - alice            # a GitHub user
//	    - acme-corp/bench  # every active member of a team
//
// Problems name file:line:col.
func ParseVendors(data []byte) (map[string]Members, error) {
	if len(data) > maxPolicyFile {
		return nil, fmt.Errorf("%s: %d bytes, at most %d", VendorsFile, len(data), maxPolicyFile)
	}
	var doc struct {
		Vendors yaml.MapSlice `yaml:"vendors"`
	}
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s:%s", VendorsFile, yamlErr(err))
	}
	out := make(map[string]Members, len(doc.Vendors))
	for _, item := range doc.Vendors {
		vendor, ok := item.Key.(string)
		if !ok || !vendorRe.MatchString(vendor) {
			return nil, fmt.Errorf("%s: vendor %v: want a DNS label (lower-case letters, digits, '-')", VendorsFile, item.Key)
		}
		list, ok := item.Value.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: vendor %s: want a list of GitHub users and org/team entries", VendorsFile, vendor)
		}
		var m Members
		for _, e := range list {
			s, _ := e.(string)
			if err := m.add(s); err != nil {
				return nil, fmt.Errorf("%s: vendor %s: %w", VendorsFile, vendor, err)
			}
		}
		out[vendor] = m
	}
	return out, nil
}

// ParseMaintainers reads MAINTAINERS: one GitHub login or org/team a line;
// '#' starts a comment. Problems name file:line.
func ParseMaintainers(data []byte) (Members, error) {
	var m Members
	if len(data) > maxPolicyFile {
		return m, fmt.Errorf("%s: %d bytes, at most %d", MaintainersFile, len(data), maxPolicyFile)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := m.add(line); err != nil {
			return m, fmt.Errorf("%s:%d: %w", MaintainersFile, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("%s: %w", MaintainersFile, err)
	}
	return m, nil
}

func (m *Members) add(s string) error {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	switch {
	case loginRe.MatchString(s):
		m.Users = append(m.Users, strings.ToLower(s))
	case teamRe.MatchString(s):
		m.Teams = append(m.Teams, strings.ToLower(s))
	default:
		return fmt.Errorf("%q: want a GitHub login or org/team", s)
	}
	return nil
}

// hasUser reports whether login is listed by name (logins compare without
// case, as GitHub's do).
func (m Members) hasUser(login string) bool {
	login = strings.ToLower(login)
	for _, u := range m.Users {
		if u == login {
			return true
		}
	}
	return false
}

func yamlErr(err error) string {
	// goccy/go-yaml formats "[line:col] message" followed by a source
	// excerpt; keep the first line, as line:col: message.
	msg := yaml.FormatError(err, false, false)
	msg, _, _ = strings.Cut(msg, "\n")
	if m := yamlPosRe.FindStringSubmatch(msg); m != nil {
		return m[1] + ":" + m[2] + ": " + strings.TrimSpace(m[3])
	}
	return " " + msg
}

var yamlPosRe = regexp.MustCompile(`^\[(\d+):(\d+)\]\s*(.*)$`)
