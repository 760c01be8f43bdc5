package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Bucket names; part of the contract.
const (
	BucketGroups  = "agentwatt-groups"        // declarations and fenced state, no TTL
	BucketMembers = "agentwatt-group-members" // liveness, TTL MemberTTL
	BucketLeaders = "agentwatt-group-leaders" // leader leases, TTL LeaseTTL
)

// SubjectPrefix is the root of every group message subject.
const SubjectPrefix = "agentwatt.group."

// Config configures Groups. The zero value gives the defaults.
type Config struct {
	// Replicas of the buckets: 1, 3 or 5; 0 binds to the buckets as they
	// are (kvbucket.Ensure).
	Replicas int
	// MemberTTL is how long a member's entry lives unrefreshed (default
	// 30s); members refresh every MemberTTL/3.
	MemberTTL time.Duration
	// LeaseTTL is how long the leader lease lives unrefreshed (default
	// 30s); the leader refreshes it every LeaseTTL/3.
	LeaseTTL time.Duration
	// RequestTimeout bounds one request to a member or the leader
	// (default 10s).
	RequestTimeout time.Duration
	// Clock is this process's clock for the clock exchange, in ns: the
	// clock its power samples are stamped on (the run's monotonic clock).
	// Default: monotonic ns since Open.
	Clock func() int64
}

// Validate checks a config as set, naming the bad field. It changes
// nothing.
func (c Config) Validate() error {
	var errs []error
	if err := kvbucket.CheckReplicas(c.Replicas); err != nil {
		errs = append(errs, invalidf("Replicas %v", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MemberTTL", c.MemberTTL}, {"LeaseTTL", c.LeaseTTL}, {"RequestTimeout", c.RequestTimeout}} {
		if d.v < 0 {
			errs = append(errs, invalidf("%s %s: want a positive duration (0: the default)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MemberTTL == 0 {
		c.MemberTTL = 30 * time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.Clock == nil {
		start := time.Now()
		c.Clock = func() int64 { return int64(time.Since(start)) }
	}
	return c
}

// Groups is one process's handle on the runner groups. It is safe for
// concurrent use.
type Groups struct {
	nc                      *nats.Conn
	groups, members, leader jetstream.KeyValue
	cfg                     Config
	log                     zerolog.Logger
	now                     func() time.Time
}

// Open binds to the groups' buckets on js (created where missing); nc is
// the same connection, for the member ↔ leader messages.
func Open(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg Config, log zerolog.Logger) (*Groups, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Groups{nc: nc, cfg: cfg, now: time.Now, log: log.With().Str("component", "group").Logger()}
	var err error
	for _, b := range []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&g.groups, jetstream.KeyValueConfig{Bucket: BucketGroups, Description: "agentwatt runner groups: declarations and fenced state", History: 5, Storage: jetstream.FileStorage}},
		{&g.members, jetstream.KeyValueConfig{Bucket: BucketMembers, Description: "agentwatt runner group members: liveness", TTL: cfg.MemberTTL, Storage: jetstream.FileStorage}},
		{&g.leader, jetstream.KeyValueConfig{Bucket: BucketLeaders, Description: "agentwatt runner group leader leases", TTL: cfg.LeaseTTL, Storage: jetstream.FileStorage}},
	} {
		if *b.kv, err = kvbucket.Ensure(ctx, js, b.cfg, cfg.Replicas); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Config returns the configuration in effect (defaults applied).
func (g *Groups) Config() Config { return g.cfg }

// nameRe: group and member names are DNS labels (queue.ValidName), so
// that each is one subject token and one key token.
var nameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName reports whether name can name a group or a member.
func ValidName(name string) bool { return nameRe.MatchString(name) }

func checkName(what, name string) error {
	if !ValidName(name) {
		return invalidf("%s %q: want a DNS label (lower-case letters, digits, '-')", what, name)
	}
	return nil
}

// MaxSize bounds a group's declared size.
const MaxSize = 64

// Definition declares a group: its name and how many members it has.
type Definition struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

func configKey(group string) string { return "config." + group }
func stateKey(group string) string  { return "state." + group }

// Define declares (or re-declares) a group.
func (g *Groups) Define(ctx context.Context, d Definition) error {
	if err := checkName("group", d.Name); err != nil {
		return err
	}
	if d.Size < 1 || d.Size > MaxSize {
		return invalidf("group %s size %d: want 1 to %d", d.Name, d.Size, MaxSize)
	}
	data, _ := json.Marshal(d)
	if _, err := g.groups.Put(ctx, configKey(d.Name), data); err != nil {
		return fmt.Errorf("define group %s: %w", d.Name, err)
	}
	return nil
}

// Definition returns a group's declaration.
func (g *Groups) Definition(ctx context.Context, group string) (Definition, error) {
	if err := checkName("group", group); err != nil {
		return Definition{}, err
	}
	e, err := g.groups.Get(ctx, configKey(group))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Definition{}, fmt.Errorf("group %s: %w", group, ErrNotDefined)
	}
	if err != nil {
		return Definition{}, fmt.Errorf("group %s: %w", group, err)
	}
	var d Definition
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return Definition{}, fmt.Errorf("group %s: decode: %w", group, err)
	}
	return d, nil
}
