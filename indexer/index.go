package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// IndexFor returns the index a document is written to (see
// ESConfig.IndexPattern). In the monthly pattern a document without the
// time it is placed by is an error: guessing would let two versions of
// one document land in two indices.
func (s *ESSink) IndexFor(d Doc) (string, error) {
	base := s.indices[d.Kind]
	if base == "" {
		return "", fmt.Errorf("unknown document kind %q (want %q or %q)", d.Kind, KindAlert, KindVerdict)
	}
	if !s.monthly {
		return base, nil
	}
	t, field, err := placementTime(d)
	if err != nil {
		return "", fmt.Errorf("document %q: %s decides its monthly index: %w", d.ID, field, err)
	}
	return MonthlyIndex(base, t), nil
}

// MonthlyIndex is base-YYYY.MM of t in UTC.
func MonthlyIndex(base string, t time.Time) string {
	return base + "-" + t.UTC().Format("2006.01")
}

// placementTime reads the property that places a document: an alert's
// @timestamp, a verdict's vigil.incident.first_seen.
func placementTime(d Doc) (time.Time, string, error) {
	var probe struct {
		Timestamp *time.Time `json:"@timestamp"`
		Vigil     struct {
			Incident struct {
				FirstSeen *time.Time `json:"first_seen"`
			} `json:"incident"`
		} `json:"vigil"`
	}
	field := "@timestamp"
	if d.Kind == KindVerdict {
		field = "vigil.incident.first_seen"
	}
	if err := json.Unmarshal(d.Body, &probe); err != nil {
		return time.Time{}, field, err
	}
	t := probe.Timestamp
	if d.Kind == KindVerdict {
		t = probe.Vigil.Incident.FirstSeen
	}
	if t == nil || t.IsZero() {
		return time.Time{}, field, errors.New("missing")
	}
	return *t, field, nil
}

// retryableError marks a Write error caused by the cluster being
// unreachable, overloaded or unavailable: the same batch will go through
// once it is back.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// IsRetryable reports whether an error from Write means Elasticsearch is
// down or overloaded (connection refused or reset, timeouts, 429, 5xx,
// items still refused after the retries), so the caller should pause and
// retry the same batch, rather than a problem retrying cannot fix (bad
// credentials, a malformed answer, a cancelled context).
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var r *retryableError
	if errors.As(err, &r) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
