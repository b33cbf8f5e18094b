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
