// Package egress is how Parley calls out to the urls its users configure
// (bots' and integrations' servers): an HTTP client that, unless private
// addresses are allowed (local development), refuses to connect to
// loopback, private, link-local (which holds the cloud metadata service),
// shared, multicast and otherwise reserved addresses. The check runs on
// the address actually dialled (a net.Dialer Control function), so a name
// that resolves to such an address, DNS rebinding between a check and the
// connection, or a redirect cannot get around it; redirects are not
// followed at all, and no proxy from the environment is used.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Setting is the function setting that allows private addresses: "true"
// only in local development (make run sets it) and in tests that run
// local servers; deployed functions refuse them.
const Setting = "ALLOW_PRIVATE_URLS"

// ErrRefused is a connection refused because of its address.
var ErrRefused = errors.New("address not allowed")

var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 (embeds IPv4)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// Allowed reports whether a may be dialled when private addresses are not
// allowed: a public unicast address.
func Allowed(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// control refuses, at connect time, an address that is not Allowed.
func control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !Allowed(a) {
		return fmt.Errorf("%w: %s", ErrRefused, host)
	}
	return nil
}

// NewClient returns the client for outbound calls: timeout bounds each
// call; allowPrivate lifts the address check (never when deployed).
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = control
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, unchecked
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          20,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		// A bot or integration answers; it does not send us elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckURL validates a configured url when it is written: http or https,
// a host, and (unless private addresses are allowed) not a literal
// address that Allowed refuses nor a local name. Names are checked again,
// resolved, at every connection.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("must be an http or https url with a host and no credentials")
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if a, err := netip.ParseAddr(host); err == nil && !Allowed(a) {
		return errors.New("must not point at a loopback, private, link-local or reserved address")
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && !strings.Contains(host, ":") {
		return errors.New("must name a public host")
	}
	return nil
}

// Reason is the short, fixed description of a failed call that Parley
// stores and answers: never the remote body nor the error's detail, which
// could carry what an internal server said.
func Reason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrRefused):
		return "address not allowed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return "connection failed"
}
