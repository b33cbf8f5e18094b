package collector

import (
	"net"

	"github.com/footfall/footfall/internal/event"
)

// vouch sets what the collector believes of e, whatever the client wrote
// in those fields: whether its user id is vouched for, its client IP and
// its time. requestIP is the request's address, truncated; sentAt and
// received date the batch (see eventTime).
//
// A user id is vouched for when a server key sent it, or on an identify
// whose props.user_hash is the HMAC of the user id under the site's
// identity secret: only then may the enricher link the device to that
// user, or anyone could link their device to another shopper's account.
// A browser's identify that fails the check is rejected; on a site without
// a secret a browser's identify cannot be checked, and is kept unvouched.
// Any other browser event's user id is the beacon's claim, kept for
// reports and never believed. The hash has served then, and is dropped
// from every event, so that no report shows it.
func (c *Collector) vouch(src source, e *event.Event, requestIP string, sentAt, received int64) *event.Rejection {
	hash, hashed := e.Props[event.UserHashProp]
	secret, signed := c.cfg.IdentitySecrets[src.site]
	switch {
	case e.UserID == "":
		e.UserVerified = false
	case src.server:
		e.UserVerified = true
	case e.Type == event.Identify && signed:
		h, _ := hash.(string)
		if !event.ValidUserHash(secret, e.UserID, h) {
			return &event.Rejection{ID: e.ID, Reason: event.ReasonBadUserHash,
				Detail: "props.user_hash must be the hex HMAC-SHA256 of user_id under the site's identity secret"}
		}
		e.UserVerified = true
	default:
		e.UserVerified = false
	}
	if hashed {
		delete(e.Props, event.UserHashProp)
		if len(e.Props) == 0 {
			e.Props = nil
		}
	}

	switch {
	case !src.server || e.IP == "":
		e.IP = requestIP
	case net.ParseIP(e.IP) == nil:
		return &event.Rejection{ID: e.ID, Reason: event.ReasonInvalidField, Detail: "ip must be an IPv4 or IPv6 address"}
	default:
		// A server's word for the visitor's address, kept as truncated
		// as the collector keeps its own.
		e.IP = truncateIP(e.IP)
	}

	e.OriginalTS, e.TS = e.TS, eventTime(e.TS, sentAt, received, src.server)
	return nil
}
