package collector

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/event"
)

// source is who sent a batch: the site it is for, and whether it came
// with one of that site's server keys. A server key is a secret the
// shop's servers hold, so what they say is believed (user ids, client
// IPs, times); a write key sits in every page of the shop, so a browser's
// batch is believed only as far as the collector can check it.
type source struct {
	site   string
	server bool
}

// authenticate finds the site and the trust of a batch, or answers the
// request itself and returns false.
//
// HTTP Basic credentials, when present, decide, as Segment's libraries
// send them: the user name is a server key (or, read as a browser's, a
// write key) and the password is empty. The body's "site" may then be
// left out; when given it must name the same site. Without credentials,
// the body's "site" is the write key. A browser's batch must come from an
// allowed origin of its site; server keys are exempt.
func (c *Collector) authenticate(ctx *gin.Context, bodySite string) (source, bool) {
	src, status, reason, detail := c.credentials(ctx.Request, bodySite)
	if reason == "" && !src.server && !c.cfg.AllowedOrigins.allows(src.site, ctx.GetHeader("Origin")) {
		status, reason = http.StatusForbidden, event.ReasonOriginNotAllowed
		detail = fmt.Sprintf("origin %q may not send events for this site", ctx.GetHeader("Origin"))
	}
	if reason != "" {
		if reason == event.ReasonBadCredentials {
			ctx.Header("WWW-Authenticate", `Basic realm="footfall"`)
		}
		c.fail(ctx, status, reason, detail)
		return source{}, false
	}
	return src, true
}

func (c *Collector) credentials(r *http.Request, bodySite string) (source, int, event.Reason, string) {
	if r.Header.Get("Authorization") == "" {
		if site, ok := c.cfg.Sites[bodySite]; ok {
			return source{site: site}, 0, "", ""
		}
		if _, ok := c.cfg.ServerKeys.SiteOf(bodySite); ok {
			return source{}, http.StatusUnauthorized, event.ReasonUnknownSite, "a server key is secret: send it as the HTTP Basic user name, never in the body"
		}
		return source{}, http.StatusUnauthorized, event.ReasonUnknownSite, "no site has this write key"
	}
	key, password, ok := r.BasicAuth()
	if !ok || key == "" || password != "" {
		return source{}, http.StatusUnauthorized, event.ReasonBadCredentials, "Authorization must be HTTP Basic with a key as the user name and an empty password"
	}
	var src source
	if site, ok := c.cfg.ServerKeys.SiteOf(key); ok {
		src = source{site: site, server: true}
	} else if site, ok := c.cfg.Sites[key]; ok {
		src = source{site: site}
	} else {
		return source{}, http.StatusUnauthorized, event.ReasonBadCredentials, "the user name is no site's server key or write key"
	}
	if bodySite != "" && bodySite != key && c.cfg.Sites[bodySite] != src.site {
		return source{}, http.StatusBadRequest, event.ReasonSiteMismatch, `the body's "site" is not the write key of the site the credentials are for`
	}
	return src, 0, "", ""
}
