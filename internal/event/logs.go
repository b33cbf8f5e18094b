package event

// LogRecordVersion is the version of the logs topic's record format
// (docs/logs.md). A change an older reader would misread is a new version.
const LogRecordVersion = 1

// LogRecord is one record of the logs topic (LogsTopic): the contract
// between the collector, which writes it, the loader and any other log
// tool that reads the topic, documented in docs/logs.md.
type LogRecord struct {
	V              int               `json:"v"`
	ID             string            `json:"id"` // unique per record; readers drop a repeated id (added in v1, "" before)
	SiteID         string            `json:"site_id"`
	Time           int64             `json:"time"` // unix ms
	Service        string            `json:"service"`
	SeverityText   string            `json:"severity_text"`
	SeverityNumber uint8             `json:"severity_number"` // OpenTelemetry's 1-24, 0 unknown
	Body           string            `json:"body"`
	Attributes     map[string]string `json:"attributes"`
	TraceID        string            `json:"trace_id"`
	SpanID         string            `json:"span_id"`
	ReceivedAt     int64             `json:"received_at"` // unix ms
}

// Key keeps a service's records of a site on one partition, in order.
func (r *LogRecord) Key() string { return r.SiteID + ":" + r.Service }

// severityRanges names OpenTelemetry's six severity ranges of four numbers
// each: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24
// FATAL.
var severityRanges = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// SeverityName is the name of the range severity number n falls in
// ("ERROR" for 17-20); "" for 0 (unspecified) or a number past 24.
func SeverityName(n uint8) string {
	if n == 0 || n > 24 {
		return ""
	}
	return severityRanges[(n-1)/4]
}
