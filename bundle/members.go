package bundle

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Members of a runner group: a bundle measured by several hosts (a rack,
// a multi-node system) holds members.json, which names every member with
// its host, GPUs, inventory and measured clock offsets, and one power file
// per member, power/<member>.jsonl.zst, in the line schema of
// power.jsonl.zst (PowerLine), stamped on that member's clock. Such a
// bundle has no power.jsonl.zst. A single-host bundle has neither.

// MembersFile is the group's member list (Members).
const MembersFile = "members.json"

// Format and version of members.json.
const (
	MembersFormat  = "agentwatt-members"
	MembersVersion = 1
)

// memberPowerDir is the folder of the members' power files.
const memberPowerDir = "power/"

// memberPowerSuffix ends every member's power file name.
const memberPowerSuffix = ".jsonl.zst"

// MaxMembers bounds the members of a group a bundle may record.
const MaxMembers = 64

// maxOffsets bounds the clock measurements of one member (two per
// window, at most a few hundred windows).
const maxOffsets = 4096

// memberNameRe: a member is a DNS label, as queue.ValidName (runner
// names), so that it can be a file name and a subject token.
var memberNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidMemberName reports whether name can name a group member: a DNS
// label (lower-case letters, digits, '-'), which cannot climb out of the
// power/ folder.
func ValidMemberName(name string) bool { return memberNameRe.MatchString(name) }

// MemberPowerFile is the name of a member's power file,
// "power/<member>.jsonl.zst".
func MemberPowerFile(member string) string {
	return memberPowerDir + member + memberPowerSuffix
}

// MemberOfPowerFile is the member whose power file name is; ok is false
// for any other name, including a member name that ValidMemberName
// refuses.
func MemberOfPowerFile(name string) (member string, ok bool) {
	rest, ok := strings.CutPrefix(name, memberPowerDir)
	if !ok {
		return "", false
	}
	member, ok = strings.CutSuffix(rest, memberPowerSuffix)
	if !ok || !ValidMemberName(member) {
		return "", false
	}
	return member, true
}

// Members is members.json: who measured a group bundle.
type Members struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Group is the runner group's name; Leader the member that took the
	// job, ran the load and took the clock measurements. Every time of
	// the bundle's other files is on the leader's clock.
	Group   string   `json:"group"`
	Leader  string   `json:"leader"`
	Members []Member `json:"members"` // sorted by name
}

// Member is one host of a group.
type Member struct {
	Name string `json:"name"`
	Host string `json:"host"`
	// Accelerator and GPUs are what the member contributed to the group's
	// pool (<accelerator>x<Σ GPUs>); its power file covers GPUs GPUs.
	Accelerator string     `json:"accelerator"`
	GPUs        int        `json:"gpus"`
	Inventory   *Inventory `json:"inventory"`
	// Offsets are the member's clock against the leader's, measured at the
	// start and end of every window, in the order taken. The leader's own
	// entry has none: its offset is 0 by definition.
	Offsets []MemberOffset `json:"offsets,omitempty"`
}

// MemberOffset is one measurement of a member's clock: at leader time
// AtNs (the middle of the chosen round), member time = leader time +
// OffsetNs, within ±UncertaintyNs (metrics.ClockOffset, the round with
// the smallest delay of Rounds).
type MemberOffset struct {
	// Probe is the window's probe index, -1 for the idle baseline; At is
	// "start" or "end".
	Probe         int    `json:"probe"`
	At            string `json:"at"`
	AtNs          int64  `json:"at_ns"`
	OffsetNs      int64  `json:"offset_ns"`
	UncertaintyNs int64  `json:"uncertainty_ns"`
	Rounds        int    `json:"rounds"`
}

// Offset measurement moments.
const (
	OffsetAtStart = "start"
	OffsetAtEnd   = "end"
)

// Member returns the member called name.
func (ms *Members) Member(name string) (*Member, bool) {
	for i := range ms.Members {
		if ms.Members[i].Name == name {
			return &ms.Members[i], true
		}
	}
	return nil, false
}

// Validate checks members.json's own consistency: format and version,
// valid and unique member names in order, the leader among them with no
// offsets of its own, each member's GPUs matching its inventory, and
// offsets in time order with a non-negative uncertainty.
func (ms *Members) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if ms.Format != MembersFormat || ms.Version != MembersVersion {
		bad("format %q version %d: %w (want %s %d)", ms.Format, ms.Version, ErrSchemaVersion, MembersFormat, MembersVersion)
	}
	if !ValidMemberName(ms.Group) {
		bad("group %q: want a DNS label", ms.Group)
	}
	if len(ms.Members) == 0 || len(ms.Members) > MaxMembers {
		bad("members: %d, want 1 to %d", len(ms.Members), MaxMembers)
	}
	if _, ok := ms.Member(ms.Leader); !ok {
		bad("leader %q is not a member", ms.Leader)
	}
	for i, m := range ms.Members {
		where := fmt.Sprintf("members[%d]", i)
		if !ValidMemberName(m.Name) {
			bad("%s.name %q: %w: want a DNS label", where, m.Name, ErrInvalidName)
			continue
		}
		if i > 0 && ms.Members[i-1].Name >= m.Name {
			bad("%s.name %q: names must be unique and sorted", where, m.Name)
		}
		if m.GPUs < 1 {
			bad("%s (%s).gpus %d: want at least 1", where, m.Name, m.GPUs)
		}
		if m.Inventory == nil {
			bad("%s (%s).inventory: missing", where, m.Name)
		} else if n := len(m.Inventory.GPUs); n != m.GPUs {
			bad("%s (%s): declares %d GPUs, its inventory lists %d", where, m.Name, m.GPUs, n)
		} else {
			for _, g := range m.Inventory.GPUs {
				if g.Accelerator != "" && g.Accelerator != m.Accelerator {
					bad("%s (%s): accelerator %q, its inventory's GPU %d is %q", where, m.Name, m.Accelerator, g.Index, g.Accelerator)
					break
				}
			}
		}
		if m.Name == ms.Leader && len(m.Offsets) > 0 {
			bad("%s (%s): the leader's clock is the reference; it has no offsets", where, m.Name)
		}
		if len(m.Offsets) > maxOffsets {
			bad("%s (%s).offsets: %d, at most %d", where, m.Name, len(m.Offsets), maxOffsets)
			continue
		}
		for k, o := range m.Offsets {
			switch {
			case o.At != OffsetAtStart && o.At != OffsetAtEnd:
				bad("%s (%s).offsets[%d].at %q: want %s or %s", where, m.Name, k, o.At, OffsetAtStart, OffsetAtEnd)
			case o.UncertaintyNs < 0 || o.Rounds < 1:
				bad("%s (%s).offsets[%d]: uncertainty %d ns, %d rounds: want ≥ 0 and ≥ 1", where, m.Name, k, o.UncertaintyNs, o.Rounds)
			case k > 0 && o.AtNs < m.Offsets[k-1].AtNs:
				bad("%s (%s).offsets[%d].at_ns %d: before the one before it", where, m.Name, k, o.AtNs)
			}
		}
	}
	return errors.Join(errs...)
}

// CheckFiles checks that the manifest's files and the members agree: every
// member's power file is listed, every listed power/ file is a member's,
// and no single-host power.jsonl.zst is listed beside them.
func (ms *Members) CheckFiles(m *Manifest) error {
	var errs []error
	for _, mem := range ms.Members {
		if _, ok := m.File(MemberPowerFile(mem.Name)); !ok {
			errs = append(errs, fmt.Errorf("member %s: %s is not in the manifest", mem.Name, MemberPowerFile(mem.Name)))
		}
	}
	for _, f := range m.Files {
		if f.Name == PowerFile {
			errs = append(errs, fmt.Errorf("%s listed beside %s: a group bundle has one power file per member", PowerFile, MembersFile))
		}
		if name, ok := MemberOfPowerFile(f.Name); ok {
			if _, ok := ms.Member(name); !ok {
				errs = append(errs, fmt.Errorf("%s: %s is not a member of group %s", f.Name, name, ms.Group))
			}
		}
	}
	return errors.Join(errs...)
}

// DecodeMembers reads members.json strictly (unknown fields, trailing data,
// another format or version are errors, located as members.json:line:col)
// and validates it.
func DecodeMembers(data []byte) (*Members, error) {
	var ms Members
	if err := decodeStrict(MembersFile, data, &ms); err != nil {
		return nil, err
	}
	if err := ms.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", MembersFile, err)
	}
	return &ms, nil
}
