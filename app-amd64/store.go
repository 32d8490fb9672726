package main

import (
	"net/http"
	"sync"
)

const (
	msgUnknownMetric = "metric not found"
	msgNoMatch       = "no series of this metric match the label filter"
)

// series aggregates the samples of one name and label set, so memory grows
// with the number of series, not with the number of samples.
type series struct {
	labels       map[string]string
	labelText    string
	count        int64
	sum          float64
	min          float64
	max          float64
	last         float64
	lastSequence uint64
}

// family holds the series of one metric name in order of first appearance.
type family struct {
	series   []*series
	byLabels map[string]*series
}

// store is the in-memory metric store shared by all requests.
type store struct {
	mu       sync.Mutex
	families map[string]*family
	sequence uint64
}

func newStore() *store {
	return &store{families: map[string]*family{}}
}

// add records validated samples in order, all under one lock.
func (s *store) add(samples []sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sample := range samples {
		s.sequence++
		s.seriesFor(sample).observe(sample.value, s.sequence)
	}
}

func (s *store) seriesFor(sample sample) *series {
	f, ok := s.families[sample.name]
	if !ok {
		f = &family{byLabels: map[string]*series{}}
		s.families[sample.name] = f
	}
	text := renderLabels(sample.labels)
	found, ok := f.byLabels[text]
	if !ok {
		found = &series{labels: sample.labels, labelText: text}
		f.byLabels[text] = found
		f.series = append(f.series, found)
	}
	return found
}

func (s *series) observe(value float64, sequence uint64) {
	if s.count == 0 || value < s.min {
		s.min = value
	}
	if s.count == 0 || value > s.max {
		s.max = value
	}
	s.count++
	s.sum += value
	s.last = value
	s.lastSequence = sequence
}

// metricStats is the body of GET /v1/metrics/{name}; field order is part of the contract.
type metricStats struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	Sum   number `json:"sum"`
	Min   number `json:"min"`
	Max   number `json:"max"`
	Last  number `json:"last"`
}

// stats combines the matching series of a name. Series sums are added in order
// of first appearance, which both implementations follow so the float result is identical.
func (s *store) stats(name string, filter labelFilter) (metricStats, *clientError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[name]
	if !ok {
		return metricStats{}, &clientError{status: http.StatusNotFound, message: msgUnknownMetric}
	}
	result := metricStats{Name: name}
	var lastSequence uint64
	for _, series := range f.series {
		if !filter.matches(series.labels) {
			continue
		}
		if result.Count == 0 || number(series.min) < result.Min {
			result.Min = number(series.min)
		}
		if result.Count == 0 || number(series.max) > result.Max {
			result.Max = number(series.max)
		}
		if series.lastSequence > lastSequence {
			lastSequence = series.lastSequence
			result.Last = number(series.last)
		}
		result.Count += series.count
		result.Sum += number(series.sum)
	}
	if result.Count == 0 {
		return metricStats{}, &clientError{status: http.StatusNotFound, message: msgNoMatch}
	}
	return result, nil
}

// gaugeLine is one stored series as the exposition writes it.
type gaugeLine struct {
	name      string
	labelText string
	value     float64
}

// gauges copies the last value of every series, for the exposition.
func (s *store) gauges() []gaugeLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]gaugeLine, 0, len(s.families))
	for name, f := range s.families {
		for _, series := range f.series {
			lines = append(lines, gaugeLine{name: name, labelText: series.labelText, value: series.last})
		}
	}
	return lines
}
