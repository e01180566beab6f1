package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Redacted replaces a secret in a log line.
const Redacted = "[REDACTED]"

// secretKeyWords mark an attribute key whose value is a secret.
var secretKeyWords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "credential", "private_key"}

// IsSecretKey says whether an attribute or setting named key holds a
// secret (sasl.password, api_key, ingest_token, ...).
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// minSecretLen: shorter values are not replaced inside text (a one-letter
// "secret" would blank every log line).
const minSecretLen = 4

// RedactHandler wraps a slog.Handler: values of attributes whose key
// looks like a secret are replaced whole, and every known secret value is
// replaced wherever it appears in the message or a string, error or
// Stringer value.
type RedactHandler struct {
	next    slog.Handler
	secrets []string
}

// NewRedactHandler wraps next; secrets are the values never to write
// (values shorter than four characters are ignored).
func NewRedactHandler(next slog.Handler, secrets []string) *RedactHandler {
	h := &RedactHandler{next: next}
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			h.secrets = append(h.secrets, s)
		}
	}
	return h
}

// Enabled reports whether the wrapped handler handles level.
func (h *RedactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle redacts the record and passes it on.
func (h *RedactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts the attributes and returns a handler adding them.
func (h *RedactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &RedactHandler{next: h.next.WithAttrs(red), secrets: h.secrets}
}

// WithGroup returns a handler that groups the attributes that follow.
func (h *RedactHandler) WithGroup(name string) slog.Handler {
	return &RedactHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func (h *RedactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if IsSecretKey(a.Key) && v.Kind() != slog.KindGroup {
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindGroup:
		gs := v.Group()
		red := make([]any, len(gs))
		for i, g := range gs {
			red[i] = h.attr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindString:
		return slog.String(a.Key, h.scrub(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.scrub(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.scrub(x.String()))
		case []byte:
			return slog.String(a.Key, h.scrub(string(x)))
		default:
			// Structs, maps, slices: rendered here so that no secret
			// inside them escapes.
			return slog.String(a.Key, h.scrub(fmt.Sprintf("%+v", x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *RedactHandler) scrub(s string) string {
	for _, sec := range h.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
