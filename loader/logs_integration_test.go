package loader_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
)

// logRow is one row of the logs table.
type logRow struct {
	Time           time.Time `ch:"time"`
	SiteID         string    `ch:"site_id"`
	Service        string    `ch:"service"`
	Severity       string    `ch:"severity"`
	SeverityNumber uint8     `ch:"severity_number"`
	Body           string    `ch:"body"`
	AttrKeys       []string  `ch:"attributes.key"`
	AttrValues     []string  `ch:"attributes.value"`
	TraceID        string    `ch:"trace_id"`
	SpanID         string    `ch:"span_id"`
	ReceivedAt     time.Time `ch:"received_at"`
}

// TestLogsFromCollectorToClickHouse: OTLP JSON posted to the collector's
// /v1/logs with a server key is on the logs topic, and the loader puts it
// in the logs table; a record of that topic that is no log record goes to
// the dead-letter topic, and the records around it load.
func TestLogsFromCollectorToClickHouse(t *testing.T) {
	r := newRig(t)
	cfg := collector.DefaultConfig()
	cfg.Sites = collector.Sites{"wk_logs": "shop"}
	cfg.ServerKeys = config.ServerKeys{"sk_logs": "shop"}
	cfg.TopicPrefix = r.kc.TopicPrefix
	c, err := collector.New(cfg, collector.Deps{Publisher: r.producer, Ops: server.NewOps(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/v1/logs", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("sk_logs", "")
		w := httptest.NewRecorder()
		c.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"partialSuccess":{}`) {
			t.Fatalf("POST /v1/logs: %d %s", w.Code, w.Body)
		}
	}
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	record := func(body, severity string, number int) string {
		return fmt.Sprintf(`{"timeUnixNano":"%d","severityNumber":%d,"severityText":%q,"body":{"stringValue":%q},
			"attributes":[{"key":"order.id","value":{"stringValue":"o-42"}}],
			"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}`, at.UnixNano(), number, severity, body)
	}
	otlp := func(recs ...string) string {
		return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
			"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
	}
	logsTopic := event.LogsTopic(r.kc.TopicPrefix)
	notALog := kafka.Record{Topic: logsTopic, Key: []byte("shop:checkout"), Value: []byte("{not json")}

	post(otlp(record("payment declined", "ERROR", 17), record("retrying", "INFO", 9)))
	r.publish(notALog)
	post(otlp(record("paid", "INFO", 9)))

	lcfg := loader.DefaultConfig()
	lcfg.Group = r.group()
	lcfg.Batch = kafka.BatchPolicy{Count: 5, Bytes: 1 << 20, Age: 100 * time.Millisecond}
	sink := r.sink()
	l, err := loader.New(lcfg, loader.Deps{
		Kafka: r.kc, Sink: sink, Logs: sink, DeadLetters: r.producer, Ops: server.NewOps(),
		Log: testenv.Log(t).With("component", "loader"), Grace: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, "loader", 30*time.Second, l.Run)

	var rows []logRow
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		rows = nil
		err := r.conn.Select(context.Background(), &rows,
			"SELECT time, site_id, service, severity, severity_number, body, attributes.key, attributes.value, trace_id, span_id, received_at FROM logs ORDER BY body")
		return err == nil && len(rows) == 3, fmt.Sprintf("%d rows, err %v", len(rows), err)
	})
	for i, body := range []string{"paid", "payment declined", "retrying"} {
		got := rows[i]
		severity, number := "INFO", uint8(9)
		if body == "payment declined" {
			severity, number = "ERROR", 17
		}
		if got.Body != body || got.SiteID != "shop" || got.Service != "checkout" || got.Severity != severity ||
			got.SeverityNumber != number || !got.Time.Equal(at) ||
			got.TraceID != "5b8efff798038103d269b633813fc60c" || got.SpanID != "eee19b7ec3c1b174" ||
			len(got.AttrKeys) != 1 || got.AttrKeys[0] != "order.id" || got.AttrValues[0] != "o-42" ||
			got.ReceivedAt.Before(at) {
			t.Errorf("row %d: %+v", i, got)
		}
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		n := 0
		for _, d := range r.read(event.DeadTopic(r.kc.TopicPrefix)) {
			if bytes.Equal(d.Value, notALog.Value) && string(d.Header(kafka.HeaderDeadTopic)) == logsTopic {
				n++
			}
		}
		return n == 1, fmt.Sprintf("the bad log record is on the dead-letter topic %d times, want 1", n)
	})
}

// TestLogsStoredOnce: a batch of log records written again (the loader
// restarted between its insert and its offset commit) or resent by its
// sender with the same ids adds no row; records differing only in id are
// two rows, and so are id-less records (written before ids existed).
func TestLogsStoredOnce(t *testing.T) {
	r := newRig(t)
	sink := r.sink()
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).UnixMilli()
	rec := func(id, site, service, body string, ms int64) *event.LogRecord {
		return &event.LogRecord{V: 1, ID: id, SiteID: site, Time: ms, Service: service, Body: body,
			SeverityText: "INFO", SeverityNumber: 9, Attributes: map[string]string{}, ReceivedAt: ms}
	}
	first := []*event.LogRecord{
		rec("a", "shop", "api", "one", at),
		rec("b", "shop", "api", "two", at+1500),
		rec("c", "shop", "worker", "three", at+2000),
		rec("a", "other", "api", "same id, other site", at),
		rec("", "shop", "api", "no id", at),
		rec("b", "shop", "api", "two", at+1500), // repeated within the batch
	}
	if err := sink.WriteLogs(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Delivered again, with one new record among them.
	again := append(first[:5:5], rec("d", "shop", "api", "four", at+3000))
	if err := sink.WriteLogs(ctx, again); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Site string `ch:"site_id"`
		ID   string `ch:"id"`
		N    uint64 `ch:"n"`
	}
	if err := r.conn.Select(ctx, &rows, "SELECT site_id, id, count() AS n FROM logs GROUP BY site_id, id ORDER BY site_id, id"); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows)
	if want := "[{other a 1} {shop  2} {shop a 1} {shop b 1} {shop c 1} {shop d 1}]"; got != want {
		t.Errorf("rows by site and id %s, want %s", got, want)
	}
}
