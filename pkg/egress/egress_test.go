package egress

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fd00:ec2::254": false, "::ffff:127.0.0.1": false,
		"::ffff:169.254.169.254": false, "224.0.0.1": false, "255.255.255.255": false,
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true,
	} {
		if got := Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
}

// Fault 3: the check is on the address dialled, so a literal loopback url,
// a name that resolves to loopback (as a rebinding name would) and a
// redirect all fail, and redirects are never followed.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("internal secret"))
	}))
	defer srv.Close()
	deployed := NewClient(2*time.Second, false)
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := deployed.Post(u, "application/json", nil)
		if !errors.Is(err, ErrRefused) || Reason(err) != "address not allowed" {
			t.Errorf("%s: %v (%q)", u, err, Reason(err))
		}
	}
	// Allowed locally, a redirect is still not followed.
	res, err := NewClient(2*time.Second, true).Post(srv.URL+"/hop", "application/json", nil)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %v", res, err)
	}
	res.Body.Close()
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://bot.example.com/hook": true, "http://127.0.0.1:8072": false, "http://[::1]/": false, "http://169.254.169.254/": false,
		"http://localhost:8072": false, "http://metadata.google.internal/": false, "ftp://example.com": false, "https://u:p@example.com": false,
	} {
		if err := CheckURL(u, false); (err == nil) != ok {
			t.Errorf("CheckURL(%s) = %v", u, err)
		}
	}
	if err := CheckURL("http://127.0.0.1:8072", true); err != nil {
		t.Errorf("allowed locally: %v", err)
	}
}
