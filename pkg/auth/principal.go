package auth

import "context"

// WithPrincipal returns ctx carrying p, for routes that authenticate by other
// means than a personal access token (e.g. a bot API key's JWT).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
