package stack

import (
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/parley-dev/parley/pkg/topology"
)

// Stage holds every setting that differs between environments. Resources
// themselves come from the topology; a stage only tunes them.
type Stage struct {
	Name string
	// LogRetention applies to function logs and API access logs.
	LogRetention awslogs.RetentionDays
	// RetainData keeps tables, buckets, queues and the signing secret when the
	// stack is deleted or a resource replaced, and turns on table deletion
	// protection.
	RetainData bool
	// PointInTimeRecovery turns on continuous backups for every table.
	PointInTimeRecovery bool
	// Schedules overrides, per schedule name, the topology's expression and
	// gives the window the job may run in.
	Schedules map[string]ScheduleSetting
	// Quotas is a placeholder for per-stage limits, passed to every function
	// as QUOTA_<NAME>.
	Quotas map[string]string
	// ThrottleRate (requests per second) and ThrottleBurst limit the HTTP API.
	ThrottleRate  float64
	ThrottleBurst int
	// CORSOrigins are the browser origins allowed to call the API and to
	// upload to presigned bucket URLs.
	CORSOrigins []string
	// ArchiveTransition moves archive objects to a colder class after this long.
	ArchiveTransition time.Duration
	// Alarms holds thresholds; AlarmEmail, when set, subscribes to them.
	Alarms     AlarmThresholds
	AlarmEmail string
	// Settings override functions' topology settings (Function.Settings),
	// e.g. JOB_RETENTION, EVENT_BUS, SES_SENDER (a verified SES identity;
	// empty: no completion emails).
	Settings map[string]string
}

// ScheduleSetting tunes one topology schedule for a stage.
type ScheduleSetting struct {
	// Expression replaces the topology's expression when set.
	Expression string
	// Window is how long a run may keep working; it reaches the target as
	// WINDOW_<SCHEDULE>.
	Window time.Duration
}

// AlarmThresholds are the levels at which the stack's alarms fire.
type AlarmThresholds struct {
	// DLQMessages: visible messages in any dead-letter queue.
	DLQMessages int
	// FunctionErrors: errors of one function within five minutes.
	FunctionErrors int
}

// offpeakDefault is the off-peak window: 02:00 UTC, four hours.
var offpeakDefault = ScheduleSetting{Expression: "cron(0 2 * * ? *)", Window: 4 * time.Hour}

// invoicingDefault issues the invoices of the month just ended: the 1st of
// each month, 04:00 UTC.
var invoicingDefault = ScheduleSetting{Expression: "cron(0 4 1 * ? *)", Window: time.Hour}

var stages = map[string]Stage{
	"dev": {
		Name:                "dev",
		LogRetention:        awslogs.RetentionDays_ONE_WEEK,
		RetainData:          false,
		PointInTimeRecovery: true,
		Schedules:           map[string]ScheduleSetting{"offpeak": offpeakDefault, "invoicing": invoicingDefault},
		Quotas:              map[string]string{},
		ThrottleRate:        50,
		ThrottleBurst:       100,
		CORSOrigins:         []string{"*"},
		ArchiveTransition:   30 * 24 * time.Hour,
		Alarms:              AlarmThresholds{DLQMessages: 1, FunctionErrors: 10},
		// Deployed stages embed with Amazon Bedrock (Titan Text Embeddings V2).
		Settings: map[string]string{"EMBEDDER": "bedrock"},
	},
	"prod": {
		Name:                "prod",
		LogRetention:        awslogs.RetentionDays_THREE_MONTHS,
		RetainData:          true,
		PointInTimeRecovery: true,
		Schedules:           map[string]ScheduleSetting{"offpeak": offpeakDefault, "invoicing": invoicingDefault},
		Quotas:              map[string]string{},
		ThrottleRate:        500,
		ThrottleBurst:       1000,
		CORSOrigins:         []string{"*"},
		ArchiveTransition:   30 * 24 * time.Hour,
		Alarms:              AlarmThresholds{DLQMessages: 1, FunctionErrors: 5},
		Settings:            map[string]string{"EMBEDDER": "bedrock"},
	},
}

// StageNamed returns the settings of a known stage.
func StageNamed(name string) (Stage, error) {
	s, ok := stages[name]
	if !ok {
		return Stage{}, fmt.Errorf("unknown stage %q (known: %v)", name, StageNames())
	}
	return s, nil
}

// StageNames lists the known stages.
func StageNames() []string {
	names := make([]string, 0, len(stages))
	for n := range stages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s Stage) removalPolicy() awscdk.RemovalPolicy {
	if s.RetainData {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// WithEnvOverrides returns the stage with each schedule's EnvOverride
// variable, when set at synth time, replacing its expression: how a user
// moves the off-peak window without editing code.
func (s Stage) WithEnvOverrides(t topology.Topology, lookup func(string) (string, bool)) Stage {
	scheds := make(map[string]ScheduleSetting, len(s.Schedules))
	for k, v := range s.Schedules {
		scheds[k] = v
	}
	for _, sc := range t.Schedules {
		if sc.EnvOverride == "" {
			continue
		}
		if v, ok := lookup(sc.EnvOverride); ok && v != "" {
			set := scheds[sc.Name]
			set.Expression = v
			scheds[sc.Name] = set
		}
	}
	s.Schedules = scheds
	// Deployment settings taken from the synth environment: the Stripe
	// secret's ARN (the admin function reads it, and only that secret) and
	// the plans table's override (every function).
	settings := make(map[string]string, len(s.Settings)+len(DeploySettings))
	for k, v := range s.Settings {
		settings[k] = v
	}
	for _, name := range DeploySettings {
		if v, ok := lookup(name); ok && v != "" {
			settings[name] = v
		}
	}
	s.Settings = settings
	return s
}

// DeploySettings are read from the environment of `make synth`/`make
// deploy` into the stage's settings.
var DeploySettings = []string{"STRIPE_SECRET_KEY_ARN", "PLANS"}
