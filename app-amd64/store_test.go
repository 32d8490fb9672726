package main

import (
	"math"
	"net/http"
	"testing"
)

func TestStoreStatsAggregatesMatchingSeries(t *testing.T) {
	s := newStore()
	s.add([]sample{
		{name: "temp", value: 3, labels: map[string]string{"room": "a"}},
		{name: "temp", value: -1, labels: map[string]string{"room": "b"}},
		{name: "temp", value: 10, labels: map[string]string{"room": "a"}},
		{name: "other", value: 7, labels: map[string]string{}},
	})
	all, err := s.stats("temp", labelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := metricStats{Name: "temp", Count: 3, Sum: 12, Min: -1, Max: 10, Last: 10}
	if all != want {
		t.Errorf("stats = %+v, want %+v", all, want)
	}
	roomB, err := s.stats("temp", labelFilter{"room": "b"})
	if err != nil || roomB != (metricStats{Name: "temp", Count: 1, Sum: -1, Min: -1, Max: -1, Last: -1}) {
		t.Errorf("filtered stats = %+v, %v", roomB, err)
	}
}

func TestStoreStatsNotFound(t *testing.T) {
	s := newStore()
	s.add([]sample{{name: "temp", value: 1, labels: map[string]string{"room": "a"}}})
	if _, err := s.stats("missing", labelFilter{}); err == nil || err.status != http.StatusNotFound || err.message != msgUnknownMetric {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := s.stats("temp", labelFilter{"room": "z"}); err == nil || err.status != http.StatusNotFound || err.message != msgNoMatch {
		t.Errorf("filter matching nothing: %v", err)
	}
}

func TestStoreSumOverflowIsInfinite(t *testing.T) {
	s := newStore()
	s.add([]sample{{name: "big", value: math.MaxFloat64}, {name: "big", value: math.MaxFloat64}})
	stats, err := s.stats("big", labelFilter{})
	if err != nil || !math.IsInf(float64(stats.Sum), 1) {
		t.Fatalf("sum = %v, %v; want +Inf (written as null)", stats.Sum, err)
	}
}

func TestStoreGaugesKeepTheLastValuePerSeries(t *testing.T) {
	s := newStore()
	s.add([]sample{{name: "g", value: 1}, {name: "g", value: 2}, {name: "g", value: 5, labels: map[string]string{"k": "v"}}})
	got := map[string]float64{}
	for _, line := range s.gauges() {
		got[line.name+line.labelText] = line.value
	}
	if len(got) != 2 || got["g"] != 2 || got[`g{k="v"}`] != 5 {
		t.Errorf("gauges = %v", got)
	}
}
