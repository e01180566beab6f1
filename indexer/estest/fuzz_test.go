package estest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// eveRecords returns up to n real Suricata EVE records from the corpus
// (nil when the corpus is absent).
func eveRecords(n int) [][]byte {
	dir, err := os.Getwd()
	if err != nil {
		return nil
	}
	for {
		p := filepath.Join(dir, "shared", "corpus", "suricata-eve", "surevego_eve.json")
		if f, err := os.Open(p); err == nil {
			defer f.Close()
			var out [][]byte
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() && len(out) < n {
				out = append(out, append([]byte(nil), sc.Bytes()...))
			}
			return out
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// serve runs one request through the handler without a network.
func serve(t *testing.T, s *Server, method, target, contentType string, body []byte, gz bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Header().Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatalf("answer %d lacks X-Elastic-Product", rec.Code)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.Bytes())
	}
	return rec
}

// FuzzBulk feeds arbitrary bulk bodies (plain or gzip) to the server: it
// must answer 200 with one item per action, or an Elasticsearch error,
// never panic.
func FuzzBulk(f *testing.F) {
	for i, rec := range eveRecords(8) {
		f.Add([]byte(fmt.Sprintf("{\"index\":{\"_index\":\"eve\",\"_id\":\"%d\"}}\n%s\n", i, rec)), false)
		f.Add([]byte(fmt.Sprintf("{\"create\":{\"_index\":\"eve\"}}\n%s\n{\"update\":{\"_index\":\"eve\",\"_id\":\"%d\"}}\n{\"doc\":%s,\"doc_as_upsert\":true}\n", rec, i, rec)), false)
	}
	f.Add([]byte("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"n\":1}\n{\"index\":{\"_index\":\"a\",\"_id\":\"2\"}}\n{\"n\":\"x\"}\n{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n"), false)
	f.Add([]byte("{\"index\":{\"_index\":\"a\"}}\n{\"a.b\":1,\"a\":{\"b\":{\"c\":2}}}\n"), false)
	f.Add([]byte("{\"index\":\n"), false)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"n\":1}\n"))
	_ = zw.Close()
	f.Add(gz.Bytes(), true)

	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		s := newServer()
		rec := serve(t, s, http.MethodPost, "/fz/_bulk", "application/x-ndjson", body, gzipped)
		switch rec.Code {
		case http.StatusOK:
			var resp struct {
				Errors bool                         `json:"errors"`
				Items  []map[string]json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Items) == 0 {
				t.Fatalf("200 without items: %v %s", err, rec.Body.Bytes())
			}
			for _, it := range resp.Items {
				if len(it) != 1 {
					t.Fatalf("item with %d keys", len(it))
				}
			}
			// Whatever was stored can be searched back.
			if rec := serve(t, s, http.MethodPost, "/_search", "application/json", []byte(`{"query":{"match_all":{}},"size":100}`), false); rec.Code != http.StatusOK {
				t.Fatalf("search after bulk: %d %s", rec.Code, rec.Body.Bytes())
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct {
				Error struct {
					Type string `json:"type"`
				} `json:"error"`
				Status int `json:"status"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Type == "" || e.Status != rec.Code {
				t.Fatalf("error without Elasticsearch's shape: %s", rec.Body.Bytes())
			}
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzSearch feeds arbitrary search bodies to a server holding real EVE
// records: 200 or an Elasticsearch error, never a panic.
func FuzzSearch(f *testing.F) {
	seeds := []string{
		`{"query":{"term":{"event_type":"dns"}}}`,
		`{"query":{"bool":{"filter":[{"range":{"timestamp":{"gte":"2017-01-30||-1d/d"}}}],"must_not":{"terms":{"proto.keyword":["TCP"]}}}},"sort":[{"timestamp":"desc"}],"size":3}`,
		`{"query":{"match":{"dns.rrname":{"query":"security debian","operator":"and"}}},"from":1}`,
		`{"query":{"exists":{"field":"dns.id"}},"sort":["src_port",{"flow_id":{"order":"asc","missing":"_first"}}]}`,
		`{"query":{"prefix":{"src_ip.keyword":"172."}},"track_total_hits":true,"_source":false}`,
		`{"query":{"bool":{"should":[{"ids":{"values":["1"]}},{"match_all":{}}],"minimum_should_match":2}}}`,
		`{"sort":{"timestamp":{"order":"desc"}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	records := eveRecords(30)
	if len(records) == 0 {
		records = [][]byte{[]byte(`{"timestamp":"2017-01-30T16:12:26.985026+0100","event_type":"dns","src_ip":"172.17.0.2","src_port":55645,"proto":"UDP","dns":{"type":"query","id":13786,"rrname":"_http._tcp.security.debian.org"}}`)}
	}
	var bulk bytes.Buffer
	for i, r := range records {
		fmt.Fprintf(&bulk, "{\"index\":{\"_index\":\"eve-%d\",\"_id\":\"%d\"}}\n%s\n", i%2, i, r)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newServer()
		if rec := serve(t, s, http.MethodPost, "/_bulk", "application/x-ndjson", bulk.Bytes(), false); rec.Code != http.StatusOK {
			t.Fatalf("loading records: %d %s", rec.Code, rec.Body.Bytes())
		}
		rec := serve(t, s, http.MethodPost, "/eve-*/_search", "application/json", body, false)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}
