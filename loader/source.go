package loader

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/Shopify/goreferrer"
)

// Channels a visit is attributed to, in the names Plausible and GA4 use.
const (
	ChannelDirect        = "Direct"
	ChannelOrganicSearch = "Organic Search"
	ChannelPaidSearch    = "Paid Search"
	ChannelSocial        = "Social"
	ChannelEmail         = "Email"
	ChannelReferral      = "Referral"
)

// origin is where a visit came from.
type origin struct {
	source   string // "Google", "Facebook", "news.example.com"; "" for direct
	channel  string
	referrer string // host and path of an outside referrer, no query
}

var (
	paidMedium   = regexp.MustCompile(`^(.*cp.*|ppc|retargeting|paid.*)$`)
	emailMedium  = regexp.MustCompile(`^(e[-_ ]?mail|newsletter)$`)
	socialMedium = regexp.MustCompile(`^(social|social[-_ ]network|social[-_ ]media|sm|social[-_ ]?paid)$`)
	// clickIDs are the parameters ad platforms append to a landing URL.
	clickIDs = []string{"gclid", "gbraid", "wbraid", "msclkid", "dclid"}
)

// classify attributes a visit from its first event's referrer, landing URL
// and UTM tags. Search engines, social networks and webmail come from
// Snowplow's referer-parser database (embedded by Shopify's goreferrer);
// UTM tags win over the referrer where they say more (a paid medium, an
// e-mail campaign). A referrer on the landing page's own host is the
// visitor moving about the site: direct.
func classify(referrer, landing, utmSource, utmMedium string) origin {
	ref := goreferrer.DefaultRules.Parse(referrer)
	land, _ := url.Parse(landing)
	if land != nil && ref.Type != goreferrer.Direct && ref.Type != goreferrer.Invalid && sameSite(ref.Host(), land.Hostname()) {
		ref = goreferrer.Referrer{Type: goreferrer.Direct}
	}
	o := origin{source: ref.Label}
	if ref.Type == goreferrer.Indirect {
		o.source = strings.TrimPrefix(ref.Host(), "www.")
	}
	if ref.Type != goreferrer.Direct && ref.Type != goreferrer.Invalid {
		o.referrer = strings.TrimSuffix(strings.TrimPrefix(ref.Host(), "www.")+ref.Path, "/")
	}
	if o.source == "" && utmSource != "" {
		o.source = utmSource
	}
	medium := strings.ToLower(strings.TrimSpace(utmMedium))
	paid := paidMedium.MatchString(medium) || hasClickID(land)
	switch {
	case emailMedium.MatchString(medium) || ref.Type == goreferrer.Email:
		o.channel = ChannelEmail
	case socialMedium.MatchString(medium) || ref.Type == goreferrer.Social:
		o.channel = ChannelSocial
	case paid:
		o.channel = ChannelPaidSearch
	case ref.Type == goreferrer.Search:
		o.channel = ChannelOrganicSearch
	case o.source != "":
		o.channel = ChannelReferral
	default:
		o.channel = ChannelDirect
	}
	return o
}

func hasClickID(u *url.URL) bool {
	if u == nil {
		return false
	}
	q := u.Query()
	for _, p := range clickIDs {
		if q.Get(p) != "" {
			return true
		}
	}
	return false
}

// sameSite: a.example.com and www.example.com are one site.
func sameSite(a, b string) bool {
	return a != "" && strings.TrimPrefix(a, "www.") == strings.TrimPrefix(b, "www.")
}
