// Package admin serves the Botpress admin API: accounts and their personal
// access tokens, workspaces and their members, bots, integrations, usages
// and the audit trail. It holds the HTTP handlers and the domain rules
// (validation, who may grant which role, quotas); the records are kept by
// pkg/admindata, reached through the interfaces declared in deps.go.
package admin

import "github.com/parley-dev/parley/pkg/admindata"

// The records, as pkg/admindata keeps them.
type (
	Account                  = admindata.Account
	PAT                      = admindata.PAT
	Workspace                = admindata.Workspace
	TagDefinition            = admindata.TagDefinition
	TagDefinitions           = admindata.TagDefinitions
	StateDefinition          = admindata.StateDefinition
	EventDefinition          = admindata.EventDefinition
	Schedule                 = admindata.Schedule
	RecurringEvent           = admindata.RecurringEvent
	Subscriptions            = admindata.Subscriptions
	ActionSchema             = admindata.ActionSchema
	ActionDefinition         = admindata.ActionDefinition
	Configuration            = admindata.Configuration
	Media                    = admindata.Media
	Bot                      = admindata.Bot
	BotIntegration           = admindata.BotIntegration
	BotSummary               = admindata.BotSummary
	BotFilter                = admindata.BotFilter
	Member                   = admindata.Member
	NewMember                = admindata.NewMember
	Membership               = admindata.Membership
	Usage                    = admindata.Usage
	Invoice                  = admindata.Invoice
	BillingAccount           = admindata.BillingAccount
	PaymentMethod            = admindata.PaymentMethod
	ChargeFailure            = admindata.ChargeFailure
	LogRecord                = admindata.LogRecord
	LogFilter                = admindata.LogFilter
	Issue                    = admindata.Issue
	IssueDatum               = admindata.IssueDatum
	IssueEvent               = admindata.IssueEvent
	IssueReport              = admindata.IssueReport
	Integration              = admindata.Integration
	IntegrationConfiguration = admindata.IntegrationConfiguration
	ConfigIdentity           = admindata.ConfigIdentity
	Creation                 = admindata.Creation
	MessageDefinition        = admindata.MessageDefinition
	Channel                  = admindata.Channel
	IntegrationState         = admindata.IntegrationState
	Entity                   = admindata.Entity
	Identifier               = admindata.Identifier
	IntegrationSummary       = admindata.IntegrationSummary
	IntegrationFilter        = admindata.IntegrationFilter
	OwnerWorkspace           = admindata.OwnerWorkspace
	HubMeta                  = admindata.HubMeta
)

func orEmpty[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
