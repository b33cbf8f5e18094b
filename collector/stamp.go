package collector

import (
	"net"
)

// truncateIP keeps the network, not the host: the last octet of IPv4 and
// all but the first 48 bits of IPv6, so no raw client address is stored.
// The user agent is stamped by internal/useragent.
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
