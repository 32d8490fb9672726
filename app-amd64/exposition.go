package main

import (
	"sort"
	"strconv"
	"strings"
)

const (
	expositionContentType = "text/plain; version=0.0.4; charset=utf-8"
	requestsMetric        = "metrics_api_http_requests_total"
	requestsHelp          = "HTTP requests handled, by route template and status code."
)

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// renderLabels writes a label set as {a="1",b="2"}: names sorted, values
// escaped as the text exposition format requires. The empty set is "".
// The text also identifies a series, since the escaping is unambiguous.
func renderLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	sort.Strings(names)
	var text strings.Builder
	text.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			text.WriteByte(',')
		}
		text.WriteString(name)
		text.WriteString(`="`)
		text.WriteString(labelValueEscaper.Replace(labels[name]))
		text.WriteByte('"')
	}
	text.WriteByte('}')
	return text.String()
}

// expositionFamily is one metric family of the text exposition.
type expositionFamily struct {
	name   string
	header string
	lines  []expositionLine
}

type expositionLine struct {
	labelText string
	value     string
}

// renderExposition writes the Prometheus text format. Families are sorted by
// name and lines by their label text (byte order); stored series are gauges
// with their last value, the request counter is written in integers, and a
// family without series is left out. Every line ends with "\n".
func renderExposition(gauges []gaugeLine, requests []requestCount) string {
	families := map[string]*expositionFamily{}
	for _, gauge := range gauges {
		f, ok := families[gauge.name]
		if !ok {
			f = &expositionFamily{name: gauge.name, header: "# TYPE " + gauge.name + " gauge\n"}
			families[gauge.name] = f
		}
		f.lines = append(f.lines, expositionLine{labelText: gauge.labelText, value: formatFloat(gauge.value)})
	}
	if len(requests) > 0 {
		f := &expositionFamily{
			name:   requestsMetric,
			header: "# HELP " + requestsMetric + " " + requestsHelp + "\n# TYPE " + requestsMetric + " counter\n",
		}
		for _, request := range requests {
			labels := map[string]string{"route": request.route, "status": strconv.Itoa(request.status)}
			f.lines = append(f.lines, expositionLine{labelText: renderLabels(labels), value: strconv.FormatInt(request.count, 10)})
		}
		families[requestsMetric] = f
	}

	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	var text strings.Builder
	for _, name := range names {
		f := families[name]
		sort.Slice(f.lines, func(i, j int) bool { return f.lines[i].labelText < f.lines[j].labelText })
		text.WriteString(f.header)
		for _, line := range f.lines {
			text.WriteString(name)
			text.WriteString(line.labelText)
			text.WriteByte(' ')
			text.WriteString(line.value)
			text.WriteByte('\n')
		}
	}
	return text.String()
}
