// Package httpapi is the HTTP core every Parley function shares: routing,
// strict JSON decoding, query decoding, Botpress-style error bodies, list
// envelopes and one structured log line per request. Handlers here never see
// Lambda types; the Lambda adapter and the local runner feed them requests.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/id"
)

// RequestIDHeader carries the API Gateway request id into the handler; the
// Lambda adapter sets it from the event, overriding whatever a client sent.
const RequestIDHeader = "X-Parley-Request-Id"

// Response is what a handler answers on success.
type Response struct {
	Status int
	Body   any
	// Raw, when set, is written as is with Header instead of Body as JSON
	// (a proxied answer, e.g. an integration's answer to its webhook).
	Raw    []byte
	Header http.Header
}

// OK answers 200 with body.
func OK(body any) Response { return Response{Status: http.StatusOK, Body: body} }

// Created answers 201 with body.
func Created(body any) Response { return Response{Status: http.StatusCreated, Body: body} }

// Raw is a body answered as is (JSON lines, say), with its content type
// and extra headers.
type Raw struct {
	ContentType string
	Headers     map[string]string
	Body        []byte
}

// Redirect answers 302 to url, without a body.
func Redirect(url string) Response {
	return Response{Status: http.StatusFound, Header: http.Header{"Location": {url}, "Cache-Control": {"no-store"}}}
}

// Handler serves one route. Errors are written as Botpress error bodies.
type Handler func(r *http.Request) (Response, error)

// Middleware wraps a handler, e.g. to authenticate before it runs.
type Middleware func(Handler) Handler

// Router dispatches requests to handlers by method and path.
type Router struct {
	mux     *http.ServeMux
	methods map[string]bool
	routes  []string
	// requirements holds what each route's middleware declares (see
	// Describe), by "METHOD /path".
	requirements map[string]Requirement
	log          *slog.Logger
}

// NewRouter returns an empty router logging to log.
func NewRouter(log *slog.Logger) *Router {
	return &Router{mux: http.NewServeMux(), methods: map[string]bool{}, requirements: map[string]Requirement{}, log: log}
}

// Handle registers h for "METHOD /path/{param}", wrapped by mw (outermost first).
func (rt *Router) Handle(method, path string, h Handler, mw ...Middleware) {
	pattern := method + " " + path
	if req, ok := describe(method, mw); ok {
		rt.requirements[pattern] = req
	}
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	rt.methods[method] = true
	rt.routes = append(rt.routes, pattern)
	rt.mux.Handle(pattern, handlerAdapter(h))
}

// Routes lists the registered "METHOD /path" patterns.
func (rt *Router) Routes() []string { return append([]string(nil), rt.routes...) }

type handlerAdapter Handler

func (h handlerAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := Handler(h)(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if raw, ok := res.Body.(Raw); ok {
		for k, v := range raw.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", raw.ContentType)
		w.WriteHeader(res.Status)
		_, _ = w.Write(raw.Body)
		return
	}
	if res.Raw != nil || res.Header != nil {
		for k, vs := range res.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Raw)
		return
	}
	WriteJSON(w, res.Status, res.Body)
}

// ServeHTTP runs one request: it assigns the request id and the AWS call
// counter, recovers panics, answers unknown routes with Botpress errors and
// logs one line.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	reqID := r.Header.Get(RequestIDHeader)
	if reqID == "" {
		reqID = id.ULID(start)
	}
	ctx = withRequestID(ctx, reqID)
	counter := awscalls.FromContext(ctx)
	if counter == nil {
		ctx, counter = awscalls.WithCounter(ctx)
	}
	r = r.WithContext(ctx)
	w.Header().Set("X-Request-Id", reqID)
	sw := &statusWriter{ResponseWriter: w}

	_, pattern := rt.mux.Handler(r)
	func() {
		defer func() {
			if p := recover(); p != nil {
				rt.log.ErrorContext(ctx, "panic", "request_id", reqID, "panic", p, "stack", string(debug.Stack()))
				WriteError(sw, r, errors.New("panic"))
			}
		}()
		switch {
		case pattern != "":
			rt.mux.ServeHTTP(sw, r)
		case rt.otherMethodMatches(r):
			WriteError(sw, r, apperr.New(apperr.MethodNotFound, "method %s is not allowed on %s", r.Method, r.URL.Path))
		default:
			WriteError(sw, r, apperr.New(apperr.ResourceNotFound, "no route for %s %s", r.Method, r.URL.Path))
		}
	}()

	level := slog.LevelInfo
	if sw.status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{
		"request_id", reqID, "route", pattern, "method", r.Method, "path", r.URL.Path,
		"status", sw.status, "latency_ms", time.Since(start).Milliseconds(),
		"aws_calls", counter.Total(), "auth_calls", counter.Auth(), "aws_retries", counter.Retries(), "ops", counter.Summary(),
	}
	if e := internalError(ctx); e != nil {
		attrs = append(attrs, "error", e.Error())
	}
	rt.log.Log(ctx, level, "request", attrs...)
}

func (rt *Router) otherMethodMatches(r *http.Request) bool {
	for m := range rt.methods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := rt.mux.Handler(probe); p != "" {
			return true
		}
	}
	return false
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, &requestState{id: id})
}

type requestState struct {
	id       string
	internal error
}

// RequestID returns the request's id.
func RequestID(ctx context.Context) string {
	if s, ok := ctx.Value(requestIDKey{}).(*requestState); ok {
		return s.id
	}
	return ""
}

func internalError(ctx context.Context) error {
	if s, ok := ctx.Value(requestIDKey{}).(*requestState); ok {
		return s.internal
	}
	return nil
}
