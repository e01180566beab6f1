package kibana

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestSetupRealKibana imports the saved objects into a real Kibana when
// VIGIL_TEST_KIBANA_URL is set (with VIGIL_TEST_KIBANA_API_KEY, or
// VIGIL_TEST_KIBANA_USERNAME and VIGIL_TEST_KIBANA_PASSWORD, optionally
// VIGIL_TEST_KIBANA_CA_CERT and VIGIL_TEST_KIBANA_SPACE), twice, and reads
// every object back.
func TestSetupRealKibana(t *testing.T) {
	u := os.Getenv("VIGIL_TEST_KIBANA_URL")
	if u == "" {
		t.Skip("VIGIL_TEST_KIBANA_URL not set")
	}
	opts := Options{
		URL:        u,
		APIKey:     os.Getenv("VIGIL_TEST_KIBANA_API_KEY"),
		Username:   os.Getenv("VIGIL_TEST_KIBANA_USERNAME"),
		Password:   os.Getenv("VIGIL_TEST_KIBANA_PASSWORD"),
		CACertFile: os.Getenv("VIGIL_TEST_KIBANA_CA_CERT"),
		Space:      os.Getenv("VIGIL_TEST_KIBANA_SPACE"),
	}
	for round := 1; round <= 2; round++ {
		var out bytes.Buffer
		if err := Setup(context.Background(), opts, &out); err != nil {
			t.Fatalf("import %d: %v\n%s", round, err, out.String())
		}
		t.Logf("import %d:\n%s", round, out.String())
	}
	client, err := newClient(opts.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimRight(u, "/")
	if opts.Space != "" && opts.Space != "default" {
		base += "/s/" + opts.Space
	}
	for _, k := range shippedKeys(t) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/saved_objects/"+k, nil)
		if opts.APIKey != "" {
			req.Header.Set("Authorization", "ApiKey "+opts.APIKey)
		} else if opts.Username != "" {
			req.SetBasicAuth(opts.Username, opts.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: HTTP %d", k, resp.StatusCode)
		}
	}
}
