package main

import (
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestParseSamplesAcceptsOneObjectOrAList(t *testing.T) {
	samples, err := parseSamples([]byte(`{"name":"up","value":1}`))
	if err != nil || len(samples) != 1 || samples[0].name != "up" || samples[0].value != 1 || len(samples[0].labels) != 0 {
		t.Fatalf("single object: got %+v, %v", samples, err)
	}
	samples, err = parseSamples([]byte(`[{"name":"a:b","value":-2.5,"labels":{"host":"x"}},{"name":"_c","value":1e300}]`))
	if err != nil || len(samples) != 2 {
		t.Fatalf("list: got %+v, %v", samples, err)
	}
	if samples[0].labels["host"] != "x" || samples[1].value != 1e300 {
		t.Fatalf("list: unexpected samples %+v", samples)
	}
}

func TestParseSamplesNormalisesNegativeZero(t *testing.T) {
	samples, err := parseSamples([]byte(`{"name":"z","value":-0}`))
	if err != nil {
		t.Fatal(err)
	}
	if math.Signbit(samples[0].value) {
		t.Fatalf("value -0 was stored with its sign")
	}
}

func TestParseSamplesReportsTheFirstErrorInContractOrder(t *testing.T) {
	cases := []struct {
		body    string
		message string
	}{
		{``, msgNotJSON},
		{`{`, msgNotJSON},
		{`{"name":"a","value":1} x`, msgNotJSON},
		{`{"name":"a","value":NaN}`, msgNotJSON},
		{`{"name":"a","value":Infinity}`, msgNotJSON},
		{"\xff", msgNotJSON},
		{"\ufeff{}", msgNotJSON},
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), msgTooDeep},
		{strings.Repeat("[", 40), msgTooDeep},
		{`"text"`, msgWrongShape},
		{`42`, msgWrongShape},
		{`null`, msgWrongShape},
		{`[]`, msgEmptyList},
		{`[1]`, "sample 0: must be a JSON object"},
		{`[{"name":"a","value":1},[]]`, "sample 1: must be a JSON object"},
		{`{"name":"a","value":1,"zeta":1,"extra":2}`, `sample 0: unknown field "extra"`},
		{`{"value":1}`, "sample 0: name is required"},
		{`{"name":null,"value":1}`, "sample 0: name must be a string"},
		{`{"name":"1a","value":1}`, `sample 0: name "1a" does not match [a-zA-Z_:][a-zA-Z0-9_:]*`},
		{`{"name":"","value":1}`, `sample 0: name "" does not match [a-zA-Z_:][a-zA-Z0-9_:]*`},
		{`{"name":"caf\u00e9","value":1}`, `sample 0: name "café" does not match [a-zA-Z_:][a-zA-Z0-9_:]*`},
		{`{"name":"metrics_api_x","value":1}`, `sample 0: name "metrics_api_x" uses the reserved prefix metrics_api_`},
		{`{"name":"a"}`, "sample 0: value is required"},
		{`{"name":"a","value":"1"}`, "sample 0: value must be a JSON number"},
		{`{"name":"a","value":true}`, "sample 0: value must be a JSON number"},
		{`{"name":"a","value":null}`, "sample 0: value must be a JSON number"},
		{`{"name":"a","value":1e400}`, "sample 0: value must be a finite number"},
		{`{"name":"a","value":-1e400}`, "sample 0: value must be a finite number"},
		{`{"name":"a","value":1,"labels":null}`, "sample 0: labels must be a JSON object"},
		{`{"name":"a","value":1,"labels":["x"]}`, "sample 0: labels must be a JSON object"},
		{`{"name":"a","value":1,"labels":{"b":"1","a:b":"2"}}`, `sample 0: label name "a:b" does not match [a-zA-Z_][a-zA-Z0-9_]*`},
		{`{"name":"a","value":1,"labels":{"__x":"1"}}`, `sample 0: label name "__x" is reserved (starts with __)`},
		{`{"name":"a","value":1,"labels":{"x":1}}`, `sample 0: label "x" value must be a string`},
		{`{"name":"a","value":1,"labels":{"x":""}}`, `sample 0: label "x" value must not be empty`},
		{`{"name":"1a","value":"x","extra":1}`, `sample 0: unknown field "extra"`},
		{`{"name":"1a","value":"x"}`, `sample 0: name "1a" does not match [a-zA-Z_:][a-zA-Z0-9_:]*`},
	}
	for _, c := range cases {
		samples, err := parseSamples([]byte(c.body))
		if err == nil {
			t.Errorf("%q: accepted as %+v", c.body, samples)
			continue
		}
		if err.status != http.StatusBadRequest || err.message != c.message {
			t.Errorf("%q: got %d %q, want 400 %q", c.body, err.status, err.message, c.message)
		}
	}
}

func TestParseSamplesIsAllOrNothing(t *testing.T) {
	samples, err := parseSamples([]byte(`[{"name":"ok","value":1},{"name":"ok","value":"bad"}]`))
	if err == nil || samples != nil {
		t.Fatalf("a list with one bad sample was accepted: %+v", samples)
	}
}

func TestParseSamplesReplacesLoneSurrogates(t *testing.T) {
	samples, err := parseSamples([]byte(`{"name":"a","value":1,"labels":{"x":"\ud800!"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := samples[0].labels["x"]; got != "\ufffd!" {
		t.Fatalf("label value %q, want U+FFFD then !", got)
	}
}

func TestJSONDepthIgnoresBracketsInStrings(t *testing.T) {
	cases := map[string]int{
		`{}`:                  1,
		`[{"a":{"b":[]}}]`:    4,
		`["[[[[", "\"[["]`:    1,
		`"unterminated [[[`:   0,
		`]]][[`:               0, // depth counts from the start, closing brackets first go below it
		`{"a":"\\"}[`:         1,
		`["\\\"[", {"b":[]}]`: 3,
	}
	for body, want := range cases {
		if got := jsonDepth([]byte(body)); got != want {
			t.Errorf("jsonDepth(%q) = %d, want %d", body, got, want)
		}
	}
}

func TestNameRules(t *testing.T) {
	for name, want := range map[string]bool{"a": true, "_": true, ":": true, "a:b_c9": true, "9a": false, "": false, "a-b": false, "é": false} {
		if got := isMetricName(name); got != want {
			t.Errorf("isMetricName(%q) = %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]bool{"a": true, "_a9": true, "a:b": false, "9": false, "": false} {
		if got := isLabelName(name); got != want {
			t.Errorf("isLabelName(%q) = %v, want %v", name, got, want)
		}
	}
}
