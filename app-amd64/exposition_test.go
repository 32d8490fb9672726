package main

import "testing"

func TestRenderLabels(t *testing.T) {
	if got := renderLabels(nil); got != "" {
		t.Errorf("empty label set rendered as %q", got)
	}
	got := renderLabels(map[string]string{"b": "x\\y", "a": "say \"hi\"\nbye"})
	want := `{a="say \"hi\"\nbye",b="x\\y"}`
	if got != want {
		t.Errorf("renderLabels = %q, want %q", got, want)
	}
}

func TestRenderExpositionSortsFamiliesAndLines(t *testing.T) {
	gauges := []gaugeLine{
		{name: "zeta", labelText: `{a="2"}`, value: 2},
		{name: "alpha", labelText: "", value: 1e21},
		{name: "zeta", labelText: `{a="1"}`, value: 0.5},
	}
	requests := []requestCount{
		{route: "/v1/metrics", status: 202, count: 3},
		{route: "/healthz", status: 200, count: 1000000},
	}
	want := "# TYPE alpha gauge\n" +
		"alpha 1e+21\n" +
		"# HELP metrics_api_http_requests_total HTTP requests handled, by route template and status code.\n" +
		"# TYPE metrics_api_http_requests_total counter\n" +
		"metrics_api_http_requests_total{route=\"/healthz\",status=\"200\"} 1000000\n" +
		"metrics_api_http_requests_total{route=\"/v1/metrics\",status=\"202\"} 3\n" +
		"# TYPE zeta gauge\n" +
		"zeta{a=\"1\"} 0.5\n" +
		"zeta{a=\"2\"} 2\n"
	if got := renderExposition(gauges, requests); got != want {
		t.Errorf("renderExposition:\n%s\nwant:\n%s", got, want)
	}
	if got := renderExposition(nil, nil); got != "" {
		t.Errorf("empty exposition = %q", got)
	}
}
