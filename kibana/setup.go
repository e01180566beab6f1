package kibana

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The environment variables `vigil kibana setup` reads the credentials
// from; named here so that a refused login can say which one to check.
const (
	EnvAPIKey   = "VIGIL_KIBANA_API_KEY"
	EnvUsername = "VIGIL_KIBANA_USERNAME"
	EnvPassword = "VIGIL_KIBANA_PASSWORD"
)

// Options says where and how Setup imports the saved objects.
type Options struct {
	// URL is Kibana's base URL, e.g. https://kibana.example.internal:5601
	// (with its base path, if Kibana is served under one).
	URL string
	// APIKey is a base64 "id:api_key"; it takes precedence over
	// Username/Password.
	APIKey string
	// Username and Password are used for basic auth.
	Username string
	Password string
	// CACertFile is a PEM file of the CA that signed Kibana's certificate;
	// empty uses the system roots. Ignored when HTTPClient is set.
	CACertFile string
	// Space is the Kibana space to import into; empty means the default
	// space.
	Space string
	// HTTPClient sends the requests; nil builds one with a 60 s timeout.
	HTTPClient *http.Client
	// MaxRetries is how often a 429, a 5xx or a network error is retried
	// (0 means 4; negative disables retries).
	MaxRetries int
	// RetryBackoff is the wait before the first retry, doubling after
	// each (0 means 500 ms; capped at 10 s).
	RetryBackoff time.Duration
}

// ImportResult is Kibana's answer to a saved-objects import.
type ImportResult struct {
	Success        bool            `json:"success"`
	SuccessCount   int             `json:"successCount"`
	SuccessResults []ImportSuccess `json:"successResults"`
	Errors         []ImportError   `json:"errors"`
	Warnings       []ImportWarning `json:"warnings"`
}

// ImportSuccess is one imported object.
type ImportSuccess struct {
	Type      string     `json:"type"`
	ID        string     `json:"id"`
	Meta      ObjectMeta `json:"meta"`
	Overwrite bool       `json:"overwrite"`
}

// ObjectMeta is the title (and icon) Kibana reports for an object.
type ObjectMeta struct {
	Title string `json:"title"`
	Icon  string `json:"icon"`
}

// ImportError is one object Kibana refused.
type ImportError struct {
	Type  string           `json:"type"`
	ID    string           `json:"id"`
	Title string           `json:"title"`
	Meta  ObjectMeta       `json:"meta"`
	Error ImportErrorCause `json:"error"`
}

// ImportErrorCause says why an object was refused: Type is conflict,
// ambiguous_conflict, missing_references, unsupported_type or unknown.
type ImportErrorCause struct {
	Type       string `json:"type"`
	Message    string `json:"message"`
	StatusCode int    `json:"statusCode"`
	References []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"references"`
}

// ImportWarning is a warning Kibana attached to the import.
type ImportWarning struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Reason renders why the object was refused, for a person.
func (c ImportErrorCause) Reason() string {
	var b strings.Builder
	b.WriteString(c.Type)
	if c.Type == "" {
		b.WriteString("error")
	}
	if len(c.References) > 0 {
		refs := make([]string, len(c.References))
		for i, r := range c.References {
			refs[i] = r.Type + "/" + r.ID
		}
		b.WriteString(": " + strings.Join(refs, ", "))
	}
	if c.Message != "" {
		b.WriteString(": " + c.Message)
	}
	return b.String()
}

// Setup imports the embedded saved objects into Kibana through
// POST {URL}[/s/{space}]/api/saved_objects/_import?overwrite=true and
// writes one line per object to w. It returns an error when the request
// fails (after retrying 429, 5xx and network errors), when Kibana refuses
// it (401, 403, 400, ...: with Kibana's message), or when any object was
// not imported.
func Setup(ctx context.Context, opts Options, w io.Writer) error {
	return Import(ctx, opts, SavedObjects(), w)
}

// Import is Setup for any NDJSON saved-objects file.
func Import(ctx context.Context, opts Options, ndjson []byte, w io.Writer) error {
	objs, err := ParseObjects(ndjson)
	if err != nil {
		return err
	}
	endpoint, shown, err := importURL(opts)
	if err != nil {
		return err
	}
	client := opts.HTTPClient
	if client == nil {
		if client, err = newClient(opts.CACertFile); err != nil {
			return err
		}
	}
	body, contentType, err := multipartBody(ndjson)
	if err != nil {
		return fmt.Errorf("kibana: building import request: %w", err)
	}
	res, err := send(ctx, client, opts, endpoint, shown, body, contentType)
	if err != nil {
		return err
	}
	return report(res, objs, shown, w)
}

// importURL returns the import endpoint and the base URL as it may be
// shown in messages (any password redacted).
func importURL(opts Options) (endpoint, shown string, err error) {
	if opts.URL == "" {
		return "", "", errors.New("kibana: no URL given (e.g. https://kibana.example.internal:5601)")
	}
	u, err := url.Parse(strings.TrimRight(opts.URL, "/"))
	if err != nil {
		return "", "", fmt.Errorf("kibana: URL %q: %w", opts.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("kibana: URL %s: want http(s)://host[:port][/basepath]", u.Redacted())
	}
	shown = u.Redacted()
	if !validSpace(opts.Space) {
		return "", "", fmt.Errorf("kibana: space %q: a space id has only a-z, 0-9, _ and -", opts.Space)
	}
	if opts.Space != "" && opts.Space != "default" {
		u = u.JoinPath("s", opts.Space)
	}
	u = u.JoinPath("api", "saved_objects", "_import")
	u.RawQuery = "overwrite=true"
	return u.String(), shown, nil
}

// newClient builds an HTTP client trusting caFile (or the system roots).
func newClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kibana: reading CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kibana: CA certificate %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// multipartBody wraps the NDJSON as the form field "file" (vigil.ndjson).
func multipartBody(ndjson []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", "vigil.ndjson")
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(ndjson); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// send posts the import, retrying 429, 5xx and network errors with
// backoff, and decodes a 200 answer.
func send(ctx context.Context, client *http.Client, opts Options, endpoint, shown string, body []byte, contentType string) (*ImportResult, error) {
	retries := opts.MaxRetries
	if retries == 0 {
		retries = 4
	}
	backoff := opts.RetryBackoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("kibana: import request to %s: %w", shown, err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("kbn-xsrf", "true")
		switch {
		case opts.APIKey != "":
			req.Header.Set("Authorization", "ApiKey "+opts.APIKey)
		case opts.Username != "":
			req.SetBasicAuth(opts.Username, opts.Password)
		}
		status, answer, wait, err := roundTrip(client, req)
		var retryable bool
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("kibana: import to %s: %w", shown, ctx.Err())
			}
			err = fmt.Errorf("kibana: import to %s: %w", shown, redactErr(err))
			retryable = true
		case status == http.StatusOK:
			res, err := DecodeImportResult(answer)
			if err != nil {
				return nil, fmt.Errorf("kibana: import to %s: %w", shown, err)
			}
			return res, nil
		default:
			err = statusError(shown, status, answer, opts)
			retryable = status == http.StatusTooManyRequests || status >= 500
		}
		if !retryable || retries < 0 || attempt >= retries {
			if retryable && attempt > 0 {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
			}
			return nil, err
		}
		d := backoff << attempt
		if d > 10*time.Second || d <= 0 {
			d = 10 * time.Second
		}
		if wait > d {
			d = min(wait, 30*time.Second)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("kibana: import to %s: %w (while waiting to retry after: %v)", shown, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// maxAnswer bounds how much of Kibana's answer is read.
const maxAnswer = 16 << 20

// roundTrip sends req and returns the status, the body and any
// Retry-After wait.
func roundTrip(client *http.Client, req *http.Request) (int, []byte, time.Duration, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	var wait time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, body, wait, nil
}

// redactErr removes the password from a transport error's message (the
// URL in a *url.Error may carry it).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Redacted(), Err: ue.Err}
		}
	}
	return err
}

// statusError describes a non-200 answer with Kibana's own message, and
// a hint at what to change; for a 401 it names the credential that was
// sent (never its value) and the variable it comes from, since the
// analyst running the command rarely sees which one was picked.
func statusError(shown string, status int, body []byte, opts Options) error {
	var kb struct {
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
		Message    string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &kb) == nil && (kb.Message != "" || kb.Error != "") {
		msg = kb.Message
		if msg == "" {
			msg = kb.Error
		}
	} else {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	hint := ""
	switch status {
	case http.StatusUnauthorized:
		switch {
		case opts.APIKey != "":
			hint = " (Kibana refused the API key: check " + EnvAPIKey + "; it is the base64 \"encoded\" value Elasticsearch's create API key answers, id:api_key)"
		case opts.Username != "":
			hint = " (Kibana refused the username and password: check " + EnvUsername + " and " + EnvPassword + ")"
		default:
			hint = " (no credentials were sent: set " + EnvAPIKey + ", or " + EnvUsername + " and " + EnvPassword + ")"
		}
	case http.StatusForbidden:
		hint = " (the user needs the saved-objects management privilege, e.g. Kibana's \"all\" on Saved Objects Management, Dashboard, Discover and Data View Management)"
	case http.StatusNotFound:
		hint = " (is this Kibana, and does the space exist?)"
	}
	if msg == "" {
		return fmt.Errorf("kibana: import to %s: HTTP %d %s%s", shown, status, http.StatusText(status), hint)
	}
	return fmt.Errorf("kibana: import to %s: HTTP %d %s: %s%s", shown, status, http.StatusText(status), msg, hint)
}

// DecodeImportResult decodes Kibana's answer to an import; an answer that
// is not such a JSON object is an error.
func DecodeImportResult(body []byte) (*ImportResult, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("import answer is not a JSON object: %w", err)
	}
	if _, ok := probe["success"]; !ok {
		return nil, errors.New("import answer has no \"success\" field: not a saved-objects import answer")
	}
	var res ImportResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("import answer: %w", err)
	}
	return &res, nil
}

// report writes one line per object and decides whether the import
// succeeded as a whole.
func report(res *ImportResult, sent []Object, shown string, w io.Writer) error {
	type key struct{ typ, id string }
	seen := map[key]bool{}
	for _, s := range res.SuccessResults {
		seen[key{s.Type, s.ID}] = true
		how := "imported"
		if s.Overwrite {
			how = "imported (overwrote)"
		}
		fmt.Fprintf(w, "%-22s %-13s %-34s %s\n", how, s.Type, s.ID, s.Meta.Title)
	}
	for _, e := range res.Errors {
		seen[key{e.Type, e.ID}] = true
		title := e.Title
		if title == "" {
			title = e.Meta.Title
		}
		fmt.Fprintf(w, "%-22s %-13s %-34s %s: %s\n", "error", e.Type, e.ID, title, e.Error.Reason())
	}
	var missing []string
	for _, o := range sent {
		if !seen[key{o.Type, o.ID}] {
			missing = append(missing, o.Type+"/"+o.ID)
			fmt.Fprintf(w, "%-22s %-13s %-34s %s\n", "not reported", o.Type, o.ID, o.Title())
		}
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn.Message)
	}
	fmt.Fprintf(w, "%d of %d saved objects imported into %s\n", len(res.SuccessResults), len(sent), shown)
	switch {
	case len(res.Errors) > 0:
		return fmt.Errorf("kibana: import to %s: %d of %d saved objects failed (first: %s %s: %s)",
			shown, len(res.Errors), len(sent), res.Errors[0].Type, res.Errors[0].ID, res.Errors[0].Error.Reason())
	case !res.Success:
		return fmt.Errorf("kibana: import to %s: Kibana reported success=false", shown)
	case len(missing) > 0:
		return fmt.Errorf("kibana: import to %s: Kibana reported no result for %s", shown, strings.Join(missing, ", "))
	}
	return nil
}

// validSpace reports whether id is a Kibana space id (or empty).
func validSpace(id string) bool {
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
