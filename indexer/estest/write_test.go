package estest_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/vigil-siem/vigil/indexer/estest"
)

func TestOnWriteReportsEveryStoredDocument(t *testing.T) {
	s := estest.NewServer()
	defer s.Close()
	var mu sync.Mutex
	var writes []estest.Write
	s.SetOnWrite(func(w estest.Write) {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, w)
	})
	body := `{"index":{"_index":"a","_id":"1"}}
{"n":1}
{"index":{"_index":"a","_id":"1"}}
{"n":2}
{"create":{"_index":"a","_id":"1"}}
{"n":3}
{"update":{"_index":"a","_id":"2"}}
{"doc":{"n":4},"doc_as_upsert":true}
{"index":{"_index":"a","_id":"3"}}
not json
`
	status, _, _ := call(t, http.MethodPost, s.URL()+"/_bulk", "application/x-ndjson", []byte(body))
	if status != http.StatusOK {
		t.Fatalf("bulk: %d", status)
	}
	type got struct {
		id      string
		version int64
		source  string
	}
	want := []got{{"1", 1, `{"n":1}`}, {"1", 2, `{"n":2}`}, {"2", 1, `{"n":4}`}}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) != len(want) {
		t.Fatalf("reported %d writes, want %d (a refused create and an unparseable document are not writes): %+v", len(writes), len(want), writes)
	}
	for i, w := range writes {
		if w.Index != "a" || w.ID != want[i].id || w.Version != want[i].version || string(w.Source) != want[i].source || w.At.IsZero() {
			t.Errorf("write %d = %s/%s v%d %s at %v, want a/%s v%d %s", i, w.Index, w.ID, w.Version, w.Source, w.At, want[i].id, want[i].version, want[i].source)
		}
	}
	if v := s.Version("a", "1"); v != 2 {
		t.Errorf("Version(a, 1) = %d after two writes", v)
	}
}
