package scaler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// The EC2 Auto Scaling stand-in. No AWS account is reachable from the
// tests, so the AWS back-end is tested against an httptest server that
// speaks the Auto Scaling Query API (form-encoded Action=…&Version=
// 2011-01-01 requests, XML answers) over a small in-memory group. The
// real aws-sdk-go-v2 client talks to it through BaseEndpoint: request
// serialization, SigV4 signing and response parsing are the SDK's own, and
// the stand-in checks every signature with the test's secret key. What it
// does not model: cooldowns, health checks, launch templates, lifecycle
// hooks, instance warm-up, and that AWS terminates instances
// asynchronously (here a scale-in removes them at once).

const (
	standinRegion = "us-east-1"
	standinKeyID  = "AKIDSCALERTEST"
	standinSecret = "scaler-test-secret"
)

// asgModel is one Auto Scaling group.
type asgModel struct {
	mu         sync.Mutex
	name       string
	min, max   int
	desired    int
	instances  []*asgInstance
	terminated []string // instances a scale-in removed, in order
	next       int
	requests   []asgRequest
	// badSigOK: a request with a bad signature is refused (403) without
	// failing the test (the test that sends one).
	badSigOK bool
}

type asgInstance struct {
	id        string
	protected bool
}

// asgRequest is one request as the stand-in received it.
type asgRequest struct {
	Action string
	Params url.Values
}

func newASG(name string, min, max, n int) *asgModel {
	g := &asgModel{name: name, min: min, max: max}
	g.resize(n)
	return g
}

// resize launches or terminates (unprotected ones, newest first, as the
// default termination policy would pick among equals) to n.
func (g *asgModel) resize(n int) {
	g.desired = n
	for len(g.instances) < n {
		g.next++
		g.instances = append(g.instances, &asgInstance{id: fmt.Sprintf("i-%017d", g.next)})
	}
	for i := len(g.instances) - 1; i >= 0 && len(g.instances) > n; i-- {
		if !g.instances[i].protected {
			g.terminated = append(g.terminated, g.instances[i].id)
			g.instances = append(g.instances[:i], g.instances[i+1:]...)
		}
	}
}

func (g *asgModel) ids() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, in := range g.instances {
		out = append(out, in.id)
	}
	return out
}

func (g *asgModel) protectedIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, in := range g.instances {
		if in.protected {
			out = append(out, in.id)
		}
	}
	return out
}

func (g *asgModel) takeRequests() []asgRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.requests
	g.requests = nil
	return r
}

// startStandin serves g's Query API; each request must be SigV4-signed with
// the test credentials for service autoscaling.
func startStandin(t *testing.T, g *asgModel) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := checkSigV4(r, body); err != nil {
			if !g.badSigOK {
				t.Errorf("request not signed as SigV4 for autoscaling: %v", err)
			}
			queryError(w, 403, "SignatureDoesNotMatch", err.Error())
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.Method != http.MethodPost {
			t.Errorf("%s with Content-Type %q, want a form POST", r.Method, ct)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Version") != "2011-01-01" {
			queryError(w, 400, "InvalidAction", fmt.Sprintf("version %q", form.Get("Version")))
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.requests = append(g.requests, asgRequest{Action: form.Get("Action"), Params: form})
		g.serve(w, form)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (g *asgModel) serve(w http.ResponseWriter, form url.Values) {
	switch form.Get("Action") {
	case "DescribeAutoScalingGroups":
		if form.Get("AutoScalingGroupNames.member.1") != g.name {
			queryOK(w, "DescribeAutoScalingGroups", "<DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult>")
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><AutoScalingGroupName>%s</AutoScalingGroupName>"+
			"<MinSize>%d</MinSize><MaxSize>%d</MaxSize><DesiredCapacity>%d</DesiredCapacity><Instances>", g.name, g.min, g.max, g.desired)
		for _, in := range g.instances {
			fmt.Fprintf(&b, "<member><InstanceId>%s</InstanceId><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus>"+
				"<AvailabilityZone>us-east-1a</AvailabilityZone><ProtectedFromScaleIn>%t</ProtectedFromScaleIn></member>", in.id, in.protected)
		}
		b.WriteString("</Instances></member></AutoScalingGroups></DescribeAutoScalingGroupsResult>")
		queryOK(w, "DescribeAutoScalingGroups", b.String())
	case "SetDesiredCapacity":
		n, err := strconv.Atoi(form.Get("DesiredCapacity"))
		switch {
		case form.Get("AutoScalingGroupName") != g.name:
			queryError(w, 400, "ValidationError", "AutoScalingGroup name not found")
		case err != nil || n < g.min || n > g.max:
			queryError(w, 400, "ValidationError", fmt.Sprintf("New SetDesiredCapacity value %s is outside [%d, %d]", form.Get("DesiredCapacity"), g.min, g.max))
		default:
			g.resize(n)
			queryOK(w, "SetDesiredCapacity", "")
		}
	case "SetInstanceProtection":
		if form.Get("AutoScalingGroupName") != g.name {
			queryError(w, 400, "ValidationError", "AutoScalingGroup name not found")
			return
		}
		protect := form.Get("ProtectedFromScaleIn") == "true"
		for i := 1; form.Has("InstanceIds.member." + strconv.Itoa(i)); i++ {
			id := form.Get("InstanceIds.member." + strconv.Itoa(i))
			found := false
			for _, in := range g.instances {
				if in.id == id {
					in.protected, found = protect, true
				}
			}
			if !found {
				queryError(w, 400, "ValidationError", "The instance "+id+" is not part of Auto Scaling group "+g.name)
				return
			}
		}
		queryOK(w, "SetInstanceProtection", "<SetInstanceProtectionResult/>")
	default:
		queryError(w, 400, "InvalidAction", "unknown action "+form.Get("Action"))
	}
}

func queryOK(w http.ResponseWriter, action, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">%s<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></%sResponse>`,
		action, result, action)
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(msg))
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, esc.String())
}

// checkSigV4 recomputes the request's SigV4 signature with the test's
// secret key (the SDK's own signer, over what the server received) and
// compares it with the Authorization header.
func checkSigV4(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	wantPrefix := "AWS4-HMAC-SHA256 Credential=" + standinKeyID + "/"
	if !strings.HasPrefix(auth, wantPrefix) {
		return fmt.Errorf("Authorization %q", auth)
	}
	if !strings.Contains(auth, "/"+standinRegion+"/autoscaling/aws4_request") {
		return fmt.Errorf("credential scope of %q is not %s/autoscaling", auth, standinRegion)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	// Only the headers the client signed: Go's transport adds others
	// (Accept-Encoding) after signing.
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	req.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: standinKeyID, SecretAccessKey: standinSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "autoscaling", standinRegion, at); err != nil {
		return err
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return nil
}

// standinClient is a real Auto Scaling client for srv, built as
// `agentwatt scaler` builds it: the default credential chain (here the
// environment) and BaseEndpoint.
func standinClient(t *testing.T, srv *httptest.Server) *autoscaling.Client {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", standinKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", standinSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c, err := NewAutoScalingClient(context.Background(), standinRegion, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// members is a Query API list parameter (Name.member.1, …), sorted.
func members(v url.Values, name string) []string {
	var out []string
	for i := 1; v.Has(name + ".member." + strconv.Itoa(i)); i++ {
		out = append(out, v.Get(name+".member."+strconv.Itoa(i)))
	}
	sort.Strings(out)
	return out
}
