package billing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/stripe/stripe-go/v82"
)

// ErrNotConfigured answers payment calls of a deployment without a Stripe
// key.
var ErrNotConfigured = errors.New("payments are not configured: set STRIPE_SECRET_KEY (local development) or STRIPE_SECRET_KEY_ARN, " +
	"a Secrets Manager secret holding the key (deployed), on the admin function; invoices are issued and listed without it")

// PaymentMethod is what the API shows of a payment method.
type PaymentMethod = admindata.PaymentMethod

// ChargeFailure is a charge Stripe refused, with its reason.
type ChargeFailure = admindata.ChargeFailure

// Stripe charges workspaces through Stripe: a customer per workspace, its
// default payment method, and a confirmed off-session PaymentIntent per
// invoice (idempotency key: the invoice and attempt).
type Stripe struct {
	client *stripe.Client
}

// NewStripe returns the Stripe client of a secret key; apiURL ("": Stripe's
// own) points it elsewhere, e.g. at stripe-mock.
func NewStripe(key, apiURL string) *Stripe {
	var opts []stripe.ClientOption
	if apiURL != "" {
		b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{URL: stripe.String(apiURL),
			HTTPClient: &http.Client{Timeout: 10 * time.Second}, MaxNetworkRetries: stripe.Int64(0)})
		opts = append(opts, stripe.WithBackends(&stripe.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))
	}
	return &Stripe{client: stripe.NewClient(key, opts...)}
}

// SetPaymentMethod makes sure the workspace has a Stripe customer (created
// once: customerID "" creates it), attaches the payment method to it and
// makes it the default for invoices. It returns the customer and what the
// method is.
func (s *Stripe) SetPaymentMethod(ctx context.Context, w admindata.Workspace, customerID, paymentMethodID string) (string, PaymentMethod, error) {
	if customerID == "" {
		params := &stripe.CustomerCreateParams{Name: stripe.String(w.Name),
			Metadata: map[string]string{"workspaceId": w.ID}}
		params.SetIdempotencyKey("customer-" + w.ID)
		c, err := s.client.V1Customers.Create(ctx, params)
		if err != nil {
			return "", PaymentMethod{}, err
		}
		customerID = c.ID
	}
	pm, err := s.client.V1PaymentMethods.Attach(ctx, paymentMethodID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(customerID)})
	if err != nil {
		return customerID, PaymentMethod{}, err
	}
	if _, err := s.client.V1Customers.Update(ctx, customerID, &stripe.CustomerUpdateParams{
		InvoiceSettings: &stripe.CustomerUpdateInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(pm.ID)}}); err != nil {
		return customerID, PaymentMethod{}, err
	}
	out := PaymentMethod{Type: string(pm.Type)}
	if pm.Card != nil {
		out.LastDigits = pm.Card.Last4
	}
	return customerID, out, nil
}

// Charge charges an invoice to the customer's payment method: a confirmed
// off-session PaymentIntent in the invoice's currency's smallest unit. A
// refusal (declined card, a payment needing the customer) is a
// *ChargeFailure naming why.
func (s *Stripe) Charge(ctx context.Context, customerID, paymentMethodID string, inv admindata.Invoice) (string, error) {
	params := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(int64(math.Round(inv.Amount * 100))), Currency: stripe.String(inv.Currency),
		Customer: stripe.String(customerID), PaymentMethod: stripe.String(paymentMethodID),
		Confirm: stripe.Bool(true), OffSession: stripe.Bool(true),
		Description: stripe.String(fmt.Sprintf("Parley %s, %s", inv.Workspace, PeriodTitle(inv.Period))),
		Metadata:    map[string]string{"invoiceId": inv.ID, "workspaceId": inv.WorkspaceID},
	}
	params.SetIdempotencyKey(fmt.Sprintf("%s-%d", inv.ID, inv.PaymentAttemptCount+1))
	pi, err := s.client.V1PaymentIntents.Create(ctx, params)
	var serr *stripe.Error
	if errors.As(err, &serr) && serr.Type == stripe.ErrorTypeCard {
		reason := serr.Msg
		if serr.DeclineCode != "" {
			reason += " (" + string(serr.DeclineCode) + ")"
		}
		return "", &ChargeFailure{Reason: reason}
	}
	if err != nil {
		return "", err
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded, stripe.PaymentIntentStatusProcessing:
		return pi.ID, nil
	}
	return pi.ID, &ChargeFailure{Reason: fmt.Sprintf("payment %s was not completed: its status is %s", pi.ID, pi.Status)}
}
