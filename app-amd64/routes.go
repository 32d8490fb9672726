package main

import (
	"io"
	"net/http"
	"strings"
)

// service holds the state shared by all handlers.
type service struct {
	identity identity
	store    *store
	requests *requestCounter
	logger   *requestLogger
}

func newService(id identity, logOutput io.Writer) *service {
	return &service{
		identity: id,
		store:    newStore(),
		requests: newRequestCounter(),
		logger:   &requestLogger{out: logOutput},
	}
}

// handler routes requests. Every route also answers other methods with a JSON
// 405 and an Allow header, and anything else gets a JSON 404 (the stock
// ServeMux answers in plain text, and redirects non-canonical paths).
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, http.MethodGet, "/healthz", s.healthz)
	s.route(mux, http.MethodGet, "/version", s.version)
	s.route(mux, http.MethodPost, "/v1/metrics", s.ingest)
	s.route(mux, http.MethodGet, "/v1/metrics/{name}", s.metricStats)
	s.route(mux, http.MethodGet, "/metrics", s.exposition)
	unmatched := s.instrument(routeUnmatched, notFound)
	mux.Handle("/", unmatched)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isCanonicalPath(r.URL.EscapedPath()) {
			unmatched.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// route registers one route template; a GET route also serves HEAD, as ServeMux does.
func (s *service) route(mux *http.ServeMux, method, template string, handler http.HandlerFunc) {
	allow := method
	if method == http.MethodGet {
		allow = "GET, HEAD"
	}
	mux.Handle(method+" "+template, s.instrument(template, handler))
	mux.Handle(template, s.instrument(template, methodNotAllowed(allow)))
}

// isCanonicalPath reports whether a path is absolute and has no empty, "." or
// ".." segment (a trailing slash is allowed). Other paths are answered 404.
func isCanonicalPath(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	segments := strings.Split(path[1:], "/")
	for i, segment := range segments {
		last := i == len(segments)-1
		if segment == "." || segment == ".." || (segment == "" && !last) {
			return false
		}
	}
	return true
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "not found")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}
