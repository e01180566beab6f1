package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
)

// An analyst's correction (`vigil incidents feedback`) is stored as
// triage.feedback on the verdict document. A later verdict of the same
// incident (it grew, or was judged again) replaces the whole document, so
// the sinks carry the stored feedback over into it: the correction stays
// with the incident until the analyst changes it.
//
// In Elasticsearch the sink's look-up and its write are two requests,
// and the analyst's command may write in between: the sink's write would
// replace the feedback it did not see. So the command first records the
// feedback in a register of its own, the feedback index (one document
// per incident id, which no sink writes), and then writes it onto the
// verdict document; and the sink, after writing verdicts, reads the
// register (a real-time multi-get) and writes once more each verdict
// whose feedback is not the registered one. Either the sink's
// read comes after the register write, and the sink writes the feedback,
// or it comes before, and then so does the sink's write of the verdict,
// which the command's read of the verdict document (after its register
// write) sees, and the command writes the feedback onto it. A write of
// the command that loses to a newer verdict (409) is read and written
// again (incidents.Feedback).

// RecordFeedback stores fb as the analyst's latest feedback on incident
// id in the feedback register, readable at once by the sinks' real-time
// look-ups. `vigil incidents feedback` calls it before it writes the
// feedback onto the verdict document.
func (s *ESSink) RecordFeedback(ctx context.Context, id string, fb json.RawMessage) error {
	body, err := json.Marshal(map[string]any{
		"vigil":  map[string]any{"incident": map[string]any{"id": id}},
		"triage": map[string]any{"feedback": fb},
	})
	if err != nil {
		return fmt.Errorf("indexer: feedback on %s: %w", id, err)
	}
	path := "/" + url.PathEscape(s.feedbackIndex) + "/_doc/" + url.PathEscape(id)
	status, raw, err := s.Request(ctx, http.MethodPut, path, body)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK && status != http.StatusCreated:
		return fmt.Errorf("indexer: elasticsearch %s: recording feedback on %s in %s: answered %d: %.300s", s.where, id, s.feedbackIndex, status, raw)
	}
	return nil
}

// registeredFeedback returns the register's feedback for each of ids
// that has some, read in real time.
func (s *ESSink) registeredFeedback(ctx context.Context, ids []string) (map[string]json.RawMessage, error) {
	q, err := json.Marshal(map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	// Only what the look-up reads of each item comes back.
	path := "/" + url.PathEscape(s.feedbackIndex) + "/_mget?_source=triage.feedback&filter_path=docs._id,docs.found,docs._source,docs.error"
	status, raw, err := s.Request(ctx, http.MethodPost, path, q)
	what := fmt.Sprintf("reading the feedback of %d incidents from %s", len(ids), s.feedbackIndex)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
	case err != nil:
		return nil, retryable(err)
	case status == http.StatusNotFound && bytes.Contains(raw, []byte("index_not_found_exception")):
		return nil, nil // no analyst has given feedback yet
	case retryableStatus(status):
		return nil, retryable(fmt.Errorf("indexer: elasticsearch %s: %s: answered %d: %.300s", s.where, what, status, raw))
	case status != http.StatusOK:
		return nil, fmt.Errorf("indexer: elasticsearch %s: %s: answered %d: %.300s", s.where, what, status, raw)
	}
	// Usually no incident of the batch has feedback: an answer of only
	// {"_id":…,"found":false} items (one per id, nothing else) is
	// recognised without decoding it.
	if !bytes.Contains(raw, []byte(`"found":true`)) && !bytes.Contains(raw, []byte(`"error"`)) &&
		validJSON(raw) && bytes.HasPrefix(raw, []byte(`{"docs":[`)) && bytes.Count(raw, []byte(`"_id":`)) == len(ids) {
		return nil, nil
	}
	var res struct {
		Docs []struct {
			ID     string `json:"_id"`
			Found  bool   `json:"found"`
			Source struct {
				Triage struct {
					Feedback json.RawMessage `json:"feedback"`
				} `json:"triage"`
			} `json:"_source"`
			Error *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Docs) != len(ids) {
		return nil, fmt.Errorf("indexer: elasticsearch %s: %s: answer is not a multi-get result for %d ids: %.300s", s.where, what, len(ids), raw)
	}
	got := map[string]json.RawMessage{}
	for _, d := range res.Docs {
		switch {
		case d.Error != nil && d.Error.Type == "index_not_found_exception":
		case d.Error != nil:
			return nil, retryable(fmt.Errorf("indexer: elasticsearch %s: %s: %s: %s: %s", s.where, what, d.ID, d.Error.Type, d.Error.Reason))
		case d.Found && len(d.Source.Triage.Feedback) > 0 && string(d.Source.Triage.Feedback) != "null":
			got[d.ID] = d.Source.Triage.Feedback
		}
	}
	return got, nil
}

// maxFeedbackRepairs bounds keepFeedback's rounds: each writes the
// feedback the register held at its read, and only an analyst changing
// the feedback again in the meantime calls for another.
const maxFeedbackRepairs = 4

// keepFeedback reads the register for the verdicts among written (just
// stored) and writes again, with the registered feedback, each whose
// feedback differs: feedback recorded after carryFeedback's look-up and
// before the write would otherwise be replaced. It returns the items
// refused for good on the way.
func (s *ESSink) keepFeedback(ctx context.Context, written []item) ([]Failed, error) {
	var failed []Failed
	for range maxFeedbackRepairs {
		var ids []string
		for _, it := range written {
			if it.doc.Kind == KindVerdict {
				ids = append(ids, it.doc.ID)
			}
		}
		if len(ids) == 0 {
			return failed, nil
		}
		registered, err := s.registeredFeedback(ctx, ids)
		if err != nil {
			return nil, err
		}
		var again []item
		for _, it := range written {
			fb := registered[it.doc.ID]
			if it.doc.Kind != KindVerdict || fb == nil || sameJSON(feedbackOf(it.body), fb) {
				continue
			}
			body, err := setFeedback(it.body, fb)
			if err != nil {
				return nil, fmt.Errorf("indexer: verdict %s: writing the analyst's feedback: %w", it.doc.ID, err)
			}
			it.body = body
			again = append(again, it)
		}
		if len(again) == 0 {
			return failed, nil
		}
		refused, stored, err := s.send(ctx, again)
		if err != nil {
			return nil, err
		}
		failed, written = append(failed, refused...), stored
	}
	return failed, nil
}

// sameJSON reports whether two JSON values are equal as values (key
// order and spacing aside); a nil value equals only nil.
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// carryFeedback copies into the verdicts among items the analyst's
// feedback on their incidents, from the verdicts stored in Elasticsearch
// (the command writes it there too): one search per batch, for the
// stored ones that have feedback (usually none). The search sees what
// was refreshed; feedback it misses is written by keepFeedback after
// the bulk write, from the register.
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
	return setFeedback(doc, fb)
}

// setFeedback returns doc with triage.feedback set to fb.
func setFeedback(doc []byte, fb json.RawMessage) ([]byte, error) {
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
