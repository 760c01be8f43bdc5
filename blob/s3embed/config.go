package s3embed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// DefaultAddr binds a free port on the IPv4 loopback.
const DefaultAddr = "127.0.0.1:0"

// Config says where the embedded gateway keeps its files and listens.
type Config struct {
	// Dir holds everything the gateway keeps: object data (Dir/data),
	// sidecar metadata (Dir/meta) and the credentials
	// (Dir/credentials.json). It is created if missing. A relative Dir is
	// resolved against the working directory at Start.
	Dir string
	// Addr is the listen address, "IP:PORT" on a loopback IP, or
	// "localhost:PORT". Port 0 (the default, DefaultAddr) picks a free port.
	// An address that binds all interfaces ("", ":7070", "0.0.0.0:…",
	// "[::]:…") or a non-loopback one is refused: the gateway has no TLS
	// and its root credentials sit in Dir.
	Addr string
	// Quiet silences versitygw's own banner and per-request log lines,
	// which it prints to stdout. agentwatt's commands set it so that
	// stdout carries only their results.
	Quiet bool
}

// Validate reports the problems in c.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("s3embed: Dir is required"))
	}
	if _, _, err := c.hostPort(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hostPort returns the loopback IP to bind and the port (0 = pick one).
func (c Config) hostPort() (net.IP, int, error) {
	addr := c.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("s3embed: Addr %q: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("s3embed: Addr %q: bad port", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		return nil, 0, fmt.Errorf("s3embed: Addr %q binds all interfaces; use a loopback address such as %s", addr, DefaultAddr)
	case ip == nil:
		return nil, 0, fmt.Errorf("s3embed: Addr %q: host must be a loopback IP or localhost", addr)
	case !ip.IsLoopback():
		return nil, 0, fmt.Errorf("s3embed: Addr %q is not a loopback address; the embedded gateway serves this machine only", addr)
	}
	return ip, port, nil
}
