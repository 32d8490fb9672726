package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits and messages of POST /v1/metrics. The messages are part of the
// contract: the Python implementation returns the very same strings.
const (
	maxBodyBytes   = 1 << 20
	maxJSONDepth   = 32
	reservedPrefix = "metrics_api_"

	msgNotJSON     = "request body is not valid JSON"
	msgTooDeep     = "request body nests JSON deeper than 32 levels"
	msgWrongShape  = "request body must be a JSON object or a list of JSON objects"
	msgEmptyList   = "request body must contain at least one sample"
	msgTooLarge    = "request body exceeds 1048576 bytes"
	msgChunked     = "chunked request bodies are not supported; send Content-Length"
	msgUnreadable  = "request body could not be read"
	metricNameRule = "[a-zA-Z_:][a-zA-Z0-9_:]*"
	labelNameRule  = "[a-zA-Z_][a-zA-Z0-9_]*"
	reservedLabel  = "__"
)

// sample is one validated metric sample.
type sample struct {
	name   string
	value  float64
	labels map[string]string
}

// clientError is a request the service refuses, with the status to answer.
type clientError struct {
	status  int
	message string
}

func (e *clientError) Error() string { return e.message }

func badRequest(message string) *clientError {
	return &clientError{status: http.StatusBadRequest, message: message}
}

func sampleError(index int, format string, args ...any) *clientError {
	return badRequest(fmt.Sprintf("sample %d: ", index) + fmt.Sprintf(format, args...))
}

// parseSamples validates a whole request body; one bad sample rejects all of them.
// The checks run in a fixed order so both implementations report the same first error.
func parseSamples(body []byte) ([]sample, *clientError) {
	if !utf8.Valid(body) {
		return nil, badRequest(msgNotJSON)
	}
	if jsonDepth(body) > maxJSONDepth {
		return nil, badRequest(msgTooDeep)
	}
	if !json.Valid(body) {
		return nil, badRequest(msgNotJSON)
	}
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	var document any
	if err := decoder.Decode(&document); err != nil {
		return nil, badRequest(msgNotJSON)
	}
	var items []any
	switch value := document.(type) {
	case map[string]any:
		items = []any{value}
	case []any:
		if len(value) == 0 {
			return nil, badRequest(msgEmptyList)
		}
		items = value
	default:
		return nil, badRequest(msgWrongShape)
	}
	samples := make([]sample, 0, len(items))
	for index, item := range items {
		parsed, err := parseSample(index, item)
		if err != nil {
			return nil, err
		}
		samples = append(samples, parsed)
	}
	return samples, nil
}

// jsonDepth is the deepest bracket nesting outside strings. It bounds the work
// of the JSON parsers, and both implementations compute it the same way.
func jsonDepth(body []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func parseSample(index int, item any) (sample, *clientError) {
	fields, ok := item.(map[string]any)
	if !ok {
		return sample{}, sampleError(index, "must be a JSON object")
	}
	if unknown, found := firstUnknownField(fields); found {
		return sample{}, sampleError(index, "unknown field \"%s\"", unknown)
	}
	name, err := parseName(index, fields)
	if err != nil {
		return sample{}, err
	}
	value, err := parseValue(index, fields)
	if err != nil {
		return sample{}, err
	}
	labels, err := parseLabels(index, fields)
	if err != nil {
		return sample{}, err
	}
	return sample{name: name, value: value, labels: labels}, nil
}

// firstUnknownField returns the smallest field name that is not part of a sample.
func firstUnknownField(fields map[string]any) (string, bool) {
	var unknown []string
	for key := range fields {
		if key != "name" && key != "value" && key != "labels" {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) == 0 {
		return "", false
	}
	sort.Strings(unknown)
	return unknown[0], true
}

func parseName(index int, fields map[string]any) (string, *clientError) {
	raw, present := fields["name"]
	if !present {
		return "", sampleError(index, "name is required")
	}
	name, ok := raw.(string)
	if !ok {
		return "", sampleError(index, "name must be a string")
	}
	if !isMetricName(name) {
		return "", sampleError(index, "name \"%s\" does not match %s", name, metricNameRule)
	}
	if strings.HasPrefix(name, reservedPrefix) {
		return "", sampleError(index, "name \"%s\" uses the reserved prefix %s", name, reservedPrefix)
	}
	return name, nil
}

func parseValue(index int, fields map[string]any) (float64, *clientError) {
	raw, present := fields["value"]
	if !present {
		return 0, sampleError(index, "value is required")
	}
	literal, ok := raw.(json.Number)
	if !ok {
		return 0, sampleError(index, "value must be a JSON number")
	}
	value, err := strconv.ParseFloat(string(literal), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, sampleError(index, "value must be a JSON number")
	}
	if math.IsInf(value, 0) || math.IsNaN(value) {
		return 0, sampleError(index, "value must be a finite number")
	}
	if value == 0 {
		value = 0 // store -0 as 0: Python's json reads the literal -0 as the integer 0
	}
	return value, nil
}

func parseLabels(index int, fields map[string]any) (map[string]string, *clientError) {
	labels := map[string]string{}
	raw, present := fields["labels"]
	if !present {
		return labels, nil
	}
	object, ok := raw.(map[string]any)
	if !ok {
		return nil, sampleError(index, "labels must be a JSON object")
	}
	keys := make([]string, 0, len(object))
	for key := range object {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !isLabelName(key) {
			return nil, sampleError(index, "label name \"%s\" does not match %s", key, labelNameRule)
		}
		if strings.HasPrefix(key, reservedLabel) {
			return nil, sampleError(index, "label name \"%s\" is reserved (starts with __)", key)
		}
		value, ok := object[key].(string)
		if !ok {
			return nil, sampleError(index, "label \"%s\" value must be a string", key)
		}
		if value == "" {
			return nil, sampleError(index, "label \"%s\" value must not be empty", key)
		}
		labels[key] = value
	}
	return labels, nil
}

// isMetricName reports whether name matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func isMetricName(name string) bool {
	return matchesName(name, ":")
}

// isLabelName reports whether name matches [a-zA-Z_][a-zA-Z0-9_]*.
func isLabelName(name string) bool {
	return matchesName(name, "")
}

func matchesName(name, extra string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || strings.IndexByte(extra, c) >= 0
		digit := c >= '0' && c <= '9'
		if !letter && !(digit && i > 0) {
			return false
		}
	}
	return true
}
