package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/billing"
	"github.com/parley-dev/parley/pkg/topology"
)

// InvoicePeriod is the month a scheduled event asks to invoice: its
// detail's "period" (YYYY-MM, e.g. from `make fire SCHEDULE=invoicing
// PERIOD=2026-10`), else the month before the event's time.
func InvoicePeriod(ev events.EventBridgeEvent) (string, error) {
	var detail struct {
		Period string `json:"period"`
	}
	_ = json.Unmarshal(ev.Detail, &detail)
	if detail.Period != "" {
		if _, err := time.Parse("2006-01", detail.Period); err != nil {
			return "", apperr.Invalid("period must be a month, YYYY-MM")
		}
		return detail.Period, nil
	}
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	return billing.PreviousPeriod(at), nil
}

// Invoicing builds the invoicing function: each firing issues every
// workspace's invoice of the month just ended (or the event's period),
// once.
func Invoicing(d Deps) (ScheduledFunc, error) {
	store := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), nil)
	is := &billing.Issuer{Records: store, Objects: d.S3, Bucket: d.Config.Env[topology.EnvVar("bucket", topology.InvoicesBucket)], Log: d.Log}
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		period, err := InvoicePeriod(ev)
		if err != nil {
			return err
		}
		ws, err := store.BillableWorkspaces(ctx)
		if err != nil {
			return err
		}
		_, err = is.IssueAll(ctx, ws, period, d.Clock.Now())
		return err
	}, nil
}
