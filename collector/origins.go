package collector

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/footfall/footfall/internal/config"
)

// Origins maps site ids to the origins (scheme://host[:port]) whose pages
// may send events with the site's write key. A write key is public: any
// page can carry it, and the list keeps other sites' pages from sending
// in a shop's name. It binds browsers only, which always send Origin with
// a POST: a request without one is no browser's, and could have sent any
// Origin it liked, so it is let through like a server's.
type Origins map[string][]string

func (o Origins) String() string {
	parts := make([]string, 0, len(o))
	for site, origins := range o {
		parts = append(parts, site+"="+strings.Join(origins, "|"))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=ORIGIN|ORIGIN... pairs; a site named twice gets the
// origins of both.
func (o *Origins) Set(v string) error {
	out := Origins{}
	err := config.EachPair(v, "SITE_ID=ORIGIN|ORIGIN...", func(site, list string) error {
		for _, s := range strings.Split(list, "|") {
			origin, err := normalOrigin(s)
			if err != nil {
				return fmt.Errorf("%s: %w", site, err)
			}
			out[site] = append(out[site], origin)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*o = out
	return nil
}

// allows tells whether a browser on origin may send events for site. An
// empty origin is a request that sent none.
func (o Origins) allows(site, origin string) bool {
	list, listed := o[site]
	return !listed || origin == "" || slices.Contains(list, strings.ToLower(origin))
}

// normalOrigin writes an origin as browsers send it: lower case, without
// a default port or a trailing slash.
func normalOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/"))
	switch {
	case err != nil:
		return "", fmt.Errorf("origin %q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil,
		u.Path != "", u.RawQuery != "", u.Fragment != "", strings.HasSuffix(u.Host, ":"):
		return "", fmt.Errorf("origin %q: want scheme://host[:port], such as https://shop.example", s)
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") { // IPv6
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host, nil
}
