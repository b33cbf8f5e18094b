package promotions_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/promotions"
)

// TestIntegrationLookupByUserIDNeedsItsHash: on a site with an identity
// secret, a user's promotions are read by user id only with the hash the
// shop's server computes for that user; an anonymous id, the browser's own
// secret, needs none, and a site without a secret is open as before.
func TestIntegrationLookupByUserIDNeedsItsHash(t *testing.T) {
	const secret = "shop-identity-secret"
	cfg := promotions.DefaultConfig()
	cfg.IdentitySecrets = config.Secrets{"shop": secret}
	srv, _ := newAPIWith(t, cfg)
	tests := []struct {
		name   string
		query  url.Values
		status int
		want   string
		error  string
	}{
		{name: "a user id with its hash", query: url.Values{"site": {"shop"}, "user": {"user-7"}, "user_hash": {event.UserHash(secret, "user-7")}}, status: 200, want: "kettle,humid,welcome,shipping"},
		{name: "a user id with upper-case hex", query: url.Values{"site": {"shop"}, "user": {"user-7"}, "user_hash": {strings.ToUpper(event.UserHash(secret, "user-7"))}}, status: 200, want: "kettle,humid,welcome,shipping"},
		{name: "a user id without a hash", query: url.Values{"site": {"shop"}, "user": {"user-7"}}, status: 403, error: "user_hash_required"},
		{name: "a user id with another user's hash", query: url.Values{"site": {"shop"}, "user": {"user-7"}, "user_hash": {event.UserHash(secret, "user-8")}}, status: 403, error: "invalid_user_hash"},
		{name: "a user id with another secret's hash", query: url.Values{"site": {"shop"}, "user": {"user-7"}, "user_hash": {event.UserHash("guess", "user-7")}}, status: 403, error: "invalid_user_hash"},
		{name: "one device of the user, by its anonymous id", query: url.Values{"site": {"shop"}, "user": {"anon-3"}}, status: 200, want: "kettle,humid,welcome,shipping"},
		{name: "an anonymous id", query: url.Values{"site": {"shop"}, "user": {"anon-1"}}, status: 200, want: "fan,humid,kettle,welcome,shipping"},
		{name: "an id nobody knows", query: url.Values{"site": {"shop"}, "user": {"user-unknown"}}, status: 200, want: "welcome,shipping"},
		{name: "a site without a secret", query: url.Values{"site": {"other"}, "user": {"user-7"}}, status: 200, want: "yacht"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, srv, tt.query)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.raw)
			}
			if a.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("Allow-Origin %q: the shop's page must read every answer", a.header.Get("Access-Control-Allow-Origin"))
			}
			if tt.status != http.StatusOK {
				if a.error != tt.error || !strings.Contains(a.raw, `"detail"`) || strings.Contains(a.raw, "kettle") {
					t.Errorf("answer %s, want error %q with a detail and no promotions", a.raw, tt.error)
				}
				return
			}
			if got := ids(a.body.Promotions); got != tt.want {
				t.Errorf("promotions %q, want %q", got, tt.want)
			}
		})
	}
}
