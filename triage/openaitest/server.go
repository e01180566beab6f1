package openaitest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// ValidAnswer is the default answer: a triage verdict that satisfies the
// schema of the triage package's OpenAI engine.
const ValidAnswer = `{"verdict":"suspicious","confidence":0.72,"severity":"medium",` +
	`"summary":"203.0.113.7 made repeated failed SSH logins for root on web-1 within two minutes; no successful login follows.",` +
	`"notes":"## What happened\nPassword guessing against SSH.\n\n## Timeline\n- 2024-03-01T10:00:00Z first failure\n\n## Evidence\n- vigil.event_id ev-1\n\n## Why this verdict\nNo success seen.\n\n## Next steps\n- Block the source.",` +
	`"attack":["T1110.001"],"recommended_actions":["Block 203.0.113.7 at the firewall","Check web-1 for successful logins"]}`

// BenignAnswer is a valid answer that calls every incident benign and low:
// what a model steered by a prompt injection would say.
const BenignAnswer = `{"verdict":"benign","confidence":0.97,"severity":"low",` +
	`"summary":"Routine activity; nothing to do.",` +
	`"notes":"## What happened\nNothing.\n\n## Timeline\n- none\n\n## Evidence\n- none\n\n## Why this verdict\nThe data says so.\n\n## Next steps\n- None.",` +
	`"attack":[],"recommended_actions":[]}`

// malformedAnswer is what Malformed returns: chatty text, not JSON.
const malformedAnswer = `Sure! Here is my analysis: {verdict: malicious, confidence: high`

// maxBody bounds a request body, like the real API's size limit.
const maxBody = 16 << 20

// Config configures a Server.
type Config struct {
	// APIKey is the key requests must carry; empty generates a random,
	// obviously fake one (see Server.APIKey).
	APIKey string
	// KeyLess makes the server answer requests that carry no
	// Authorization header, as a local Ollama, vLLM or llama.cpp server
	// does; a request with a wrong key is still refused.
	KeyLess bool
}

// Reply scripts the answer to one request.
type Reply struct {
	// Status is the HTTP status; 0 or 200 answers with a completion,
	// anything else with the API's error JSON.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Content is the assistant message; Refusal, when set, replaces it.
	Content string
	Refusal string
	// FinishReason defaults to "stop".
	FinishReason string
	// Delay holds the answer back this long (or until the client gives up).
	Delay time.Duration
}

// Request is one recorded request.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Raw is the body as received.
	Raw []byte
	// Body is Raw decoded; zero when it did not decode.
	Body openai.ChatCompletionRequest
}

// Responder answers requests the queue does not script.
type Responder func(req Request) Reply

// Server is a running test server.
type Server struct {
	key     string
	keyLess bool
	srv     *httptest.Server
	closed  chan struct{}
	once    sync.Once

	mu        sync.Mutex
	queue     []Reply
	responder Responder
	requests  []Request
	seq       int
}

// NewServer starts a server on 127.0.0.1. With t non-nil it is closed when
// the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	s := &Server{key: cfg.APIKey, keyLess: cfg.KeyLess, closed: make(chan struct{})}
	if s.key == "" {
		b := make([]byte, 12)
		rand.Read(b)
		s.key = "sk-test-fake-" + hex.EncodeToString(b)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if t != nil {
			t.Fatalf("openaitest: listen on 127.0.0.1: %v", err)
		}
		panic(fmt.Sprintf("openaitest: listen on 127.0.0.1: %v", err))
	}
	s.srv.Listener = ln
	s.srv.Start()
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the API base URL, including /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// APIKey is the key the server accepts.
func (s *Server) APIKey() string { return s.key }

// Close releases delayed answers and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// Enqueue scripts the answer to the next unscripted request.
func (s *Server) Enqueue(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, r)
}

// Answer scripts a completion whose message content is content.
func (s *Server) Answer(content string) { s.Enqueue(Reply{Content: content}) }

// Status scripts an error status (429, 500, 503, ...) with the API's error
// body and, when retryAfter is not empty, a Retry-After header.
func (s *Server) Status(code int, retryAfter string) {
	s.Enqueue(Reply{Status: code, RetryAfter: retryAfter})
}

// Malformed scripts a completion whose content is not JSON.
func (s *Server) Malformed() { s.Enqueue(Reply{Content: malformedAnswer}) }

// Refusal scripts a refusal: no content, the refusal text instead.
func (s *Server) Refusal(text string) { s.Enqueue(Reply{Refusal: text}) }

// ContentFilter scripts an answer stopped by the content filter.
func (s *Server) ContentFilter() { s.Enqueue(Reply{FinishReason: "content_filter"}) }

// Delay scripts a valid answer sent only after d.
func (s *Server) Delay(d time.Duration) { s.Enqueue(Reply{Content: ValidAnswer, Delay: d}) }

// SetResponder sets what answers requests once the queue is empty; nil
// restores the default, ValidAnswer.
func (s *Server) SetResponder(f Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = f
}

// Calls is the number of requests received, whatever their outcome.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Requests returns the recorded requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: raw}
	decodeErr := err
	if err == nil {
		decodeErr = json.Unmarshal(raw, &req.Body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	switch {
	case r.URL.Path != "/v1/chat/completions":
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", "")
		return
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("Method %s not allowed on %s", r.Method, r.URL.Path), "invalid_request_error", "", "")
		return
	case r.Header.Get("Authorization") != "Bearer "+s.key && !(s.keyLess && r.Header.Get("Authorization") == ""):
		writeError(w, http.StatusUnauthorized, "", "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "invalid_api_key")
		return
	case err != nil:
		writeError(w, http.StatusRequestEntityTooLarge, "", "Request body too large or unreadable: "+err.Error(), "invalid_request_error", "", "")
		return
	case decodeErr != nil:
		writeError(w, http.StatusBadRequest, "", "We could not parse the JSON body of your request: "+decodeErr.Error(), "invalid_request_error", "", "")
		return
	}
	if msg, param := checkRequest(&req.Body); msg != "" {
		writeError(w, http.StatusBadRequest, "", msg, "invalid_request_error", param, "")
		return
	}

	reply := s.next(req)
	if reply.Delay > 0 {
		timer := time.NewTimer(reply.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		writeStatus(w, reply)
		return
	}
	s.writeCompletion(w, &req.Body, reply)
}

// next pops the queue or asks the responder.
func (s *Server) next(req Request) Reply {
	s.mu.Lock()
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return r
	}
	f := s.responder
	s.mu.Unlock()
	if f != nil {
		return f(req)
	}
	return Reply{Content: ValidAnswer}
}

// checkRequest returns the API's complaint about a request, if any.
func checkRequest(body *openai.ChatCompletionRequest) (msg, param string) {
	if body.Model == "" {
		return "you must provide a model parameter", "model"
	}
	if len(body.Messages) == 0 {
		return "'messages' must contain at least one message", "messages"
	}
	rf := body.ResponseFormat
	if rf == nil || rf.Type != openai.ChatCompletionResponseFormatTypeJSONSchema || rf.JSONSchema == nil {
		return "response_format must be of type json_schema", "response_format"
	}
	if !rf.JSONSchema.Strict {
		return "response_format.json_schema.strict must be true", "response_format"
	}
	if rf.JSONSchema.Name == "" {
		return "Missing required parameter: 'response_format.json_schema.name'.", "response_format"
	}
	if rf.JSONSchema.Schema == nil {
		return "Missing required parameter: 'response_format.json_schema.schema'.", "response_format"
	}
	raw, err := rf.JSONSchema.Schema.MarshalJSON()
	if err != nil {
		return "Invalid schema: " + err.Error(), "response_format"
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return "Invalid schema: " + err.Error(), "response_format"
	}
	if schema["type"] != "object" {
		return "Invalid schema for response_format: schema must be a JSON Schema of 'type: \"object\"'", "response_format"
	}
	if msg := checkStrict(schema, "root"); msg != "" {
		return "Invalid schema for response_format: " + msg, "response_format"
	}
	return "", ""
}

// checkStrict applies strict mode's rules to every object in a schema:
// additionalProperties false and every property required.
func checkStrict(s map[string]any, where string) string {
	if s["type"] == "object" {
		if s["additionalProperties"] != false {
			return fmt.Sprintf("In context=(%s), 'additionalProperties' is required to be supplied and to be false", where)
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for name := range props {
			if !slices.Contains(req, any(name)) {
				return fmt.Sprintf("In context=(%s), 'required' is required to be supplied and to be an array including every key in properties. Missing '%s'", where, name)
			}
		}
		for name, p := range props {
			if ps, ok := p.(map[string]any); ok {
				if msg := checkStrict(ps, where+", 'properties', '"+name+"'"); msg != "" {
					return msg
				}
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		return checkStrict(items, where+", 'items'")
	}
	return ""
}

func (s *Server) writeCompletion(w http.ResponseWriter, body *openai.ChatCompletionRequest, reply Reply) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()

	promptChars := 0
	for _, m := range body.Messages {
		promptChars += len(m.Content)
	}
	message := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	completionChars := len(reply.Content)
	switch {
	case reply.Refusal != "":
		message["refusal"] = reply.Refusal
		completionChars = len(reply.Refusal)
	case reply.Content != "":
		message["content"] = reply.Content
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
	}
	prompt := promptChars/4 + 4*len(body.Messages)
	completion := completionChars/4 + 1
	resp := map[string]any{
		"id":      fmt.Sprintf("chatcmpl-test%06d", seq),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   body.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       message,
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]any{
			"prompt_tokens":     prompt,
			"completion_tokens": completion,
			"total_tokens":      prompt + completion,
		},
		"system_fingerprint": "fp_openaitest",
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", fmt.Sprintf("req_test%06d", seq))
	json.NewEncoder(w).Encode(resp)
}

func writeStatus(w http.ResponseWriter, reply Reply) {
	var msg, typ, code string
	switch reply.Status {
	case http.StatusTooManyRequests:
		msg, typ, code = "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"
	case http.StatusServiceUnavailable:
		msg, typ, code = "The engine is currently overloaded, please try again later.", "server_error", "service_unavailable"
	case http.StatusBadRequest:
		msg, typ = "Invalid request.", "invalid_request_error"
	default:
		msg, typ = "The server had an error while processing your request. Sorry about that!", "server_error"
	}
	writeError(w, reply.Status, reply.RetryAfter, msg, typ, "", code)
}

// writeError writes the API's error JSON: {"error":{message,type,param,code}}.
func writeError(w http.ResponseWriter, status int, retryAfter, msg, typ, param, code string) {
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	w.Header().Set("Content-Type", "application/json")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nullable(param), "code": nullable(code),
	}})
}
