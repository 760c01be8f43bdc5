package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// EnrolSubject is the NATS subject of the enrolment service. A runner's
// NATS credentials need publish permission on it (and on its inbox), and
// never write access to BucketKeys or BucketEnrolTokens.
const EnrolSubject = "agentwatt.fleet.enrol"

// enrolTimeout bounds one enrolment, on both sides.
const enrolTimeout = 10 * time.Second

// EnrolService answers enrolment requests on EnrolSubject (a NATS micro
// service, queue group "q": every `agentwatt server` may run one). It
// runs with the server's credentials, so a runner enrols without any of
// its own. Failed requests are logged and limited: after FailBurst
// failures the service refuses everything until the limiter refills at
// FailRate, so a stolen connection cannot hammer the token store.
type EnrolService struct {
	f   *Fleet
	nc  *nats.Conn
	lim *rate.Limiter
	log zerolog.Logger
}

// Failure limits of the enrolment service (per server process).
const (
	FailBurst = 20
	FailRate  = rate.Limit(1.0 / 3) // one more failure every 3 s
)

// NewEnrolService returns the enrolment service of f on nc.
func NewEnrolService(f *Fleet, nc *nats.Conn, log zerolog.Logger) *EnrolService {
	return &EnrolService{f: f, nc: nc, lim: rate.NewLimiter(FailRate, FailBurst),
		log: log.With().Str("component", "enrol").Logger()}
}

// Run serves until ctx ends.
func (s *EnrolService) Run(ctx context.Context) error {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        "agentwatt-enrol",
		Version:     "1.0.0",
		Description: "enrols a runner's key with a single-use enrolment token",
	})
	if err != nil {
		return fmt.Errorf("enrolment service: %w", err)
	}
	defer svc.Stop()
	if err := svc.AddEndpoint("enrol", micro.ContextHandler(ctx, s.handle), micro.WithEndpointSubject(EnrolSubject)); err != nil {
		return fmt.Errorf("enrolment service: %w", err)
	}
	s.log.Info().Str("subject", EnrolSubject).Msg("serving enrolments")
	<-ctx.Done()
	return nil
}

// Error codes in the reply's Nats-Service-Error-Code header.
const (
	codeRefused  = "403"
	codeInvalid  = "400"
	codeConflict = "409"
	codeLimited  = "429"
	codeInternal = "500"
)

func (s *EnrolService) handle(ctx context.Context, req micro.Request) {
	if s.lim.Tokens() < 1 {
		s.log.Warn().Msg("enrolment refused: too many failed enrolments")
		_ = req.Error(codeLimited, "too many failed enrolments: try again later", nil)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, enrolTimeout)
	defer cancel()
	r, err := DecodeEnrolRequest(req.Data())
	var k Key
	if err == nil {
		k, err = s.f.Enrol(ctx, r)
	}
	if err != nil {
		s.lim.Allow() // count the failure
		code := codeInternal
		switch {
		case errors.Is(err, ErrInvalid):
			code = codeInvalid
		case errors.Is(err, ErrEnrolRefused):
			code = codeRefused
		case errors.Is(err, ErrKeyConflict), errors.Is(err, ErrKeyRevoked):
			code = codeConflict
		}
		tokenID, _ := ParseToken(r.Token) // never the token itself
		s.log.Warn().Err(err).Str("code", code).Str("token", tokenID).Str("name", r.Name).Str("instance", r.Instance).
			Str("pool", r.Pool).Msg("enrolment refused")
		_ = req.Error(code, err.Error(), nil)
		return
	}
	_ = req.RespondJSON(k)
}

// RequestEnrol presents r to the enrolment service on nc and returns the
// enrolled key's record.
func RequestEnrol(ctx context.Context, nc *nats.Conn, r EnrolRequest) (Key, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return Key{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, enrolTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, EnrolSubject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return Key{}, fmt.Errorf("enrol: no enrolment service answers on %s (run 'agentwatt server')", EnrolSubject)
	}
	if err != nil {
		return Key{}, fmt.Errorf("enrol: %w", err)
	}
	if desc := msg.Header.Get(micro.ErrorHeader); desc != "" {
		switch msg.Header.Get(micro.ErrorCodeHeader) {
		case codeRefused:
			return Key{}, fmt.Errorf("enrol: %w%s", ErrEnrolRefused, strings.TrimPrefix(desc, ErrEnrolRefused.Error()))
		case codeInvalid:
			return Key{}, fmt.Errorf("enrol: %w: %s", ErrInvalid, desc)
		case codeConflict:
			return Key{}, fmt.Errorf("enrol: %w: %s", ErrKeyConflict, desc)
		}
		return Key{}, fmt.Errorf("enrol: %s", desc)
	}
	var k Key
	if err := json.Unmarshal(msg.Data, &k); err != nil {
		return Key{}, fmt.Errorf("enrol: the reply: %w", err)
	}
	if !k.PublicKey.Equal(r.PublicKey) || k.Name != r.Name {
		return Key{}, fmt.Errorf("enrol: the reply names key %s (%s), not the one presented", k.Name, k.Fingerprint)
	}
	return k, nil
}
