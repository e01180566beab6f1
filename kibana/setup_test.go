package kibana

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/kibana/kibanatest"
)

// fakeSecret returns an obviously fake credential for one test.
func fakeSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-only-" + hex.EncodeToString(b)
}

func shippedKeys(t *testing.T) []string {
	t.Helper()
	objs, err := ParseObjects(SavedObjects())
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Type + "/" + o.ID
	}
	return keys
}

func TestSetupImportsEveryObject(t *testing.T) {
	key := fakeSecret(t)
	srv := kibanatest.NewServer(kibanatest.Config{APIKey: key})
	defer srv.Close()
	opts := Options{URL: srv.URL, APIKey: key, RetryBackoff: time.Millisecond}

	var out bytes.Buffer
	if err := Setup(context.Background(), opts, &out); err != nil {
		t.Fatalf("Setup: %v\n%s", err, out.String())
	}
	stored := srv.Objects("")
	keys := shippedKeys(t)
	if len(stored) != len(keys) {
		t.Errorf("Kibana stores %d objects, want %d", len(stored), len(keys))
	}
	for _, k := range keys {
		if _, ok := stored[k]; !ok {
			t.Errorf("%s not stored", k)
		}
		typ, id, _ := strings.Cut(k, "/")
		if !strings.Contains(out.String(), "imported") || !strings.Contains(out.String(), typ) || !strings.Contains(out.String(), id) {
			t.Errorf("output has no line for %s:\n%s", k, out.String())
		}
	}
	if !strings.Contains(out.String(), "Vigil — SOC overview") || !strings.Contains(out.String(), "11 of 11 saved objects imported") {
		t.Errorf("output:\n%s", out.String())
	}

	// The dashboard can be read back through the saved-objects API.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/saved_objects/dashboard/vigil-soc-overview", nil)
	req.Header.Set("Authorization", "ApiKey "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Attributes struct{ Title string } `json:"attributes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || got.Attributes.Title != "Vigil — SOC overview" {
		t.Errorf("GET dashboard: status %d, title %q, err %v", resp.StatusCode, got.Attributes.Title, err)
	}

	// A second import overwrites: same objects, no error, every object
	// reported as overwritten.
	out.Reset()
	if err := Setup(context.Background(), opts, &out); err != nil {
		t.Fatalf("second Setup: %v\n%s", err, out.String())
	}
	if again := srv.Objects(""); !reflect.DeepEqual(again, stored) {
		t.Errorf("second import changed the stored objects")
	}
	if n := strings.Count(out.String(), "imported (overwrote)"); n != len(keys) {
		t.Errorf("second import: %d objects overwritten, want %d:\n%s", n, len(keys), out.String())
	}
}

func TestSetupSpacesAndBasicAuth(t *testing.T) {
	pw := fakeSecret(t)
	srv := kibanatest.NewServer(kibanatest.Config{Username: "vigil_setup", Password: pw})
	defer srv.Close()
	var out bytes.Buffer
	err := Setup(context.Background(), Options{URL: srv.URL + "/", Username: "vigil_setup", Password: pw, Space: "soc-team"}, &out)
	if err != nil {
		t.Fatalf("Setup: %v\n%s", err, out.String())
	}
	if n := len(srv.Objects("soc-team")); n != len(shippedKeys(t)) {
		t.Errorf("space soc-team holds %d objects, want %d", n, len(shippedKeys(t)))
	}
	if n := len(srv.Objects("")); n != 0 {
		t.Errorf("default space holds %d objects, want 0", n)
	}
}

func TestSetupReportsPerObjectErrors(t *testing.T) {
	srv := kibanatest.NewServer(kibanatest.Config{})
	defer srv.Close()
	ndjson := strings.Join([]string{
		`{"type":"index-pattern","id":"dv","attributes":{"title":"vigil-alerts*","name":"ok view"},"references":[]}`,
		`{"type":"lens","id":"orphan","attributes":{"title":"Orphan chart"},"references":[{"name":"indexpattern-datasource-layer-l","type":"index-pattern","id":"gone"}]}`,
		`{"type":"canvas-workpad","id":"w","attributes":{"title":"Workpad"},"references":[]}`,
	}, "\n")
	var out bytes.Buffer
	err := Import(context.Background(), Options{URL: srv.URL}, []byte(ndjson), &out)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 saved objects failed") {
		t.Fatalf("Import error = %v, want 2 of 3 failed", err)
	}
	for _, want := range []string{
		"imported               index-pattern dv",
		"Orphan chart: missing_references: index-pattern/gone",
		"Workpad: unsupported_type",
		"1 of 3 saved objects imported",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, ok := srv.Objects("")["index-pattern/dv"]; !ok {
		t.Errorf("the valid object was not imported")
	}
	if _, ok := srv.Objects("")["lens/orphan"]; ok {
		t.Errorf("the object with a missing reference was imported")
	}
}

func TestSetupFailures(t *testing.T) {
	key := fakeSecret(t)
	tests := []struct {
		name      string
		opts      func(url string) Options
		fail      int
		want      []string
		wantCalls int
	}{
		{"wrong API key", func(u string) Options { return Options{URL: u, APIKey: "test-wrong-key"} }, 0,
			[]string{"HTTP 401", "unable to authenticate", "refused the API key: check VIGIL_KIBANA_API_KEY"}, 1},
		{"wrong password", func(u string) Options { return Options{URL: u, Username: "elastic", Password: "wrong"} }, 0,
			[]string{"HTTP 401", "check VIGIL_KIBANA_USERNAME and VIGIL_KIBANA_PASSWORD"}, 1},
		{"no credentials", func(u string) Options { return Options{URL: u} }, 0,
			[]string{"HTTP 401", "missing authentication credentials", "no credentials were sent: set VIGIL_KIBANA_API_KEY, or VIGIL_KIBANA_USERNAME and VIGIL_KIBANA_PASSWORD"}, 1},
		{"503 twice, then imported", func(u string) Options { return Options{URL: u, APIKey: key} }, 2, nil, 3},
		{"503 beyond the retries", func(u string) Options { return Options{URL: u, APIKey: key, MaxRetries: 2} }, 10,
			[]string{"HTTP 503", "injected failure", "gave up after 3 attempts"}, 3},
		{"retries disabled", func(u string) Options { return Options{URL: u, APIKey: key, MaxRetries: -1} }, 1,
			[]string{"HTTP 503"}, 1},
		{"not Kibana", func(u string) Options { return Options{URL: u + "/nothing-here", APIKey: key} }, 0,
			[]string{"HTTP 404", "is this Kibana"}, 1},
		{"no URL", func(string) Options { return Options{} }, 0, []string{"no URL"}, 0},
		{"bad space", func(u string) Options { return Options{URL: u, Space: "../x"} }, 0, []string{`space "../x"`}, 0},
		{"bad scheme", func(string) Options { return Options{URL: "ftp://kibana:5601"} }, 0, []string{"want http(s)"}, 0},
		{"missing CA file", func(u string) Options { return Options{URL: u, CACertFile: "/nonexistent/ca.pem"} }, 0,
			[]string{"reading CA certificate"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := kibanatest.NewServer(kibanatest.Config{APIKey: key})
			defer srv.Close()
			srv.FailNext(tt.fail, http.StatusServiceUnavailable)
			opts := tt.opts(srv.URL)
			opts.RetryBackoff = time.Millisecond
			var out bytes.Buffer
			err := Setup(context.Background(), opts, &out)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Setup: %v", err)
				}
				if len(srv.Objects("")) == 0 {
					t.Errorf("nothing imported")
				}
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want it to contain %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error reveals the API key: %v", err)
			}
			if got := srv.Requests(); got != tt.wantCalls {
				t.Errorf("%d requests, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestSetupBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"HTML page", 200, "<html>proxy login</html>", "not a JSON object"},
		{"other JSON", 200, `{"status":"green"}`, `no "success" field`},
		{"success false without errors", 200, `{"success":false,"successCount":0,"successResults":[]}`, "success=false"},
		{"objects missing from the answer", 200, `{"success":true,"successCount":0,"successResults":[]}`, "no result for index-pattern/vigil-alerts"},
		{"403 with Kibana's message", 403, `{"statusCode":403,"error":"Forbidden","message":"Unable to bulk_create index-pattern"}`, "HTTP 403 Forbidden: Unable to bulk_create index-pattern (the user needs"},
		{"400 plain text", 400, "bad request", "HTTP 400 Bad Request: bad request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			err := Setup(context.Background(), Options{URL: srv.URL}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSetupCancelledWhileRetrying(t *testing.T) {
	srv := kibanatest.NewServer(kibanatest.Config{})
	defer srv.Close()
	srv.FailNext(100, http.StatusTooManyRequests)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Setup(ctx, Options{URL: srv.URL, RetryBackoff: time.Hour}, &bytes.Buffer{}) }()
	for srv.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The server counts a request when it arrives; the client has the
	// 429 and waits out its hour of backoff a moment later. Cancelled
	// before that, the request itself fails and there is no 429 to name
	// (seen on a loaded machine).
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("error = %v, want context.Canceled naming the 429", err)
	}
}

func FuzzDecodeImportResult(f *testing.F) {
	f.Add([]byte(`{"successCount":1,"success":true,"warnings":[],"successResults":[{"type":"index-pattern","id":"vigil-alerts","meta":{"title":"Vigil alerts","icon":"indexPatternApp"},"managed":false}]}`))
	f.Add([]byte(`{"success":false,"successCount":0,"successResults":[],"errors":[{"id":"x","type":"lens","title":"T","meta":{"title":"T","icon":"lensApp"},"error":{"type":"missing_references","references":[{"type":"index-pattern","id":"gone"}]}}],"warnings":[]}`))
	f.Add([]byte(`{"statusCode":400,"error":"Bad Request","message":"Invalid file extension .json"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := DecodeImportResult(body)
		if err != nil {
			return
		}
		for _, e := range res.Errors {
			_ = e.Error.Reason()
		}
		_ = report(res, nil, "http://kibana", &bytes.Buffer{})
	})
}
