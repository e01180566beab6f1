package indexer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// decodeBulkAnswer decodes a bulk answer into blk. The common answer to
// the filtered request Write sends, no item failed and each item only its
// status ({"errors":false,"items":[{"index":{"status":201}},...]}), is
// read by hand, several times faster than encoding/json; anything else
// goes through encoding/json. Both give the same blk (FuzzBulkAnswer).
func decodeBulkAnswer(data []byte, blk *esutil.BulkIndexerResponse) error {
	if items, ok := quickBulkAnswer(data); ok {
		blk.HasErrors = false
		blk.Items = items
		return nil
	}
	return json.Unmarshal(data, blk)
}

// quickBulkAnswer reads the plain answer described at decodeBulkAnswer;
// ok is false for any other text.
func quickBulkAnswer(data []byte) ([]map[string]esutil.BulkIndexerResponseItem, bool) {
	const head = `{"errors":false,"items":[`
	if !bytes.HasPrefix(data, []byte(head)) {
		return nil, false
	}
	rest := data[len(head):]
	items := make([]map[string]esutil.BulkIndexerResponseItem, 0, bytes.Count(rest, []byte(`"status"`)))
	if bytes.Equal(rest, []byte(`]}`)) {
		return items, true
	}
	for {
		// {"op":{"status":NNN}}
		if len(rest) < 2 || rest[0] != '{' || rest[1] != '"' {
			return nil, false
		}
		rest = rest[2:]
		end := bytes.IndexByte(rest, '"')
		if end <= 0 {
			return nil, false
		}
		op := rest[:end]
		for _, c := range op {
			if c < 'a' || c > 'z' {
				return nil, false
			}
		}
		rest = rest[end:]
		const mid = `":{"status":`
		if !bytes.HasPrefix(rest, []byte(mid)) {
			return nil, false
		}
		rest = rest[len(mid):]
		n := 0
		for n < len(rest) && n < 4 && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 || (n > 1 && rest[0] == '0') {
			return nil, false
		}
		status, err := strconv.Atoi(string(rest[:n]))
		if err != nil {
			return nil, false
		}
		rest = rest[n:]
		if !bytes.HasPrefix(rest, []byte(`}}`)) {
			return nil, false
		}
		rest = rest[2:]
		items = append(items, map[string]esutil.BulkIndexerResponseItem{string(op): {Status: status}})
		switch {
		case len(rest) > 0 && rest[0] == ',':
			rest = rest[1:]
		case bytes.Equal(rest, []byte(`]}`)):
			return items, true
		default:
			return nil, false
		}
	}
}

// readBulkAnswer reads a bulk answer's body, up to a bound no real answer
// comes near (a 256 MB answer would be a broken server or proxy).
func readBulkAnswer(r io.Reader) ([]byte, error) {
	const limit = 256 << 20
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading bulk answer: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("bulk answer larger than %d bytes", limit)
	}
	return data, nil
}
