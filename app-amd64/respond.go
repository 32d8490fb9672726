package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

const jsonContentType = "application/json"

// identity is the body of GET /version; field order is part of the contract.
type identity struct {
	Service        string `json:"service"`
	Version        string `json:"version"`
	Revision       string `json:"revision"`
	Implementation string `json:"implementation"`
	OS             string `json:"os"`
	Arch           string `json:"arch"`
}

// number is a float64 written in the contract's float format (see formatFloat),
// so JSON bodies are byte-identical to the Python implementation's.
// Non-finite values (a sum that overflowed) are written as null.
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	value := float64(n)
	if math.IsInf(value, 0) || math.IsNaN(value) {
		return []byte("null"), nil
	}
	return []byte(formatFloat(value)), nil
}

// writeJSON writes a compact JSON body with a trailing newline and an explicit
// Content-Length. HTML characters are not escaped, as in Python's json.dumps.
func writeJSON(w http.ResponseWriter, status int, body any) {
	var buffer bytes.Buffer
	encoder := json.NewEncoder(&buffer)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(body); err != nil {
		status = http.StatusInternalServerError
		buffer.Reset()
		buffer.WriteString(`{"error":"internal error"}` + "\n")
	}
	header := w.Header()
	header.Set("Content-Type", jsonContentType)
	header.Set("Content-Length", strconv.Itoa(buffer.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buffer.Bytes())
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Error: message})
}

// writeText writes a plain-text body, used for the Prometheus exposition.
func writeText(w http.ResponseWriter, contentType, text string) {
	header := w.Header()
	header.Set("Content-Type", contentType)
	header.Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(text))
}
