package triage

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Chat-completions framing: every message costs a few tokens besides its
// content (role, separators), and the reply is primed with a few more.
const (
	tokensPerMessage = 3
	tokensPerReply   = 3
)

// TokenCounter counts tokens offline the way OpenAI's models do, with the
// encodings embedded in github.com/tiktoken-go/tokenizer. It is safe for
// concurrent use.
type TokenCounter struct {
	mu    sync.Mutex
	codec tokenizer.Codec
}

// EncodingFor names the encoding a model uses: o200k_base for the gpt-4o,
// gpt-4.1, gpt-5 and o-series families, cl100k_base otherwise (gpt-4,
// gpt-3.5, and the unknown models of local servers, for which it is a fair
// estimate).
func EncodingFor(model string) tokenizer.Encoding {
	m := strings.ToLower(model)
	if i := strings.LastIndex(m, "/"); i >= 0 {
		m = m[i+1:] // "openai/gpt-4o" on routers
	}
	for _, p := range []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4"} {
		if strings.HasPrefix(m, p) {
			return tokenizer.O200kBase
		}
	}
	return tokenizer.Cl100kBase
}

// NewTokenCounter returns a counter for model's encoding.
func NewTokenCounter(model string) (*TokenCounter, error) {
	enc := EncodingFor(model)
	c, err := tokenizer.Get(enc)
	if err != nil {
		return nil, fmt.Errorf("token counter for model %q (%s): %w", model, enc, err)
	}
	return &TokenCounter{codec: c}, nil
}

// Encoding is the name of the encoding in use.
func (c *TokenCounter) Encoding() string { return c.codec.GetName() }

// Count returns the number of tokens in s. Text the encoder rejects is
// estimated at one token per 3 bytes.
func (c *TokenCounter) Count(s string) int {
	c.mu.Lock()
	n, err := c.codec.Count(s)
	c.mu.Unlock()
	if err != nil {
		return len(s)/3 + 1
	}
	return n
}

// Messages counts a chat request's prompt tokens: the content of each
// message plus the chat framing.
func (c *TokenCounter) Messages(contents ...string) int {
	n := tokensPerReply
	for _, s := range contents {
		n += tokensPerMessage + c.Count(s)
	}
	return n
}
