package main

import "strconv"

// formatFloat is the contract's one float format, used in JSON bodies and in
// the exposition alike: Go's shortest round-trip 'g' format, which is what
// Prometheus clients write. Examples: 3 -> "3", 0.1 -> "0.1",
// 1e6 -> "1e+06", 1e21 -> "1e+21", 1e-5 -> "1e-05".
func formatFloat(value float64) string {
	return strconv.FormatFloat(value, 'g', -1, 64)
}
