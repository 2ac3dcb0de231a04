// Package admindata owns the admin table's layout and the botcode bucket's:
// the records of accounts and their tokens, workspaces and members, bots,
// integrations, usage counters, bot issues and logs, bot API keys and the
// audit trail. It is the only package that builds or parses the admin
// table's keys; feature packages reach it through interfaces they declare.
package admindata

// Account is a person who signs in.
type Account struct {
	ID             string `json:"id"`
	Email          string `json:"email"`
	DisplayName    string `json:"displayName,omitempty"`
	EmailVerified  bool   `json:"emailVerified"`
	ProfilePicture string `json:"profilePicture,omitempty"`
	CreatedAt      string `json:"createdAt"`
}

// PAT is a personal access token as listed; Value is set only once, in the
// answer to its creation.
type PAT struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
	Note      string `json:"note"`
	Value     string `json:"value,omitempty"`
}

// Workspace owns bots and has members.
type Workspace struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	OwnerID        string   `json:"ownerId"`
	CreatedAt      string   `json:"createdAt"`
	UpdatedAt      string   `json:"updatedAt"`
	BotCount       int      `json:"botCount"`
	BillingVersion string   `json:"billingVersion"`
	Plan           string   `json:"plan"`
	Blocked        bool     `json:"blocked"`
	SpendingLimit  float64  `json:"spendingLimit"`
	About          string   `json:"about"`
	ProfilePicture string   `json:"profilePicture"`
	ContactEmail   string   `json:"contactEmail"`
	Website        string   `json:"website"`
	SocialAccounts []string `json:"socialAccounts"`
	IsPublic       bool     `json:"isPublic"`
	Handle         string   `json:"handle,omitempty"`
	ActiveTrialID  *string  `json:"activeTrialId"`
}

func (w *Workspace) Normalize() {
	if w.SocialAccounts == nil {
		w.SocialAccounts = []string{}
	}
}

// TagDefinition describes a user, conversation or message tag a bot uses.
type TagDefinition struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// TagDefinitions is the `{tags: {...}}` block of the bot definition.
type TagDefinitions struct {
	Tags map[string]TagDefinition `json:"tags"`
}

// StateDefinition declares a state a bot keeps.
type StateDefinition struct {
	Type   string         `json:"type"`
	Schema map[string]any `json:"schema"`
	Expiry *float64       `json:"expiry,omitempty"`
}

// EventDefinition declares an event type a bot handles.
type EventDefinition struct {
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Schema      map[string]any    `json:"schema"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Schedule is a recurring event's cron schedule.
type Schedule struct {
	Cron string `json:"cron"`
}

// RecurringEvent is an event a bot receives on a schedule.
type RecurringEvent struct {
	Schedule          Schedule       `json:"schedule"`
	Type              string         `json:"type"`
	Payload           map[string]any `json:"payload"`
	FailedAttempts    int            `json:"failedAttempts"`
	LastFailureReason *string        `json:"lastFailureReason"`
}

// Subscriptions lists the events a bot subscribes to (null: all).
type Subscriptions struct {
	Events map[string]struct{} `json:"events"`
}

// ActionSchema wraps an action's input or output JSON schema.
type ActionSchema struct {
	Schema map[string]any `json:"schema"`
}

// ActionDefinition declares an action a bot offers.
type ActionDefinition struct {
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Billable    *bool             `json:"billable,omitempty"`
	Cacheable   *bool             `json:"cacheable,omitempty"`
	Input       ActionSchema      `json:"input"`
	Output      ActionSchema      `json:"output"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Configuration is a bot's configuration and its schema.
type Configuration struct {
	Data   map[string]any `json:"data"`
	Schema map[string]any `json:"schema"`
}

// Media is a file attached to a bot.
type Media struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

// Bot is a bot with its whole definition.
type Bot struct {
	ID              string                      `json:"id"`
	CreatedAt       string                      `json:"createdAt"`
	UpdatedAt       string                      `json:"updatedAt"`
	SigningSecret   string                      `json:"signingSecret"`
	Integrations    map[string]BotIntegration   `json:"integrations"`
	Plugins         map[string]map[string]any   `json:"plugins"`
	User            TagDefinitions              `json:"user"`
	Conversation    TagDefinitions              `json:"conversation"`
	Message         TagDefinitions              `json:"message"`
	States          map[string]StateDefinition  `json:"states"`
	Configuration   Configuration               `json:"configuration"`
	Events          map[string]EventDefinition  `json:"events"`
	RecurringEvents map[string]RecurringEvent   `json:"recurringEvents"`
	Subscriptions   Subscriptions               `json:"subscriptions"`
	Actions         map[string]ActionDefinition `json:"actions"`
	Tags            map[string]string           `json:"tags"`
	Name            string                      `json:"name"`
	Description     string                      `json:"description,omitempty"`
	DeployedAt      string                      `json:"deployedAt,omitempty"`
	Dev             bool                        `json:"dev"`
	CreatedBy       string                      `json:"createdBy,omitempty"`
	AlwaysAlive     bool                        `json:"alwaysAlive"`
	Status          string                      `json:"status"`
	Medias          []Media                     `json:"medias"`
	MaxExecution    *int                        `json:"maxExecutionTime,omitempty"`
	// Stored but not part of the Bot answer: the S3 key of the code, the dev
	// URL, whether the bot is blocked, how it authenticates and when it last
	// changed workspace (bot API keys created before are revoked).
	CodeKey        string `json:"codeKey,omitempty"`
	URL            string `json:"url,omitempty"`
	Blocked        bool   `json:"blocked,omitempty"`
	Authentication string `json:"authentication,omitempty"`
	TransferredAt  string `json:"transferredAt,omitempty"`
}

// BotIntegration is an integration installed in a bot, keyed in
// Bot.Integrations by its alias (its integration id unless one was given).
type BotIntegration struct {
	Enabled            bool           `json:"enabled"`
	Name               string         `json:"name"`
	Version            string         `json:"version"`
	WebhookURL         string         `json:"webhookUrl"`
	WebhookID          string         `json:"webhookId"`
	Identifier         string         `json:"identifier,omitempty"`
	ConfigurationType  *string        `json:"configurationType"`
	Configuration      map[string]any `json:"configuration"`
	Status             string         `json:"status"`
	StatusReason       *string        `json:"statusReason"`
	DisabledChannels   []string       `json:"disabledChannels"`
	ID                 string         `json:"id"`
	CreatedAt          string         `json:"createdAt"`
	UpdatedAt          string         `json:"updatedAt"`
	Title              string         `json:"title"`
	Description        string         `json:"description"`
	IconURL            string         `json:"iconUrl"`
	Public             bool           `json:"public"`
	Visibility         string         `json:"visibility"`
	VerificationStatus string         `json:"verificationStatus"`
	LifecycleStatus    string         `json:"lifecycleStatus"`
}

// Normalize makes every map and list the answer requires non-null, since
// stored items omit empty ones.
func (b *Bot) Normalize() {
	b.Integrations = orEmpty(b.Integrations)
	for k, in := range b.Integrations {
		in.Configuration = orEmpty(in.Configuration)
		if in.DisabledChannels == nil {
			in.DisabledChannels = []string{}
		}
		b.Integrations[k] = in
	}
	b.Plugins = orEmpty(b.Plugins)
	b.User.Tags = orEmpty(b.User.Tags)
	b.Conversation.Tags = orEmpty(b.Conversation.Tags)
	b.Message.Tags = orEmpty(b.Message.Tags)
	b.States = orEmpty(b.States)
	b.Configuration.Data = orEmpty(b.Configuration.Data)
	b.Configuration.Schema = orEmpty(b.Configuration.Schema)
	b.Events = orEmpty(b.Events)
	b.RecurringEvents = orEmpty(b.RecurringEvents)
	b.Actions = orEmpty(b.Actions)
	b.Tags = orEmpty(b.Tags)
	if b.Medias == nil {
		b.Medias = []Media{}
	}
	for k, s := range b.States {
		s.Schema = orEmpty(s.Schema)
		b.States[k] = s
	}
	for k, e := range b.Events {
		e.Schema = orEmpty(e.Schema)
		b.Events[k] = e
	}
	for k, e := range b.RecurringEvents {
		e.Payload = orEmpty(e.Payload)
		b.RecurringEvents[k] = e
	}
	for k, a := range b.Actions {
		a.Input.Schema = orEmpty(a.Input.Schema)
		a.Output.Schema = orEmpty(a.Output.Schema)
		b.Actions[k] = a
	}
}

// Answer is the bot as the API returns it: without its storage-only fields.
func (b Bot) Answer() Bot {
	b.Normalize()
	b.CodeKey, b.URL, b.Blocked, b.Authentication, b.TransferredAt = "", "", false, "", ""
	return b
}

// BotSummary is a bot as listed.
type BotSummary struct {
	ID         string            `json:"id"`
	CreatedAt  string            `json:"createdAt"`
	UpdatedAt  string            `json:"updatedAt"`
	Name       string            `json:"name"`
	DeployedAt string            `json:"deployedAt,omitempty"`
	Tags       map[string]string `json:"tags"`
}

func orEmpty[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
