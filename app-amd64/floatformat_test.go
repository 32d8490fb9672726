package main

import (
	"math"
	"testing"
)

// The same table is in app-arm64/tests/test_floatformat.py.
func TestFormatFloat(t *testing.T) {
	cases := []struct {
		value float64
		want  string
	}{
		{0, "0"},
		{3, "3"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{123456, "123456"},
		{999999, "999999"},
		{1e6, "1e+06"},
		{1234567, "1.234567e+06"},
		{1e21, "1e+21"},
		{1e100, "1e+100"},
		{0.0001, "0.0001"},
		{1e-5, "1e-05"},
		{0.00001234, "1.234e-05"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1 << 53, "9.007199254740992e+15"},
		{0.30000000000000004, "0.30000000000000004"},
	}
	for _, c := range cases {
		if got := formatFloat(c.value); got != c.want {
			t.Errorf("formatFloat(%v) = %q, want %q", c.value, got, c.want)
		}
	}
}

func TestNumberMarshalsNonFiniteAsNull(t *testing.T) {
	for _, value := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		got, err := number(value).MarshalJSON()
		if err != nil || string(got) != "null" {
			t.Errorf("number(%v) = %q, %v; want null", value, got, err)
		}
	}
	got, _ := number(1e21).MarshalJSON()
	if string(got) != "1e+21" {
		t.Errorf("number(1e21) = %q", got)
	}
}
