package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
	"github.com/parley-dev/parley/pkg/usage"
)

// stripeMockVersion is the pinned stripe-mock the payment tests run against.
const stripeMockVersion = "v0.203.0"

// startStripeMock installs (go install, cached) and starts stripe-mock on
// a free port and returns its URL; it skips the test when it can't.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(os.TempDir(), "parley-stripe-mock-"+stripeMockVersion)
	exe := filepath.Join(bin, "stripe-mock")
	if _, err := os.Stat(exe); err != nil {
		cmd := exec.Command("go", "install", "github.com/stripe/stripe-mock@"+stripeMockVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("payment tests skipped: stripe-mock %s could not be installed (go install github.com/stripe/stripe-mock@%s): %v\n%s",
				stripeMockVersion, stripeMockVersion, err, out)
		}
	}
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	httpPort, httpsPort := port(), port()
	cmd := exec.Command(exe, "-http-port", fmt.Sprint(httpPort), "-https-port", fmt.Sprint(httpsPort))
	if err := cmd.Start(); err != nil {
		t.Skipf("payment tests skipped: stripe-mock does not start: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	u := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err == nil {
			c.Close()
			return u
		}
		if i > 100 {
			t.Fatal("stripe-mock did not listen")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stripeCall struct {
	Method, Path, Idempotency string
	Form                      url.Values
}

// stripeProxy records the requests Parley sends to stripe-mock and, since
// stripe-mock is stateless, plays a card's answer: a PaymentIntent for an
// invoice in succeed succeeds, one in decline is declined.
type stripeProxy struct {
	mu               sync.Mutex
	calls            []stripeCall
	succeed, decline map[string]bool
}

func (p *stripeProxy) handler(t *testing.T, target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		p.mu.Lock()
		p.calls = append(p.calls, stripeCall{Method: r.Method, Path: r.URL.Path, Idempotency: r.Header.Get("Idempotency-Key"), Form: form})
		p.mu.Unlock()
		req, _ := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		for _, k := range []string{"Authorization", "Content-Type", "Stripe-Version", "Idempotency-Key"} {
			req.Header.Set(k, r.Header.Get(k))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		status := res.StatusCode
		if r.URL.Path == "/v1/payment_intents" && status == 200 {
			inv := form.Get("metadata[invoiceId]")
			p.mu.Lock()
			succeed, decline := p.succeed[inv], p.decline[inv]
			p.mu.Unlock()
			switch {
			case succeed:
				var pi map[string]any
				_ = json.Unmarshal(raw, &pi)
				pi["status"] = "succeeded"
				raw, _ = json.Marshal(pi)
			case decline:
				status = 402
				raw = []byte(`{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card was declined."}}`)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(raw)
	})
}

func (p *stripeProxy) find(method, prefix string) []stripeCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []stripeCall
	for _, c := range p.calls {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func call(t *testing.T, srv *httptest.Server, method, path, token string, body any) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out, string(raw)
}

// TestBillingWithoutStripe: the local default has no key; invoices are
// listed and payment calls say how to configure Stripe.
func TestBillingWithoutStripe(t *testing.T) {
	env := testenv.Stack(t)
	owner := env.NewAccount(t)
	res := env.Do(t, testenv.Req{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: map[string]any{"name": "No Stripe"}})
	testenv.Want(t, res, 200, "")
	ws := res.Body["id"].(string)
	base := "/v1/admin/workspaces/" + ws + "/billing"
	pm := env.Do(t, testenv.Req{Method: "PUT", Path: base + "/payment-method", Token: owner, Body: map[string]any{"stripePaymentMethodId": "pm_card_visa"}})
	testenv.Want(t, pm, 400, "Runtime")
	if !strings.Contains(pm.Body["message"].(string), "STRIPE_SECRET_KEY") {
		t.Fatalf("the error doesn't say how to configure Stripe: %s", pm.Raw)
	}
	testenv.Want(t, env.Do(t, testenv.Req{Method: "POST", Path: base + "/invoices/charge-unpaid", Token: owner, Body: map[string]any{}}), 400, "Runtime")

	admin := admindata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.AdminTable), nil)
	now := time.Now().UTC()
	if err := admin.AddUsage(context.Background(), ws, usage.IncomingMessages, usage.Period(now), 2500); err != nil {
		t.Fatal(err)
	}
	details := env.Do(t, testenv.Req{Method: "GET", Path: base + "/details", Token: owner})
	testenv.Want(t, details, 200, "")
	msgs := details.Body["currentPeriod"].(map[string]any)["usage"].(map[string]any)[usage.IncomingMessages].(map[string]any)
	if msgs["quantity"] != float64(2500) || msgs["price"] != float64(1) || msgs["status"] != "billed" || details.Body["paymentMethod"] != nil {
		t.Fatalf("details %s", details.Raw)
	}

	if err := env.FirePeriod(context.Background(), topology.InvoicingSchedule, usage.Period(now)); err != nil {
		t.Fatal(err)
	}
	list := env.Do(t, testenv.Req{Method: "GET", Path: base + "/invoices", Token: owner})
	testenv.Want(t, list, 200, "")
	invs := list.Body["invoices"].([]any)
	if len(invs) != 1 {
		t.Fatalf("invoices %s", list.Raw)
	}
	inv := invs[0].(map[string]any)
	period := inv["period"].(map[string]any)
	if inv["amount"] != float64(1) || inv["paymentStatus"] != "unpaid" || period["year"] != float64(now.Year()) ||
		period["month"] != float64(now.Month()) || !strings.Contains(inv["pdfUrl"].(string), "X-Amz-Signature") {
		t.Fatalf("invoice %v", inv)
	}
	// The presigned URL serves the PDF.
	got, err := http.Get(inv["pdfUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != 200 || !strings.Contains(pdfText(t, doc), "No Stripe") {
		t.Fatalf("pdfUrl answered %d", got.StatusCode)
	}
}

// TestBillingThroughStripe sets a payment method and charges two unpaid
// invoices against stripe-mock: one paid, one declined.
func TestBillingThroughStripe(t *testing.T) {
	env := testenv.Stack(t)
	mock := startStripeMock(t)
	proxy := &stripeProxy{succeed: map[string]bool{}, decline: map[string]bool{}}
	ps := httptest.NewServer(proxy.handler(t, mock))
	defer ps.Close()

	d := env.Deps
	d.Config.Settings = map[string]string{}
	for k, v := range env.Deps.Config.Settings {
		d.Config.Settings[k] = v
	}
	d.Config.Settings["STRIPE_SECRET_KEY"], d.Config.Settings["STRIPE_API_URL"] = "sk_test_123", ps.URL
	h, err := app.AdminHTTP(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	owner := env.NewAccount(t)
	res := env.Do(t, testenv.Req{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: map[string]any{"name": "Paying Co"}})
	testenv.Want(t, res, 200, "")
	ws := res.Body["id"].(string)
	base := "/v1/admin/workspaces/" + ws + "/billing"

	// Charging without a payment method says to set one.
	if code, body, raw := call(t, srv, "POST", base+"/invoices/charge-unpaid", owner, map[string]any{}); code != 402 || body["type"] != "PaymentRequired" {
		t.Fatalf("charge without a method: %d %s", code, raw)
	}

	code, body, raw := call(t, srv, "PUT", base+"/payment-method", owner, map[string]any{"stripePaymentMethodId": "pm_card_visa"})
	if code != 200 || body["stripePaymentMethodId"] != "pm_card_visa" {
		t.Fatalf("payment method: %d %s", code, raw)
	}
	if m := body["paymentMethod"].(map[string]any); m["type"] != "card" || m["lastDigits"] != "4242" {
		t.Fatalf("payment method %v", m)
	}
	customers := proxy.find("POST", "/v1/customers")
	if len(customers) != 2 || customers[0].Path != "/v1/customers" || customers[0].Form.Get("metadata[workspaceId]") != ws ||
		customers[0].Form.Get("name") != "Paying Co" || customers[0].Idempotency != "customer-"+ws {
		t.Fatalf("customer calls %+v", customers)
	}
	customerID := strings.TrimPrefix(customers[1].Path, "/v1/customers/")
	if customers[1].Form.Get("invoice_settings[default_payment_method]") != "pm_card_visa" || customerID == "" {
		t.Fatalf("default payment method call %+v", customers[1])
	}
	if a := proxy.find("POST", "/v1/payment_methods/pm_card_visa/attach"); len(a) != 1 || a[0].Form.Get("customer") != customerID {
		t.Fatalf("attach calls %+v", a)
	}

	admin := admindata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.AdminTable), nil)
	ctx := context.Background()
	// August: 3,000 messages ($1); September: 4,000 ($2).
	for period, n := range map[string]int64{"2026-08": 3000, "2026-09": 4000} {
		if err := admin.AddUsage(ctx, ws, usage.IncomingMessages, period, n); err != nil {
			t.Fatal(err)
		}
		if err := env.FirePeriod(ctx, topology.InvoicingSchedule, period); err != nil {
			t.Fatal(err)
		}
	}
	aug, sep := "inv_"+ws+"_2026-08", "inv_"+ws+"_2026-09"
	proxy.mu.Lock()
	proxy.succeed[aug], proxy.decline[sep] = true, true
	proxy.mu.Unlock()

	code, body, raw = call(t, srv, "POST", base+"/invoices/charge-unpaid", owner, map[string]any{})
	if code != 200 {
		t.Fatalf("charge-unpaid: %d %s", code, raw)
	}
	charged, failed := body["chargedInvoices"].([]any), body["failedInvoices"].([]any)
	if len(charged) != 1 || charged[0].(map[string]any)["id"] != aug || charged[0].(map[string]any)["amount"] != float64(1) {
		t.Fatalf("charged %s", raw)
	}
	if len(failed) != 1 || failed[0].(map[string]any)["id"] != sep ||
		failed[0].(map[string]any)["failedReason"] != "Your card was declined. (insufficient_funds)" {
		t.Fatalf("failed %s", raw)
	}
	intents := proxy.find("POST", "/v1/payment_intents")
	if len(intents) != 2 {
		t.Fatalf("payment intents %+v", intents)
	}
	for _, pi := range intents {
		f := pi.Form
		wantAmount := map[string]string{aug: "100", sep: "200"}[f.Get("metadata[invoiceId]")]
		if f.Get("amount") != wantAmount || f.Get("currency") != "usd" || f.Get("customer") != customerID ||
			f.Get("payment_method") != "pm_card_visa" || f.Get("confirm") != "true" || f.Get("off_session") != "true" ||
			pi.Idempotency != f.Get("metadata[invoiceId]")+"-1" {
			t.Fatalf("payment intent request %+v", pi)
		}
	}

	// Parley's own records.
	code, body, raw = call(t, srv, "GET", base+"/invoices", owner, nil)
	if code != 200 {
		t.Fatalf("invoices: %d %s", code, raw)
	}
	byID := map[string]map[string]any{}
	for _, i := range body["invoices"].([]any) {
		byID[i.(map[string]any)["id"].(string)] = i.(map[string]any)
	}
	if a := byID[aug]; a["paymentStatus"] != "paid" || a["paymentAttemptCount"] != float64(0) || a["nextPaymentAttemptDate"] != nil {
		t.Fatalf("august after the charge %v", a)
	}
	if s := byID[sep]; s["paymentStatus"] != "failed" || s["paymentAttemptCount"] != float64(1) || s["nextPaymentAttemptDate"] == nil ||
		s["failedReason"] != "Your card was declined. (insufficient_funds)" {
		t.Fatalf("september after the charge %v", s)
	}
	// Charging again tries only the unpaid one, with a new idempotency key.
	proxy.mu.Lock()
	delete(proxy.decline, sep)
	proxy.succeed[sep] = true
	proxy.mu.Unlock()
	code, body, raw = call(t, srv, "POST", base+"/invoices/charge-unpaid", owner, map[string]any{"invoiceIds": []string{sep}})
	if code != 200 || len(body["chargedInvoices"].([]any)) != 1 || len(body["failedInvoices"].([]any)) != 0 {
		t.Fatalf("second charge: %d %s", code, raw)
	}
	if pis := proxy.find("POST", "/v1/payment_intents"); len(pis) != 3 || pis[2].Idempotency != sep+"-2" {
		t.Fatalf("second charge requests %+v", pis)
	}
}
