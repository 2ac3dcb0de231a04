package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/parley-dev/parley/pkg/billing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/botkey"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/egress"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/seal"
	"github.com/parley-dev/parley/pkg/topology"
)

func newS3(awsCfg aws.Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Emulators serve buckets by path; AWS by virtual host.
		o.UsePathStyle = awsCfg.BaseEndpoint != nil
	})
}

// registerAdmin wires the admin function: the admin API on the admin
// table's store, the chat table's day counters, the lifecycle outbox (purge
// intents) and the bot purge, and the bot API key routes.
func registerAdmin(rt *httpapi.Router, d Deps, store *admindata.Store, authn *auth.Authenticator) {
	store.With(adminOptions(d))
	deps := admin.Deps{
		Store:            store,
		Stats:            chatdata.NewDayStatsReader(d.DB, d.Config.Table(topology.ChatTable)),
		Intents:          lifecycledata.NewOutbox(d.DB, d.Config.Table(topology.LifecycleTable)),
		Holds:            botHolds{holds(d)},
		Purger:           purgeKick{queue: d.SQS, queueURL: lifecycleQueue(d)},
		AllowPrivateURLs: d.Config.Setting(egress.Setting) == "true",
		Secrets:          integrationSealer(d),
		Runtime:          announcer{chat.NewAnnouncer(deliveryDispatcher(d))},
		APIURL:           d.Config.Setting("PUBLIC_URL"),
		Auth:             authn, Clock: d.Clock, Log: d.Log,
	}
	if sender := d.Config.Setting("SES_SENDER"); sender != "" && d.Mail != nil {
		deps.Mail = admin.SESMailer{Client: d.Mail, Sender: sender}
	}
	deps.Payments, deps.PaymentsError = payments(d)
	if o := adminOptions(d); o.Presign != nil {
		bucket := d.Config.Env[topology.EnvVar("bucket", topology.InvoicesBucket)]
		deps.InvoiceURL = func(ctx context.Context, key string) (string, error) {
			req, err := o.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}, s3.WithPresignExpires(time.Hour))
			if err != nil {
				return "", err
			}
			return req.URL, nil
		}
	}
	admin.NewAPI(deps).Register(rt)
	botkey.NewAPI(store, botKeySealer(d), store, authn, d.Clock).Register(rt)
}

// payments is the admin API's Stripe client: the key from
// STRIPE_SECRET_KEY, or read once at cold start from the Secrets Manager
// secret STRIPE_SECRET_KEY_ARN names. Without either, payment calls answer
// how to configure it.
func payments(d Deps) (admin.Payments, error) {
	key, arn := d.Config.Setting("STRIPE_SECRET_KEY"), d.Config.Setting("STRIPE_SECRET_KEY_ARN")
	if key == "" && arn != "" {
		out, err := secretsmanager.NewFromConfig(d.AWS).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if err != nil {
			return nil, fmt.Errorf("payments are unavailable: the Stripe key could not be read from %s: %w", arn, err)
		}
		key = aws.ToString(out.SecretString)
	}
	if key == "" {
		return nil, billing.ErrNotConfigured
	}
	return billing.NewStripe(key, d.Config.Setting("STRIPE_API_URL")), nil
}

// adminOptions are the admin store's resources beyond the admin table.
func adminOptions(d Deps) admindata.Options {
	o := admindata.Options{
		CodeBucket: d.Config.Env[topology.EnvVar("bucket", topology.BotCodeBucket)],
		Clock:      d.Clock, Log: d.Log,
	}
	if d.S3 != nil {
		// Presigning makes no call: without the API options, the round-trip
		// counter (which hooks the retry step presigning removes) stays out.
		o.Objects, o.Presign = d.S3, s3.NewPresignClient(d.S3, func(po *s3.PresignOptions) {
			po.ClientOptions = append(po.ClientOptions, func(so *s3.Options) { so.APIOptions = nil })
		})
	}
	return o
}

// Sealing purposes: each gets its own keys from the keyring.
const (
	sealIntegrationSecrets = "integration-secrets"
	sealBotAPIKeys         = "bot-api-keys"
)

// integrationSealer seals integration secrets. Secrets sealed before the
// keyring (no key id) open with the key they were sealed with, derived
// from the page-token secret.
func integrationSealer(d Deps) sealer {
	legacy := sha256.Sum256(append([]byte("parley/integration-secrets/"), d.Config.SigningKey...))
	return sealerFor(d, sealIntegrationSecrets, legacy[:])
}

// botKeySealer seals bot API key secrets; those sealed before the keyring
// open with their former key (also derived from the page-token secret).
func botKeySealer(d Deps) sealer {
	m := hmac.New(sha256.New, d.Config.SigningKey)
	m.Write([]byte("parley bot api keys"))
	return sealerFor(d, sealBotAPIKeys, m.Sum(nil))
}

// sealer is what the admin and botkey packages seal and open with.
type sealer interface {
	Seal(plain, aad string) (string, error)
	Open(sealed, aad string) (string, error)
}

func sealerFor(d Deps, purpose string, legacy []byte) sealer {
	if d.Config.Sealing == nil {
		return noSealer{}
	}
	s, err := d.Config.Sealing.For(purpose, legacy)
	if err != nil {
		return noSealer{err}
	}
	return s
}

// noSealer refuses to seal: the function has no keyring (its topology
// doesn't say Seals), or the keyring is unusable.
type noSealer struct{ err error }

func (n noSealer) Seal(string, string) (string, error) { return "", n.error() }
func (n noSealer) Open(string, string) (string, error) { return "", n.error() }
func (n noSealer) error() error {
	if n.err != nil {
		return n.err
	}
	return errors.New("no sealing keyring configured (SEALING_SECRET or SEALING_SECRET_ARN)")
}

var _ sealer = (*seal.Sealer)(nil)

// botHolds answers the legal holds that keep a bot's data: holds naming
// the bot, holds on users resolved on it, and (conservatively) holds on
// conversation or user ids that name no bot.
type botHolds struct{ store *lifecycledata.HoldStore }

func (b botHolds) OnBot(ctx context.Context, ws, bot string) ([]string, error) {
	active, err := b.store.Active(ctx, ws)
	var out []string
	for _, h := range active {
		onBot := h.BotID == bot || (h.BotID == "" && len(h.ConversationIDs)+len(h.UserIDs) > 0)
		for _, u := range h.ResolvedUsers {
			onBot = onBot || strings.HasPrefix(u, bot+"/")
		}
		if onBot {
			out = append(out, h.ID)
		}
	}
	return out, err
}
