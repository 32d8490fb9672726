package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// routeUnmatched is the route label of requests that match no route.
const routeUnmatched = "unmatched"

type routeStatus struct {
	route  string
	status int
}

// requestCount is one metrics_api_http_requests_total series.
type requestCount struct {
	route  string
	status int
	count  int64
}

// requestCounter counts handled requests by route template and status code.
type requestCounter struct {
	mu     sync.Mutex
	counts map[routeStatus]int64
}

func newRequestCounter() *requestCounter {
	return &requestCounter{counts: map[routeStatus]int64{}}
}

func (c *requestCounter) record(route string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[routeStatus{route: route, status: status}]++
}

func (c *requestCounter) snapshot() []requestCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := make([]requestCount, 0, len(c.counts))
	for key, count := range c.counts {
		counts = append(counts, requestCount{route: key.route, status: key.status, count: count})
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].route != counts[j].route {
			return counts[i].route < counts[j].route
		}
		return counts[i].status < counts[j].status
	})
	return counts
}

// requestLogger writes one line per request; a mutex keeps lines whole.
type requestLogger struct {
	mu  sync.Mutex
	out io.Writer
}

func (l *requestLogger) log(r *http.Request, status int, duration time.Duration) {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "%s method=%q path=%q status=%d duration_ms=%.3f\n",
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), r.Method, path, status,
		float64(duration.Microseconds())/1000)
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(data []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(data)
}

// instrument counts and logs every request of a route, and turns a panic into
// a JSON 500 so that a bug never drops the connection without an answer.
// The count is recorded before the server sends the response, so a client that
// reads /metrics right after a response sees that response counted.
func (s *service) instrument(route string, handler http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		recorder := &statusRecorder{ResponseWriter: w}
		defer func() {
			if recovered := recover(); recovered != nil {
				fmt.Fprintf(os.Stderr, "metrics-api: panic serving %s %s: %v\n", r.Method, r.URL.Path, recovered)
				if recorder.status == 0 {
					writeError(recorder, http.StatusInternalServerError, "internal error")
				}
			}
			status := recorder.status
			if status == 0 {
				status = http.StatusOK
			}
			s.requests.record(route, status)
			s.logger.log(r, status, time.Since(start))
		}()
		handler(recorder, r)
	})
}
