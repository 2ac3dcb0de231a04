package app

import (
	"crypto/sha256"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/topology"
)

func newS3(awsCfg aws.Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Emulators serve buckets by path; AWS by virtual host.
		o.UsePathStyle = awsCfg.BaseEndpoint != nil
	})
}

// adminOptions are the admin store's resources beyond the admin table.
func adminOptions(d Deps) admin.Options {
	o := admin.Options{
		ChatTable:  d.Config.Table(topology.ChatTable),
		CodeBucket: d.Config.Env[topology.EnvVar("bucket", topology.BotCodeBucket)],
		SecretsKey: secretsKey(d.Config.SigningKey),
	}
	if sender := d.Config.Setting("SES_SENDER"); sender != "" && d.Mail != nil {
		o.Mail = admin.SESMailer{Client: d.Mail, Sender: sender}
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

// secretsKey derives the AES-256 key sealing integration secrets from the
// function's secret (SIGNING_SECRET, or the Secrets Manager secret when
// deployed), separated from its page-token use.
func secretsKey(secret []byte) []byte {
	sum := sha256.Sum256(append([]byte("parley/integration-secrets/"), secret...))
	return sum[:]
}
