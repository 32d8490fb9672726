module metrics-api

go 1.22
