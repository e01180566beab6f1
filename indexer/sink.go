package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Document kinds; the kind decides the index or file a document goes to.
const (
	KindAlert   = "alert"
	KindVerdict = "verdict"
)

// Doc is one document to index. Kind is KindAlert or KindVerdict, ID is
// the Elasticsearch _id (the alert id or the incident id), Body is the
// JSON document.
//
// Alerts never change once written (same id, same content). A verdict is
// rewritten as its incident grows, and an incident only grows under one
// id, so a verdict's version is its vigil.incident.alert_count: a sink
// never lets a verdict replace one of a bigger incident. A replayed or
// re-sent smaller version (a restarted stage re-triaging part of an
// incident that was already closed) is skipped as stale, not an error.
type Doc struct {
	Kind string
	ID   string
	Body []byte
	// Version is a verdict's vigil.incident.alert_count when the caller
	// has read it already (the index stage decodes every record's ids);
	// 0 has the sink read it from Body. Alerts are not versioned.
	Version int64
}

// Failed is a document rejected permanently (mapping conflict, bad
// document); the caller sends it to the DLQ with Reason.
type Failed struct {
	Doc    Doc
	Reason string
}

// Sink stores documents.
type Sink interface {
	// Write returns only when every doc is durably stored or permanently
	// rejected (returned in failed). A non-nil error means the batch must
	// be retried later and nothing may be assumed stored.
	Write(ctx context.Context, docs []Doc) (failed []Failed, err error)
	// Close flushes and releases the sink.
	Close() error
}

// idPaths are where a document carries its own id: verdicts under
// vigil.incident.id, alerts under vigil.alert.id.
var idPaths = [][]string{{"vigil", "incident", "id"}, {"vigil", "alert", "id"}}

// errNoID is returned by docID for a JSON object without an id.
var errNoID = errors.New("document has no vigil.incident.id or vigil.alert.id")

// docID returns the id a document carries, looking under both nested
// objects and dotted keys ({"vigil.incident.id": ...}). It fails when body
// is not a JSON object.
func docID(body []byte) (string, error) {
	id, _, err := docIdentity(body)
	return id, err
}

// docIdentity returns the id a document carries and its version: a
// verdict's vigil.incident.alert_count (see Doc), 0 for an alert or a
// verdict without a count.
func docIdentity(body []byte) (string, int64, error) {
	// Fast path: the nested form Vigil writes, decoded without building
	// maps for the rest of the document.
	var probe struct {
		Vigil struct {
			Incident struct {
				ID         string `json:"id"`
				AlertCount int64  `json:"alert_count"`
			} `json:"incident"`
			Alert struct {
				ID string `json:"id"`
			} `json:"alert"`
		} `json:"vigil"`
	}
	if err := json.Unmarshal(body, &probe); err == nil {
		if id := probe.Vigil.Incident.ID; id != "" {
			return id, max(probe.Vigil.Incident.AlertCount, 0), nil
		}
		if id := probe.Vigil.Alert.ID; id != "" {
			return id, 0, nil
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return "", 0, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, p := range idPaths {
		if id, ok := lookupString(obj, p); ok {
			return id, 0, nil
		}
	}
	return "", 0, errNoID
}

// lookupString finds a non-empty string at path, trying every way of
// splitting the path between nested objects and dotted keys.
func lookupString(obj map[string]json.RawMessage, path []string) (string, bool) {
	for i := len(path); i >= 1; i-- {
		v, ok := obj[strings.Join(path[:i], ".")]
		if !ok {
			continue
		}
		if i == len(path) {
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				return s, true
			}
			continue
		}
		var sub map[string]json.RawMessage
		if json.Unmarshal(v, &sub) != nil {
			continue
		}
		if s, ok := lookupString(sub, path[i:]); ok {
			return s, true
		}
	}
	return "", false
}
