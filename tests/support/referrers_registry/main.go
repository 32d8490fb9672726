// A registry that serves the OCI 1.1 referrers API, for the tests: go-containerregistry's
// in-memory registry (the one `crane registry serve` runs) with its referrers endpoint
// switched on, which `crane registry serve` leaves off. Neither CNCF distribution 2.8 nor
// v3 serves `GET /v2/<name>/referrers/<digest>`.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "address to listen on")
	flag.Parse()
	handler := registry.New(registry.WithReferrersSupport(true))
	server := &http.Server{Addr: *address, Handler: handler}
	log.Fatal(server.ListenAndServe())
}
