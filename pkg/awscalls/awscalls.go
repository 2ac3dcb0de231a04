// Package awscalls counts AWS calls per request. An SDK middleware adds one
// to the counter carried by the call's context for every operation called,
// so a request's log line, and the tests, know exactly how many calls it
// cost; the SDK's retries of a call (throttling, a dropped connection) are
// counted apart, as Retries, since they depend on the network, not on the
// code.
package awscalls

import (
	"context"
	"sort"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Counter records the AWS operations made under one context.
type Counter struct {
	mu       sync.Mutex
	calls    []string
	auth     int
	attempts int
}

type ctxKey struct{}

// WithCounter returns a context carrying a new counter.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, ctxKey{}, c), c
}

// FromContext returns the context's counter, or nil.
func FromContext(ctx context.Context) *Counter {
	c, _ := ctx.Value(ctxKey{}).(*Counter)
	return c
}

func (c *Counter) add(op string) {
	c.mu.Lock()
	c.calls = append(c.calls, op)
	c.mu.Unlock()
}

// MarkAuth records that every call so far was spent on authentication, so
// the operation's own cost can be told apart from the credentials check.
func (c *Counter) MarkAuth() {
	c.mu.Lock()
	c.auth = len(c.calls)
	c.mu.Unlock()
}

func (c *Counter) attempt() {
	c.mu.Lock()
	c.attempts++
	c.mu.Unlock()
}

// Retries is the number of attempts the SDK sent again.
func (c *Counter) Retries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.attempts-len(c.calls), 0)
}

// Total is the number of calls made.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// Auth is the number of calls spent on authentication.
func (c *Counter) Auth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth
}

// Ops returns the calls made after authentication, as "Service.Operation"
// names in order.
func (c *Counter) Ops() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls[c.auth:]...)
}

// Summary renders Ops compactly and stably: "DynamoDB.GetItem=1,DynamoDB.Query=1".
func (c *Counter) Summary() string {
	counts := map[string]int{}
	for _, op := range c.Ops() {
		counts[op]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(itoa(counts[k]))
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// Middleware is an SDK option (add it to aws.Config.APIOptions) that counts
// every operation called once, and every attempt sent (retries included).
func Middleware(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("parley.awscalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c := FromContext(ctx); c != nil {
				c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("parley.awsattempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if c := FromContext(ctx); c != nil {
				c.attempt()
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}
