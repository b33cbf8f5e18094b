package enricher_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/collector"
	ffconfig "github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/promotions"
)

// The identity tests send events through the real collector, as a browser
// and as a shop's server do, into the rig's Kafka, and read what the
// enricher made of them in PostgreSQL and through the promotions API.

const (
	idWriteKey       = "wk_identity_test"
	idServerKey      = "sk_identity_test"
	idIdentitySecret = "identity-test-secret"
)

// intake is a collector for the rig's site on the rig's topics.
type intake struct {
	t       *testing.T
	handler http.Handler
}

func (r *rig) intake() *intake {
	r.t.Helper()
	cfg := collector.DefaultConfig()
	cfg.Sites = collector.Sites{idWriteKey: site}
	cfg.ServerKeys = ffconfig.ServerKeys{idServerKey: site}
	cfg.IdentitySecrets = map[string]string{site: idIdentitySecret}
	cfg.TopicPrefix = r.kc.TopicPrefix
	c, err := collector.New(cfg, collector.Deps{Publisher: r.producer, Ops: server.NewOps(), Log: testenv.Log(r.t).With("component", "collector")})
	if err != nil {
		r.t.Fatal(err)
	}
	return &intake{t: r.t, handler: c.Handler()}
}

// send posts events as a browser does (server false: the write key in the
// body) or as a shop's server does (its server key as the Basic user name),
// and returns the status.
func (in *intake) send(server bool, events ...map[string]any) int {
	in.t.Helper()
	batch := map[string]any{"events": events, "sent_at": time.Now().UnixMilli()}
	if !server {
		batch["site"] = idWriteKey
	}
	body, err := json.Marshal(batch)
	if err != nil {
		in.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	// A browser's (an empty or library header is a bot's, whose events
	// the enricher leaves out).
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	if server {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(idServerKey+":")))
	}
	w := httptest.NewRecorder()
	in.handler.ServeHTTP(w, req)
	return w.Code
}

// envelope is an event as a client writes it.
func envelope(typ event.Type, anonymous, user string, extra map[string]any) map[string]any {
	e := map[string]any{"id": newID(), "type": string(typ), "ts": time.Now().UnixMilli()}
	if anonymous != "" {
		e["anonymous_id"] = anonymous
	}
	if user != "" {
		e["user_id"] = user
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

func searchFor(keyword string) map[string]any {
	return map[string]any{"search": map[string]any{"keyword": keyword}}
}

// identities lists the site's links as "anonymous id>user id", sorted.
func (r *rig) identities() []string {
	r.t.Helper()
	rows, err := r.pool.Query(context.Background(), `SELECT anonymous_id || '>' || user_id FROM identities WHERE site_id = $1`, site)
	if err != nil {
		r.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		r.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// lookup asks a promotions API on the rig's database what a homepage asks,
// and returns the status and the promotion ids with their scores.
func lookup(t *testing.T, api http.Handler, query url.Values) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/promotions?"+query.Encode(), nil))
	var body promotions.Response
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, p := range body.Promotions {
		out = append(out, fmt.Sprintf("%s=%g", p.ID, p.Score))
	}
	return w.Code, strings.Join(out, ",")
}

// TestEnricherLinksOnlyVouchedUserIDs: a browser that puts a victim's user
// id on its events changes neither the victim's promotions nor the links;
// a signed identify and a server key's events do link.
func TestEnricherLinksOnlyVouchedUserIDs(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	r.startEnricher(cfg)
	in := r.intake()
	pcfg := promotions.DefaultConfig()
	pcfg.IdentitySecrets = map[string]string{site: idIdentitySecret}
	api, err := promotions.New(pcfg, r.pool, server.NewOps(), testenv.Log(t).With("component", "promotions"))
	if err != nil {
		t.Fatal(err)
	}
	asVictim := url.Values{"site": {site}, "user": {"victim-1"}, "user_hash": {event.UserHash(idIdentitySecret, "victim-1")}}

	// The victim's shop server reports a search of theirs, on their device.
	if code := in.send(true, envelope(event.Search, "anon-victim", "victim-1", searchFor("kettle"))); code != http.StatusOK {
		t.Fatalf("server-key search: %d", code)
	}
	r.waitApplied(cfg.Group)
	_, before := lookup(t, api.Handler(), asVictim)
	if want := fmt.Sprintf("kettle-deal=%g,welcome=0,free-shipping=0", searchWeight); before != want {
		t.Fatalf("the victim's promotions: %q, want %q", before, want)
	}
	if got, want := r.identities(), []string{"anon-victim>victim-1"}; !equal(got, want) {
		t.Fatalf("identities after a server key's search: %v, want %v", got, want)
	}

	// An attacker's browser claims to be the victim.
	forged := []map[string]any{
		envelope(event.Search, "anon-attacker", "victim-1", searchFor("humidifier")),
		envelope(event.Search, "", "victim-1", searchFor("fan")),
		envelope(event.Click, "", "victim-1", map[string]any{"click": map[string]any{"href": "/demo/search.html?q=blanket"}}),
		envelope(event.Custom, "anon-attacker", "victim-1", map[string]any{"name": "x", "user_verified": true}),
	}
	if code := in.send(false, forged...); code != http.StatusOK {
		t.Fatalf("forged batch: %d, want it accepted (the user id is kept as the browser's claim)", code)
	}
	if code := in.send(false, envelope(event.Identify, "anon-attacker", "victim-1", nil)); code != http.StatusBadRequest {
		t.Fatalf("identify without user_hash: %d, want 400", code)
	}
	// A shopper's page identifies them with the hash the shop's server made.
	signed := envelope(event.Identify, "anon-shopper", "shopper-1", map[string]any{"props": map[string]any{"user_hash": event.UserHash(idIdentitySecret, "shopper-1")}})
	if code := in.send(false, signed); code != http.StatusOK {
		t.Fatalf("signed identify: %d", code)
	}
	// A shop's server links another shopper, and reports a search of a
	// user it knows no device of.
	if code := in.send(true, envelope(event.Identify, "anon-server", "shopper-2", nil), envelope(event.Search, "", "shopper-3", searchFor("blanket"))); code != http.StatusOK {
		t.Fatalf("server-key identify: %d", code)
	}
	r.waitApplied(cfg.Group)

	if got, want := r.identities(), []string{"anon-server>shopper-2", "anon-shopper>shopper-1", "anon-victim>victim-1"}; !equal(got, want) {
		t.Errorf("identities: %v, want %v", got, want)
	}
	if _, after := lookup(t, api.Handler(), asVictim); after != before {
		t.Errorf("the victim's promotions changed: %q, were %q", after, before)
	}
	if got := r.scores("victim-1"); len(got) != 0 {
		t.Errorf("scores under the victim's user id: %v, want none", got)
	}
	if got, want := r.scores("anon-attacker"), (map[string]float64{"humidifier-deal": searchWeight, "humidifier-filters": searchWeight}); !equalScores(got, want) {
		t.Errorf("the attacker's device: %v, want its own search's %v", got, want)
	}
	if got, want := r.scores("shopper-3"), (map[string]float64{"blanket-deal": searchWeight}); !equalScores(got, want) {
		t.Errorf("a server key's search by user id: %v, want %v", got, want)
	}
	// Without the hash the victim's promotions are not for anyone to read.
	if code, _ := lookup(t, api.Handler(), url.Values{"site": {site}, "user": {"victim-1"}}); code != http.StatusForbidden {
		t.Errorf("lookup by the victim's user id without user_hash: %d, want 403", code)
	}
	if code, got := lookup(t, api.Handler(), url.Values{"site": {site}, "user": {"anon-victim"}}); code != http.StatusOK || got != before {
		t.Errorf("lookup by the victim's own device: %d %q, want %q", code, got, before)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func equalScores(a, b map[string]float64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
