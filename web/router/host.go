package router

import (
	"net"
	"strings"
)

// hostKey is the cache key of a request's Host header: lower case, without
// port or trailing dot. It is cheap, so a cached host costs no IDNA work;
// on a miss, validate.Host turns it into the canonical form instances are
// registered under.
func hostKey(h string) string {
	if strings.IndexByte(h, ':') >= 0 { // most requests carry no port
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
