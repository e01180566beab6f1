package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// An analyst's correction (`vigil incidents feedback`) is stored as
// triage.feedback on the verdict document. A later verdict of the same
// incident (it grew, or was judged again) replaces the whole document, so
// the sinks carry the stored feedback over into it: the correction stays
// with the incident until the analyst changes it.

// carryFeedback copies triage.feedback from the verdicts stored in
// Elasticsearch into the new versions of them among items, which do not
// have one. One search per batch with verdicts, for the stored ones that
// have feedback (usually none). Feedback stored between this search and
// the bulk write is not carried (the write replaces it): the analyst's
// command says so only if the write came first; the window is one bulk
// round.
func (s *ESSink) carryFeedback(ctx context.Context, items []item) error {
	byID := map[string][]int{}
	var ids []string
	for i, it := range items {
		if it.doc.Kind != KindVerdict {
			continue
		}
		if _, ok := byID[it.doc.ID]; !ok {
			ids = append(ids, it.doc.ID)
		}
		byID[it.doc.ID] = append(byID[it.doc.ID], i)
	}
	if len(ids) == 0 {
		return nil
	}
	q, err := json.Marshal(map[string]any{
		"size":    len(ids),
		"_source": []string{"triage.feedback"},
		"query": map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"ids": map[string]any{"values": ids}},
			map[string]any{"exists": map[string]any{"field": "triage.feedback.verdict"}},
		}}},
	})
	if err != nil {
		return err
	}
	_, search := s.Index(KindVerdict)
	path := "/" + url.PathEscape(search) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	status, raw, err := s.Request(ctx, http.MethodPost, path, q)
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	case err != nil:
		return retryable(err) // the cluster is unreachable: the batch is retried
	case retryableStatus(status):
		return retryable(fmt.Errorf("indexer: elasticsearch %s: looking up analysts' feedback on %d verdicts: answered %d: %.300s", s.where, len(ids), status, raw))
	case status != http.StatusOK:
		return fmt.Errorf("indexer: elasticsearch %s: looking up analysts' feedback on %d verdicts: answered %d: %.300s", s.where, len(ids), status, raw)
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string `json:"_id"`
				Source struct {
					Triage struct {
						Feedback json.RawMessage `json:"feedback"`
					} `json:"triage"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("indexer: elasticsearch %s: looking up analysts' feedback: answer is not a search result: %w", s.where, err)
	}
	for _, h := range res.Hits.Hits {
		if len(h.Source.Triage.Feedback) == 0 {
			continue
		}
		for _, i := range byID[h.ID] {
			body, err := withFeedback(items[i].body, h.Source.Triage.Feedback)
			if err != nil {
				return fmt.Errorf("indexer: verdict %s: carrying the analyst's feedback over: %w", h.ID, err)
			}
			items[i].body = body
		}
	}
	return nil
}

// feedbackOf returns a verdict document's triage.feedback, nil when it
// has none.
func feedbackOf(doc []byte) json.RawMessage {
	if !bytes.Contains(doc, []byte(`"feedback"`)) {
		return nil
	}
	var probe struct {
		Triage struct {
			Feedback json.RawMessage `json:"feedback"`
		} `json:"triage"`
	}
	if json.Unmarshal(doc, &probe) != nil || string(probe.Triage.Feedback) == "null" {
		return nil
	}
	return probe.Triage.Feedback
}

// withFeedback returns doc with triage.feedback set to fb, unless doc has
// feedback of its own (then doc, unchanged).
func withFeedback(doc []byte, fb json.RawMessage) ([]byte, error) {
	if feedbackOf(doc) != nil {
		return doc, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	triage := map[string]json.RawMessage{}
	if t, ok := top["triage"]; ok {
		if err := json.Unmarshal(t, &triage); err != nil {
			return nil, fmt.Errorf("triage is not an object: %w", err)
		}
	}
	triage["feedback"] = fb
	t, err := json.Marshal(triage)
	if err != nil {
		return nil, err
	}
	top["triage"] = t
	return json.Marshal(top)
}
