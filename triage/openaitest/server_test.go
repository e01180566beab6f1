package openaitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const strictBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],
"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,
"schema":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"array","items":{"type":"object","properties":{"c":{"type":"number"}},"required":["c"],"additionalProperties":false}}},"required":["a","b"],"additionalProperties":false}}}}`

func post(t *testing.T, s *Server, key, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return resp, doc
}

func TestServerRejectsWhatTheAPIRejects(t *testing.T) {
	s := NewServer(t, Config{})
	noStrict := strings.Replace(strictBody, `"strict":true`, `"strict":false`, 1)
	openObject := strings.Replace(strictBody, `"required":["c"],"additionalProperties":false`, `"required":["c"]`, 1)
	missingRequired := strings.Replace(strictBody, `"required":["a","b"]`, `"required":["a"]`, 1)
	noModel := strings.Replace(strictBody, `"model":"gpt-4o-mini",`, ``, 1)
	jsonObject := `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`
	tests := []struct {
		name, key, body string
		status          int
		param           string
	}{
		{"valid", s.APIKey(), strictBody, 200, ""},
		{"no key", "", strictBody, 401, ""},
		{"wrong key", "sk-wrong", strictBody, 401, ""},
		{"no model", s.APIKey(), noModel, 400, "model"},
		{"json_object format", s.APIKey(), jsonObject, 400, "response_format"},
		{"not strict", s.APIKey(), noStrict, 400, "response_format"},
		{"nested object without additionalProperties", s.APIKey(), openObject, 400, "response_format"},
		{"property not required", s.APIKey(), missingRequired, 400, "response_format"},
		{"not JSON", s.APIKey(), `{"model":`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, doc := post(t, s, tt.key, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, doc)
			}
			if tt.status == 200 {
				return
			}
			e, ok := doc["error"].(map[string]any)
			if !ok || e["message"] == "" || e["type"] == nil {
				t.Fatalf("error body not in the API's shape: %v", doc)
			}
			if tt.param != "" && e["param"] != tt.param {
				t.Errorf("param %v, want %s", e["param"], tt.param)
			}
		})
	}
	if got := s.Calls(); got != len(tests) {
		t.Errorf("Calls() = %d, want %d (every request counted)", got, len(tests))
	}
}

func TestServerScriptedQueueThenResponder(t *testing.T) {
	s := NewServer(t, Config{APIKey: "sk-test-" + strings.Repeat("f", 8)})
	s.Status(429, "7")
	s.Answer(`{"x":1}`)
	s.Refusal("I can't help with that.")
	s.ContentFilter()
	s.Malformed()
	s.SetResponder(func(req Request) Reply { return Reply{Content: `{"from":"` + req.Body.Model + `"}`} })

	resp, doc := post(t, s, s.APIKey(), strictBody)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("first: status %d Retry-After %q, want 429 and 7", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if e := doc["error"].(map[string]any); e["code"] != "rate_limit_exceeded" {
		t.Errorf("429 code %v", e["code"])
	}
	type want struct{ content, refusal, finish string }
	for i, w := range []want{
		{`{"x":1}`, "", "stop"},
		{"", "I can't help with that.", "stop"},
		{"", "", "content_filter"},
		{malformedAnswer, "", "stop"},
		{`{"from":"gpt-4o-mini"}`, "", "stop"},
	} {
		resp, doc := post(t, s, s.APIKey(), strictBody)
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d: status %d", i, resp.StatusCode)
		}
		if doc["object"] != "chat.completion" || doc["model"] != "gpt-4o-mini" || !strings.HasPrefix(doc["id"].(string), "chatcmpl-") {
			t.Errorf("answer %d: not shaped like the API: %v", i, doc)
		}
		usage := doc["usage"].(map[string]any)
		if usage["total_tokens"].(float64) != usage["prompt_tokens"].(float64)+usage["completion_tokens"].(float64) || usage["prompt_tokens"].(float64) <= 0 {
			t.Errorf("answer %d: usage %v", i, usage)
		}
		choice := doc["choices"].([]any)[0].(map[string]any)
		msg := choice["message"].(map[string]any)
		content, _ := msg["content"].(string)
		refusal, _ := msg["refusal"].(string)
		if content != w.content || refusal != w.refusal || choice["finish_reason"] != w.finish {
			t.Errorf("answer %d: content %q refusal %q finish %v, want %+v", i, content, refusal, choice["finish_reason"], w)
		}
	}
	reqs := s.Requests()
	if len(reqs) != 6 || !bytes.Equal(reqs[0].Raw, []byte(strictBody)) || reqs[0].Body.Model != "gpt-4o-mini" {
		t.Errorf("requests not recorded raw and decoded: %d recorded", len(reqs))
	}
}
