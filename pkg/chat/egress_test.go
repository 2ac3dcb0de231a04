package chat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/egress"
)

// Fault 3: a failed action answered up to 500 bytes of the internal
// server's answer, and failed deliveries stored it in failureReason. Now
// deployed clients don't reach private addresses, and failures say a
// status and a fixed reason, never the remote body.
func TestOutboundCallsNeverEchoTheRemoteBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"AccessKeyId":"ASIA-internal-secret"}`))
	}))
	defer srv.Close()
	for _, c := range []struct {
		allowPrivate bool
		reason       string
	}{{false, "address not allowed"}, {true, "answered 500"}} {
		hook := Webhook{Client: egress.NewClient(2*time.Second, c.allowPrivate), Clock: clock.System{}}
		// Actions answer "action … failed: <this reason>"; deliveries store it.
		_, err := hook.Post(context.Background(), srv.URL, "s", nil, map[string]any{})
		if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("allowPrivate=%v: delivery failure reason %v", c.allowPrivate, err)
		}
	}
}
