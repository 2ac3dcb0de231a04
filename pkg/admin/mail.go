package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/parley-dev/parley/pkg/clock"
)

// Mailer delivers an invitation code to the person invited.
type Mailer interface {
	SendInvitation(ctx context.Context, to, code string, expires time.Time) error
}

// SESMailer sends invitations through SES from a verified sender.
type SESMailer struct {
	Client *sesv2.Client
	Sender string
}

var _ Mailer = SESMailer{}

// SendInvitation implements Mailer.
func (m SESMailer) SendInvitation(ctx context.Context, to, code string, expires time.Time) error {
	body := fmt.Sprintf("You were added to a Parley workspace.\n\nExchange this one-time code for your first personal access token:\n\n"+
		"    POST /v1/admin/account/invitations/accept {\"code\": %q}\n\nThe code expires at %s.\n", code, clock.Format(expires))
	_, err := m.Client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.Sender), Destination: &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Your Parley invitation")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(body)}},
		}},
	})
	if err != nil {
		return fmt.Errorf("send invitation: %w", err)
	}
	return nil
}
