package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestService() (*service, *bytes.Buffer) {
	var logs bytes.Buffer
	id := identity{Service: serviceName, Version: "9.9.9", Revision: "abc", Implementation: "go", OS: "linux", Arch: "amd64"}
	return newService(id, &logs), &logs
}

func do(t *testing.T, handler http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	request := httptest.NewRequest(method, target, strings.NewReader(body))
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)
	return recorder
}

func expect(t *testing.T, got *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if got.Code != status || got.Body.String() != body {
		t.Errorf("got %d %q, want %d %q", got.Code, got.Body.String(), status, body)
	}
}

func TestHealthzAndVersion(t *testing.T) {
	s, _ := newTestService()
	h := s.handler()
	got := do(t, h, "GET", "/healthz", "")
	expect(t, got, 200, "{\"status\":\"ok\"}\n")
	if ct := got.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	expect(t, do(t, h, "GET", "/version", ""), 200,
		`{"service":"metrics-api","version":"9.9.9","revision":"abc","implementation":"go","os":"linux","arch":"amd64"}`+"\n")
}

func TestIngestThenStats(t *testing.T) {
	s, _ := newTestService()
	h := s.handler()
	expect(t, do(t, h, "POST", "/v1/metrics", `{"name":"temp","value":3,"labels":{"room":"a"}}`), 202, "{\"accepted\":1}\n")
	expect(t, do(t, h, "POST", "/v1/metrics", `[{"name":"temp","value":0.5,"labels":{"room":"b"}},{"name":"temp","value":1e21}]`), 202, "{\"accepted\":2}\n")
	expect(t, do(t, h, "GET", "/v1/metrics/temp", ""), 200, `{"name":"temp","count":3,"sum":1e+21,"min":0.5,"max":1e+21,"last":1e+21}`+"\n")
	expect(t, do(t, h, "GET", "/v1/metrics/temp?room=a", ""), 200, `{"name":"temp","count":1,"sum":3,"min":3,"max":3,"last":3}`+"\n")
	expect(t, do(t, h, "GET", "/v1/metrics/temp?room=z", ""), 404, `{"error":"no series of this metric match the label filter"}`+"\n")
	expect(t, do(t, h, "GET", "/v1/metrics/nothing", ""), 404, `{"error":"metric not found"}`+"\n")
	expect(t, do(t, h, "GET", "/v1/metrics/nothing?room=a&room=b", ""), 400, `{"error":"query parameter \"room\" is repeated"}`+"\n")
}

func TestIngestRefusals(t *testing.T) {
	s, _ := newTestService()
	h := s.handler()
	expect(t, do(t, h, "POST", "/v1/metrics", `[]`), 400, `{"error":"request body must contain at least one sample"}`+"\n")
	expect(t, do(t, h, "POST", "/v1/metrics", `{"name":"a<b>&","value":1}`), 400,
		`{"error":"sample 0: name \"a<b>&\" does not match [a-zA-Z_:][a-zA-Z0-9_:]*"}`+"\n")

	huge := `{"name":"a","value":1,"labels":{"x":"` + strings.Repeat("y", maxBodyBytes) + `"}}`
	expect(t, do(t, h, "POST", "/v1/metrics", huge), 413, `{"error":"request body exceeds 1048576 bytes"}`+"\n")

	exact := `{"name":"a","value":1,"labels":{"x":"`
	exact += strings.Repeat("y", maxBodyBytes-len(exact)-3) + `"}}`
	expect(t, do(t, h, "POST", "/v1/metrics", exact), 202, "{\"accepted\":1}\n")

	chunked := httptest.NewRequest("POST", "/v1/metrics", strings.NewReader(`{"name":"a","value":1}`))
	chunked.TransferEncoding = []string{"chunked"}
	chunked.ContentLength = -1
	recorder := httptest.NewRecorder()
	h.ServeHTTP(recorder, chunked)
	expect(t, recorder, 411, `{"error":"chunked request bodies are not supported; send Content-Length"}`+"\n")
}

func TestUnknownRoutesAndWrongMethods(t *testing.T) {
	s, _ := newTestService()
	h := s.handler()
	for _, target := range []string{"/", "/nope", "/healthz/", "/v1/metrics/", "/v1/metrics/a/b", "//healthz", "/v1/./metrics", "/v1/metrics/.."} {
		expect(t, do(t, h, "GET", target, ""), 404, "{\"error\":\"not found\"}\n")
	}
	cases := []struct{ method, target, allow string }{
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/version", "GET, HEAD"},
		{"GET", "/v1/metrics", "POST"},
		{"HEAD", "/v1/metrics", "POST"},
		{"PUT", "/v1/metrics/x", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
	}
	for _, c := range cases {
		got := do(t, h, c.method, c.target, "")
		if got.Code != 405 || got.Header().Get("Allow") != c.allow || got.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: got %d Allow=%q", c.method, c.target, got.Code, got.Header().Get("Allow"))
		}
	}
	// Path segments are matched after percent-decoding, as ServeMux does.
	expect(t, do(t, h, "GET", "/%68ealthz", ""), 200, "{\"status\":\"ok\"}\n")
}

func TestHeadServesGetRoutes(t *testing.T) {
	s, _ := newTestService()
	got := do(t, s.handler(), "HEAD", "/healthz", "")
	if got.Code != 200 || got.Header().Get("Content-Length") != "16" {
		t.Errorf("HEAD /healthz: %d, Content-Length %q", got.Code, got.Header().Get("Content-Length"))
	}
}

func TestMetricsExpositionCountsRequests(t *testing.T) {
	s, logs := newTestService()
	h := s.handler()
	do(t, h, "GET", "/healthz", "")
	do(t, h, "POST", "/v1/metrics", `{"name":"up","value":1,"labels":{"job":"a\"b"}}`)
	do(t, h, "GET", "/nope", "")
	do(t, h, "DELETE", "/v1/metrics/up", "")
	got := do(t, h, "GET", "/metrics", "")
	want := "# HELP metrics_api_http_requests_total HTTP requests handled, by route template and status code.\n" +
		"# TYPE metrics_api_http_requests_total counter\n" +
		"metrics_api_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n" +
		"metrics_api_http_requests_total{route=\"/v1/metrics\",status=\"202\"} 1\n" +
		"metrics_api_http_requests_total{route=\"/v1/metrics/{name}\",status=\"405\"} 1\n" +
		"metrics_api_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n" +
		"# TYPE up gauge\n" +
		"up{job=\"a\\\"b\"} 1\n"
	expect(t, got, 200, want)
	if ct := got.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], `method="POST" path="/v1/metrics" status=202 duration_ms=`) {
		t.Errorf("request log:\n%s", logs.String())
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	s, _ := newTestService()
	h := s.instrument("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	expect(t, do(t, h, "GET", "/boom", ""), 500, "{\"error\":\"internal error\"}\n")
	if counts := s.requests.snapshot(); len(counts) != 1 || counts[0] != (requestCount{route: "/boom", status: 500, count: 1}) {
		t.Errorf("counts = %+v", counts)
	}
}

func TestListenAddress(t *testing.T) {
	for port, want := range map[string]string{"": "0.0.0.0:8080", "9000": "0.0.0.0:9000"} {
		if got, err := listenAddress(port); err != nil || got != want {
			t.Errorf("listenAddress(%q) = %q, %v", port, got, err)
		}
	}
	for _, port := range []string{"0", "65536", "http", "-1"} {
		if _, err := listenAddress(port); err == nil {
			t.Errorf("listenAddress(%q) accepted", port)
		}
	}
}

func TestBuildIdentityFallsBackToDefaults(t *testing.T) {
	savedVersion, savedRevision := version, revision
	defer func() { version, revision = savedVersion, savedRevision }()
	version, revision = "", ""
	id := buildIdentity()
	if id.Version != defaultVersion || id.Revision != defaultRevision || id.Implementation != "go" || id.Service != "metrics-api" {
		t.Errorf("identity = %+v", id)
	}
}
