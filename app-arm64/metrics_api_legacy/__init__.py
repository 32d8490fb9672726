"""metrics-api, legacy Python implementation (shipped for linux/arm64).

Its HTTP behaviour is a contract shared with the Go implementation in
app-amd64/, written down in tests/contract/CONTRACT.md; both answer
byte-identical bodies.
"""

SERVICE_NAME = "metrics-api"
