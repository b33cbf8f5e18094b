package collector

import (
	"net"
	"strings"
)

// truncateIP keeps the network, not the host: the last octet of IPv4 and
// all but the first 48 bits of IPv6, so no raw client address is stored.
func truncateIP(s string) string {
	ip := net.ParseIP(s)
	switch {
	case ip == nil:
		return ""
	case ip.To4() != nil:
		return ip.Mask(net.CIDRMask(24, 32)).String()
	default:
		return ip.Mask(net.CIDRMask(48, 128)).String()
	}
}

// agent is what the collector derives from a User-Agent header.
type agent struct {
	Bot                 bool
	Browser, OS, Device string
}

var botMarkers = []string{"bot", "crawler", "spider", "slurp", "headless", "lighthouse", "curl/", "wget/", "python-requests", "go-http-client"}

// parseAgent is deliberately small: the families dashboards group by, not
// versions. An empty agent is treated as a bot.
func parseAgent(ua string) agent {
	l := strings.ToLower(ua)
	a := agent{Browser: "other", OS: "other", Device: "desktop"}
	for _, m := range botMarkers {
		if strings.Contains(l, m) {
			a.Bot = true
		}
	}
	if ua == "" {
		a.Bot = true
	}
	switch {
	case strings.Contains(l, "edg/"):
		a.Browser = "Edge"
	case strings.Contains(l, "opr/") || strings.Contains(l, "opera"):
		a.Browser = "Opera"
	case strings.Contains(l, "firefox/"):
		a.Browser = "Firefox"
	case strings.Contains(l, "chrome/") || strings.Contains(l, "chromium/") || strings.Contains(l, "crios/"):
		a.Browser = "Chrome"
	case strings.Contains(l, "safari/"):
		a.Browser = "Safari"
	}
	switch {
	case strings.Contains(l, "android"):
		a.OS = "Android"
	case strings.Contains(l, "iphone") || strings.Contains(l, "ipad") || strings.Contains(l, "ios"):
		a.OS = "iOS"
	case strings.Contains(l, "windows"):
		a.OS = "Windows"
	case strings.Contains(l, "mac os") || strings.Contains(l, "macintosh"):
		a.OS = "macOS"
	case strings.Contains(l, "linux"):
		a.OS = "Linux"
	}
	switch {
	case a.Bot:
		a.Device = "bot"
	case strings.Contains(l, "ipad") || strings.Contains(l, "tablet"):
		a.Device = "tablet"
	case strings.Contains(l, "mobi"):
		a.Device = "mobile"
	}
	return a
}
