package main

import (
	"net/http"
	"net/url"
	"strings"
)

const (
	msgQueryMalformed = "query string is malformed"
	msgQueryName      = "query parameter names must be label names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with __"
)

// labelFilter is the ?label=value filter of GET /v1/metrics/{name}; every pair must match.
type labelFilter map[string]string

// parseLabelFilter reads a raw query string pair by pair, in order, so the first
// problem reported is the same in both implementations. Pairs are separated by
// "&", empty pairs are skipped, a pair without "=" has the empty value, and
// "+" means a space (as in url.ParseQuery). A repeated name is refused: a label
// has one value, so a repeated filter could never match.
func parseLabelFilter(rawQuery string) (labelFilter, *clientError) {
	filter := labelFilter{}
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, errKey := url.QueryUnescape(rawKey)
		value, errValue := url.QueryUnescape(rawValue)
		if errKey != nil || errValue != nil {
			return nil, badRequest(msgQueryMalformed)
		}
		if !isLabelName(key) || strings.HasPrefix(key, reservedLabel) {
			return nil, badRequest(msgQueryName)
		}
		if _, repeated := filter[key]; repeated {
			return nil, &clientError{status: http.StatusBadRequest, message: "query parameter \"" + key + "\" is repeated"}
		}
		filter[key] = value
	}
	return filter, nil
}

// matches reports whether every filter pair is among the labels.
func (f labelFilter) matches(labels map[string]string) bool {
	for key, want := range f {
		if got, ok := labels[key]; !ok || got != want {
			return false
		}
	}
	return true
}
