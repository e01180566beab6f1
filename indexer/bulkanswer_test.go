package indexer

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// bulkAnswerSeeds are bulk answers in the shapes Elasticsearch 8 gives:
// the filtered ones Write asks for, a full one, item errors, request
// errors, and near misses of the plain shape.
func bulkAnswerSeeds() []string {
	return []string{
		`{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":200}},{"create":{"status":201}}]}`,
		`{"errors":false,"items":[]}`,
		`{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}}]}`,
		`{"errors":true,"items":[{"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"[1:412] failed to parse field [triage.confidence] of type [float] in document with id 'x'. Preview of field's value: 'very high'","caused_by":{"type":"number_format_exception","reason":"For input string: \"very high\""}}}}]}`,
		`{"took":3,"errors":false,"items":[{"index":{"_index":"vigil-verdicts-2025.12","_id":"9f0c","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}]}`,
		`{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\n]"}],"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\n]"},"status":400}`,
		`{"errors":false,"items":[{"index":{"status":0201}}]}`,
		`{"errors":false,"items":[{"index":{"status":201}}]} `,
		`{"errors":false,"items":[{"Index":{"status":201}}]}`,
		`<html>502 Bad Gateway</html>`,
	}
}

func TestQuickBulkAnswerAgreesWithEncodingJSON(t *testing.T) {
	quick := 0
	for _, in := range bulkAnswerSeeds() {
		items, ok := quickBulkAnswer([]byte(in))
		if !ok {
			continue
		}
		quick++
		var want esutil.BulkIndexerResponse
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("quick path took %q, which encoding/json refuses: %v", in, err)
		}
		if !reflect.DeepEqual(items, want.Items) || want.HasErrors {
			t.Errorf("%q: quick %+v, encoding/json %+v", in, items, want.Items)
		}
	}
	if quick != 2 {
		t.Fatalf("quick path took %d of the answers, want the 2 plain ones", quick)
	}
}

// FuzzBulkAnswer: on any answer, decodeBulkAnswer gives what
// encoding/json gives, and never panics.
func FuzzBulkAnswer(f *testing.F) {
	for _, s := range bulkAnswerSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var got, want esutil.BulkIndexerResponse
		gotErr := decodeBulkAnswer(in, &got)
		wantErr := json.Unmarshal(in, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", in, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/json gives %+v", in, got, want)
		}
	})
}
