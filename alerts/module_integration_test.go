package alerts_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/alerts"
	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/internal/testenv"
)

// TestModule runs the worker as `footfall alerts` does, configured by its
// flags: it gets ready, and a rule added with SQL notifies its webhook.
func TestModule(t *testing.T) {
	r := newRig(t)
	rule := r.addRule(ruleSpec{name: "errors", minSeverity: "error", threshold: 2, windowSeconds: 60, path: "hook"})
	group := testenv.Name("alerts")
	t.Cleanup(func() { _ = r.inspector.DeleteGroup(group) })

	pc := r.pool.Config().ConnConfig
	p := app.New(alerts.Module())
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	p.RegisterFlags(fs)
	if err := fs.Parse([]string{
		"--alerts-addr=127.0.0.1:0",
		"--kafka-brokers=" + strings.Join(r.kc.Brokers, ","), "--kafka-topic-prefix=" + r.kc.TopicPrefix,
		"--postgres-url=postgres://" + pc.User + "@" + net.JoinHostPort(pc.Host, fmt.Sprint(pc.Port)) + "/" + pc.Database + "?sslmode=disable",
		"--alerts-group=" + group, "--alerts-batch-age=50ms", "--alerts-rules-refresh=50ms",
	}); err != nil {
		t.Fatal(err)
	}
	listening := make(chan net.Addr, 1)
	p.Listening = func(_ string, addr net.Addr) { listening <- addr }
	testenv.Start(t, "footfall alerts", 30*time.Second, func(ctx context.Context) error { return p.Run(ctx, testenv.Log(t)) })
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr.String()
	case <-time.After(10 * time.Second):
		t.Fatal("footfall alerts did not listen within 10s")
	}
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := get("/readyz")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})

	now := time.Now()
	r.publish(logRecord("api", 17, "boom", now), logRecord("api", 17, "boom again", now))
	r.waitDelivered(rule, 1)
	if got := r.hook.statuses("hook"); len(got) != 1 || got[0] != "firing" {
		t.Errorf("receiver got %v, want one firing", got)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{"footfall_alerts_records_evaluated_total 2", `footfall_alerts_deliveries_total{outcome="ok"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
