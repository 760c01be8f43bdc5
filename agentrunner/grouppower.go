package agentrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// BucketGroupPower is the JetStream object store through which members
// hand their power files to the leader at a job's end.
const BucketGroupPower = "agentwatt-group-power"

// groupPowerTTL is how long a member's power file waits for its leader.
const groupPowerTTL = time.Hour

// Headers of a member's power object: who put it, for which attempt.
const (
	hdrMember  = "Agentwatt-Member"
	hdrJob     = "Agentwatt-Job"
	hdrAttempt = "Agentwatt-Attempt"
	hdrTerm    = "Agentwatt-Term"
)

// powerObjects is the object store of the members' power files.
type powerObjects struct{ os jetstream.ObjectStore }

func openPowerObjects(ctx context.Context, js jetstream.JetStream, replicas int) (powerObjects, error) {
	if replicas == 0 {
		replicas = 1
	}
	if err := kvbucket.CheckReplicas(replicas); err != nil {
		return powerObjects{}, err
	}
	s, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: BucketGroupPower, Description: "agentwatt runner group members' power files, for their leader",
		TTL: groupPowerTTL, Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return powerObjects{}, fmt.Errorf("power object store: %w", err)
	}
	return powerObjects{os: s}, nil
}

// powerObjectName is a member's power file of one attempt under a term.
func powerObjectName(group string, term uint64, job string, attempt int, member string) string {
	return fmt.Sprintf("%s.%d.%s.%d.%s", group, term, job, attempt, member)
}

// powerObjectKey is what names one member's power object.
type powerObjectKey struct {
	group, job, member string
	term               uint64
	attempt            int
}

func (k powerObjectKey) name() string {
	return powerObjectName(k.group, k.term, k.job, k.attempt, k.member)
}

// put stores the file at path as k's power object.
func (p powerObjects) put(ctx context.Context, k powerObjectKey, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	meta := jetstream.ObjectMeta{Name: k.name(), Headers: nats.Header{
		hdrMember: {k.member}, hdrJob: {k.job}, hdrAttempt: {strconv.Itoa(k.attempt)}, hdrTerm: {strconv.FormatUint(k.term, 10)},
	}}
	if _, err := p.os.Put(ctx, meta, f); err != nil {
		return fmt.Errorf("put power file %s: %w", k.name(), err)
	}
	return nil
}

// errPowerObject: a member's power object is missing, too large or not
// the one asked for.
var errPowerObject = errors.New("member power file refused")

// get copies k's power object to path. It is refused when it is larger
// than limit or its headers do not name k (the member, the job, the
// attempt, the term): an object is the leader's only when the member it
// assigned put it for this attempt.
func (p powerObjects) get(ctx context.Context, k powerObjectKey, path string, limit int64) error {
	info, err := p.os.GetInfo(ctx, k.name())
	if err != nil {
		return fmt.Errorf("%w: member %s: %s: %v", errPowerObject, k.member, k.name(), err)
	}
	if info.Size > uint64(limit) {
		return fmt.Errorf("%w: member %s: power file of %d bytes, at most %d", errPowerObject, k.member, info.Size, limit)
	}
	h := info.Headers
	if h.Get(hdrMember) != k.member || h.Get(hdrJob) != k.job || h.Get(hdrAttempt) != strconv.Itoa(k.attempt) || h.Get(hdrTerm) != strconv.FormatUint(k.term, 10) {
		return fmt.Errorf("%w: member %s: %s names member %q job %q attempt %q term %q", errPowerObject, k.member, k.name(),
			h.Get(hdrMember), h.Get(hdrJob), h.Get(hdrAttempt), h.Get(hdrTerm))
	}
	obj, err := p.os.Get(ctx, k.name())
	if err != nil {
		return fmt.Errorf("%w: member %s: %v", errPowerObject, k.member, err)
	}
	defer obj.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(obj, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("power file above %d bytes", limit)
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("%w: member %s: %v", errPowerObject, k.member, err)
	}
	return nil
}

// remove drops k's power object once the leader holds it.
func (p powerObjects) remove(ctx context.Context, k powerObjectKey) {
	_ = p.os.Delete(ctx, k.name())
}
