package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sort"
)

// Requirement is what a route asks of its caller before its handler runs:
// the scope its credentials must name and the permission the caller's role
// must hold there. Routes declare it through their middleware (auth.Require
// and the routes' own authorizers wrap theirs in Describe), so the router
// knows, per route, what it demands; the security sweep test reads it.
type Requirement struct {
	// Scope is "public" (no credential), "account" (a valid token),
	// "workspace" (x-workspace-id), "bot" (x-bot-id), "workspace-path" or
	// "bot-path" (the workspace or bot named by the path), or a
	// route-specific scope such as "workspace-or-only" (policies) or
	// "bot-path+jwt" (deletion jobs: a bot API key's JWT, or a token).
	Scope string
	// Permission is the permission the caller's role must hold ("" for
	// public and account routes).
	Permission string
}

// Public declares a route that takes no credential (the body carries
// one, e.g. an invitation code).
var Public Middleware = Describe(Requirement{Scope: "public"}, func(h Handler) Handler { return h })

type describeKey struct{}

// Describe wraps mw so that the router's registration probe learns req;
// real requests go through mw unchanged.
func Describe(req Requirement, mw Middleware) Middleware {
	return func(next Handler) Handler {
		h := mw(next)
		return func(r *http.Request) (Response, error) {
			if d, ok := r.Context().Value(describeKey{}).(*Requirement); ok {
				*d = req
				return Response{}, errDescribed
			}
			return h(r)
		}
	}
}

var (
	errDescribed  = errors.New("described")
	errUndeclared = errors.New("no middleware declared this route's requirement")
)

// describe runs the route's middleware chain, around a handler that is
// never the route's own, with a probe request that the outermost
// describing middleware answers. A chain that declares nothing (or whose
// outermost middleware doesn't describe itself) yields ok false.
func describe(method string, mw []Middleware) (req Requirement, ok bool) {
	probe := Handler(func(*http.Request) (Response, error) { return Response{}, errUndeclared })
	for i := len(mw) - 1; i >= 0; i-- {
		probe = mw[i](probe)
	}
	r, err := http.NewRequest(method, "http://probe/", http.NoBody)
	if err != nil {
		return Requirement{}, false
	}
	var d Requirement
	r = r.WithContext(context.WithValue(r.Context(), describeKey{}, &d))
	defer func() {
		if recover() != nil {
			req, ok = Requirement{}, false
		}
	}()
	_, err = probe(r)
	return d, errors.Is(err, errDescribed)
}

// Requirement returns what the route "METHOD /path" demands, and false
// when it is not registered or declares nothing.
func (rt *Router) Requirement(pattern string) (Requirement, bool) {
	req, ok := rt.requirements[pattern]
	return req, ok
}

// Undeclared lists the registered routes whose middleware declares no
// requirement: every route must (Public for those that take no token).
func (rt *Router) Undeclared() []string {
	var out []string
	for _, p := range rt.routes {
		if _, ok := rt.requirements[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
