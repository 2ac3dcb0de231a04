package admin

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// retryAfterFailure is when a failed charge may be tried again.
const retryAfterFailure = 72 * time.Hour

// paymentsUnavailable is the answer of a payment call without Stripe.
func (a *API) paymentsUnavailable() error {
	msg := "payments are not configured on this deployment"
	if a.paymentsErr != nil {
		msg = a.paymentsErr.Error()
	}
	return apperr.New(apperr.Runtime, "%s", msg)
}

type quantityBill struct {
	Status   string  `json:"status"`
	Quantity float64 `json:"quantity"`
	Price    float64 `json:"price"`
	Minimum  float64 `json:"minimum"`
	Maximum  float64 `json:"maximum"`
}

// getBillingDetails answers the current month: each priced quantity's
// metered usage so far and its price under the workspace's plan, and the
// payment method.
func (a *API) getBillingDetails(r *http.Request) (httpapi.Response, error) {
	ws := auth.FromContext(r.Context()).WorkspaceID
	now := a.clock.Now().UTC()
	usages, planName, err := a.store.Usages(r.Context(), ws, ws, Period(now))
	if err != nil {
		return httpapi.Response{}, err
	}
	plan, ok := admindata.PlanOf(planName)
	if !ok {
		plan, _ = admindata.PlanOf("community")
	}
	bills := map[string]quantityBill{}
	for _, q := range admindata.PricedQuantities {
		p, ok := plan.Prices[q]
		if !ok {
			continue
		}
		used := usages[q].Value
		status := "included"
		if used > p.Included {
			status = "billed"
		}
		if quota, ok := admindata.Quotas[planName][q]; ok && used > quota {
			status = "over_quota"
		}
		bills[q] = quantityBill{Status: status, Quantity: used, Price: p.Charge(used), Minimum: p.Minimum, Maximum: p.Maximum}
	}
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	acct, err := a.store.Billing(r.Context(), ws)
	if err != nil {
		return httpapi.Response{}, err
	}
	var pm any
	if acct.StripePaymentMethodID != "" {
		pm = PaymentMethod{Type: acct.PaymentMethodType, LastDigits: acct.PaymentMethodLast4}
	}
	return httpapi.OK(map[string]any{
		"currentPeriod": map[string]any{"start": clock.Format(start), "end": clock.Format(start.AddDate(0, 1, 0)), "usage": bills},
		"paymentMethod": pm,
	}), nil
}

func (a *API) setPaymentMethod(r *http.Request) (httpapi.Response, error) {
	var in struct {
		StripePaymentMethodID *string `json:"stripePaymentMethodId"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.StripePaymentMethodID == nil || *in.StripePaymentMethodID == "" {
		return httpapi.Response{}, apperr.Invalid("stripePaymentMethodId is required")
	}
	if a.payments == nil {
		return httpapi.Response{}, a.paymentsUnavailable()
	}
	p := auth.FromContext(r.Context())
	w, err := a.store.Workspace(r.Context(), p.WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	acct, err := a.store.Billing(r.Context(), w.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	customer, pm, err := a.payments.SetPaymentMethod(r.Context(), w, acct.StripeCustomerID, *in.StripePaymentMethodID)
	if customer != "" && acct.StripeCustomerID == "" {
		acct.StripeCustomerID = customer // kept even when attaching fails
	}
	if err != nil {
		if acct.StripeCustomerID != "" {
			_ = a.store.SetBilling(r.Context(), w.ID, acct)
		}
		return httpapi.Response{}, apperr.Invalid("the payment method could not be attached: %s", err.Error())
	}
	acct.StripePaymentMethodID, acct.PaymentMethodType, acct.PaymentMethodLast4 = *in.StripePaymentMethodID, pm.Type, pm.LastDigits
	rec := audit.New(w.ID, p.AccountID, audit.UpdatePaymentMethod, w.ID, w.Name, a.clock.Now())
	if err := a.store.SetBilling(r.Context(), w.ID, acct, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"stripePaymentMethodId": acct.StripePaymentMethodID, "paymentMethod": pm, "status": "succeeded"}), nil
}

type invoiceAnswer struct {
	ID     string `json:"id"`
	Period struct {
		Month int `json:"month"`
		Year  int `json:"year"`
	} `json:"period"`
	Date                   string  `json:"date"`
	Amount                 float64 `json:"amount"`
	Currency               string  `json:"currency"`
	PaymentStatus          string  `json:"paymentStatus"`
	PaymentAttemptCount    int     `json:"paymentAttemptCount"`
	NextPaymentAttemptDate *string `json:"nextPaymentAttemptDate"`
	PDFURL                 string  `json:"pdfUrl"`
	FailedReason           string  `json:"failedReason,omitempty"`
}

func (a *API) invoiceAnswer(r *http.Request, inv Invoice) (invoiceAnswer, error) {
	out := invoiceAnswer{ID: inv.ID, Date: inv.Date, Amount: inv.Amount, Currency: inv.Currency, PaymentStatus: inv.PaymentStatus,
		PaymentAttemptCount: inv.PaymentAttemptCount, FailedReason: inv.FailedReason}
	if y, m, ok := strings.Cut(inv.Period, "-"); ok {
		out.Period.Year, _ = strconv.Atoi(y)
		out.Period.Month, _ = strconv.Atoi(m)
	}
	if inv.NextPaymentAttemptDate != "" {
		out.NextPaymentAttemptDate = &inv.NextPaymentAttemptDate
	}
	if a.invoiceURL != nil && inv.PDFKey != "" {
		u, err := a.invoiceURL(r.Context(), inv.PDFKey)
		if err != nil {
			return out, err
		}
		out.PDFURL = u
	}
	return out, nil
}

func (a *API) listInvoices(r *http.Request) (httpapi.Response, error) {
	invs, err := a.store.Invoices(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]invoiceAnswer, 0, len(invs))
	for _, inv := range invs {
		ans, err := a.invoiceAnswer(r, inv)
		if err != nil {
			return httpapi.Response{}, err
		}
		out = append(out, ans)
	}
	return httpapi.OK(map[string]any{"invoices": out}), nil
}

type chargedInvoice struct {
	ID           string  `json:"id"`
	Amount       float64 `json:"amount"`
	FailedReason string  `json:"failedReason,omitempty"`
}

// chargeUnpaid charges the workspace's invoices not paid yet (those of
// invoiceIds when given) to its payment method, one PaymentIntent each,
// and records each outcome on the invoice.
func (a *API) chargeUnpaid(r *http.Request) (httpapi.Response, error) {
	var in struct {
		InvoiceIDs []string `json:"invoiceIds"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if a.payments == nil {
		return httpapi.Response{}, a.paymentsUnavailable()
	}
	ws := auth.FromContext(r.Context()).WorkspaceID
	acct, err := a.store.Billing(r.Context(), ws)
	if err != nil {
		return httpapi.Response{}, err
	}
	if acct.StripeCustomerID == "" || acct.StripePaymentMethodID == "" {
		return httpapi.Response{}, apperr.New(apperr.PaymentRequired, "the workspace has no payment method: set one with PUT /v1/admin/workspaces/%s/billing/payment-method", ws)
	}
	invs, err := a.store.Invoices(r.Context(), ws)
	if err != nil {
		return httpapi.Response{}, err
	}
	charged, failed := []chargedInvoice{}, []chargedInvoice{}
	for _, inv := range invs {
		if inv.PaymentStatus == "paid" || (len(in.InvoiceIDs) > 0 && !slices.Contains(in.InvoiceIDs, inv.ID)) {
			continue
		}
		now := a.clock.Now()
		if inv.Amount <= 0 {
			inv.PaymentStatus, inv.FailedReason, inv.NextPaymentAttemptDate = "paid", "", ""
		} else {
			intent, cerr := a.payments.Charge(r.Context(), acct.StripeCustomerID, acct.StripePaymentMethodID, inv)
			var refused *ChargeFailure
			switch {
			case cerr == nil:
				inv.PaymentStatus, inv.FailedReason, inv.NextPaymentAttemptDate, inv.StripePaymentIntentID = "paid", "", "", intent
			case errors.As(cerr, &refused):
				inv.PaymentAttemptCount++
				inv.PaymentStatus, inv.FailedReason, inv.StripePaymentIntentID = "failed", refused.Reason, intent
				inv.NextPaymentAttemptDate = clock.Format(now.Add(retryAfterFailure))
			default:
				return httpapi.Response{}, cerr
			}
		}
		if err := a.store.SetInvoicePayment(r.Context(), inv); err != nil {
			return httpapi.Response{}, err
		}
		if inv.PaymentStatus == "paid" {
			charged = append(charged, chargedInvoice{ID: inv.ID, Amount: inv.Amount})
		} else {
			failed = append(failed, chargedInvoice{ID: inv.ID, Amount: inv.Amount, FailedReason: inv.FailedReason})
		}
	}
	return httpapi.OK(map[string]any{"chargedInvoices": charged, "failedInvoices": failed}), nil
}
