package bots

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerConfig bounds what clients can hold of an HTTP server: how long a
// request may take to arrive, how long an answer may take to leave, how long
// an idle connection stays open and how many connections are open at once.
// The zero value of a field gives its default.
type ServerConfig struct {
	// ReadHeaderTimeout: the request line and headers (default 10s). A client
	// that sends headers byte by byte is cut off here.
	ReadHeaderTimeout time.Duration
	// ReadTimeout: the whole request, body included (default 60s; a
	// submission is at most 1 MiB).
	ReadTimeout time.Duration
	// WriteTimeout: from the end of the request headers to the end of the
	// answer (default 60s).
	WriteTimeout time.Duration
	// IdleTimeout: a kept-alive connection between requests (default 60s).
	IdleTimeout time.Duration
	// MaxHeaderBytes: request line and headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns: connections served at once (default 256). Further ones wait
	// in the kernel's accept queue until a slot frees, so a flood of idle
	// connections cannot take the process's file descriptors, which NATS and
	// S3 share in the local stack.
	MaxConns int
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 60 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	return c
}

// NewHTTPServer returns a server for h with cfg's timeouts and header limit.
// Serve it on LimitListener(ln, cfg) for the connection cap.
func NewHTTPServer(h http.Handler, cfg ServerConfig) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
}

// LimitListener caps the connections accepted from ln at cfg.MaxConns open
// at once.
func LimitListener(ln net.Listener, cfg ServerConfig) net.Listener {
	return netutil.LimitListener(ln, cfg.withDefaults().MaxConns)
}
