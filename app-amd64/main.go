// Command metrics-api is the Go implementation of the metrics-api service.
//
// It keeps metric samples in memory and serves them over HTTP. Its HTTP
// behaviour is a contract shared with the legacy Python implementation in
// app-arm64/, written down in tests/contract/CONTRACT.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = defaultVersion
	revision = defaultRevision
)

const (
	serviceName     = "metrics-api"
	defaultVersion  = "2.0.0"
	defaultRevision = "unknown"
	defaultPort     = "8080"
	shutdownTimeout = 10 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "metrics-api: %v\n", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT, then drains in-flight requests.
func run() error {
	address, err := listenAddress(os.Getenv("PORT"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	service := newService(buildIdentity(), os.Stdout)
	server := &http.Server{
		Handler:           service.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	// "tcp4": with "tcp", Go would open a dual-stack [::] socket instead of 0.0.0.0.
	listener, err := net.Listen("tcp4", address)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "metrics-api %s (go) listening on %s\n", service.identity.Version, address)

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(os.Stdout, "metrics-api stopped")
	return nil
}

// listenAddress turns the PORT variable into an address on all IPv4 interfaces.
func listenAddress(port string) (string, error) {
	if port == "" {
		port = defaultPort
	}
	number, err := strconv.Atoi(port)
	if err != nil || number < 1 || number > 65535 {
		return "", fmt.Errorf("PORT must be a number from 1 to 65535, got %q", port)
	}
	return net.JoinHostPort("0.0.0.0", strconv.Itoa(number)), nil
}

// buildIdentity describes this binary for GET /version; empty build values fall back to defaults.
func buildIdentity() identity {
	return identity{
		Service:        serviceName,
		Version:        orDefault(version, defaultVersion),
		Revision:       orDefault(revision, defaultRevision),
		Implementation: "go",
		OS:             runtime.GOOS,
		Arch:           runtime.GOARCH,
	}
}

func orDefault(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}
