package main

import (
	"reflect"
	"testing"
)

func TestParseLabelFilter(t *testing.T) {
	cases := map[string]labelFilter{
		"":                  {},
		"host=a":            {"host": "a"},
		"host=a&&zone=b&":   {"host": "a", "zone": "b"},
		"host":              {"host": ""},
		"host=a+b%2B%C3%A9": {"host": "a b+é"},
		"host=a=b":          {"host": "a=b"},
		"h%6Fst=x":          {"host": "x"},
	}
	for query, want := range cases {
		got, err := parseLabelFilter(query)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseLabelFilter(%q) = %v, %v; want %v", query, got, err, want)
		}
	}
}

func TestParseLabelFilterErrors(t *testing.T) {
	cases := map[string]string{
		"host=%zz":         msgQueryMalformed,
		"host=%4":          msgQueryMalformed,
		"%=a":              msgQueryMalformed,
		"9host=a":          msgQueryName,
		"__name__=a":       msgQueryName,
		"=a":               msgQueryName,
		"a:b=1":            msgQueryName,
		"host=a&host=b":    `query parameter "host" is repeated`,
		"host=a&9=x&bad=%": msgQueryName,
		"9=x&host=%zz":     msgQueryName,
	}
	for query, want := range cases {
		_, err := parseLabelFilter(query)
		if err == nil || err.message != want {
			t.Errorf("parseLabelFilter(%q) error = %v, want %q", query, err, want)
		}
	}
}

func TestLabelFilterMatches(t *testing.T) {
	labels := map[string]string{"host": "a", "zone": "b"}
	if !(labelFilter{}).matches(labels) || !(labelFilter{"host": "a"}).matches(labels) {
		t.Error("a subset of the labels must match")
	}
	if (labelFilter{"host": "b"}).matches(labels) || (labelFilter{"rack": ""}).matches(labels) {
		t.Error("a different or missing label must not match")
	}
}
