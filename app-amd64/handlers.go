package main

import (
	"errors"
	"io"
	"net/http"
)

type healthBody struct {
	Status string `json:"status"`
}

type acceptedBody struct {
	Accepted int `json:"accepted"`
}

func (s *service) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

func (s *service) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.identity)
}

// ingest stores one sample or a list of samples, all or nothing.
func (s *service) ingest(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err.status, err.message)
		return
	}
	samples, err := parseSamples(body)
	if err != nil {
		writeError(w, err.status, err.message)
		return
	}
	s.store.add(samples)
	writeJSON(w, http.StatusAccepted, acceptedBody{Accepted: len(samples)})
}

// readBody reads at most maxBodyBytes. A chunked body is refused (411) because
// the legacy implementation cannot read one; a larger body is refused (413).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *clientError) {
	if len(r.TransferEncoding) > 0 {
		return nil, &clientError{status: http.StatusLengthRequired, message: msgChunked}
	}
	if r.ContentLength > maxBodyBytes {
		return nil, &clientError{status: http.StatusRequestEntityTooLarge, message: msgTooLarge}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &clientError{status: http.StatusRequestEntityTooLarge, message: msgTooLarge}
	}
	if err != nil {
		return nil, badRequest(msgUnreadable)
	}
	return body, nil
}

func (s *service) metricStats(w http.ResponseWriter, r *http.Request) {
	filter, err := parseLabelFilter(r.URL.RawQuery)
	if err != nil {
		writeError(w, err.status, err.message)
		return
	}
	stats, err := s.store.stats(r.PathValue("name"), filter)
	if err != nil {
		writeError(w, err.status, err.message)
		return
	}
	writeJSON(w, http.StatusOK, stats)
}

func (s *service) exposition(w http.ResponseWriter, _ *http.Request) {
	writeText(w, expositionContentType, renderExposition(s.store.gauges(), s.requests.snapshot()))
}
