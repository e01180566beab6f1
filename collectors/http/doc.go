// Package http is Vigil's HTTP ingest input: clients POST newline-delimited
// records (a JSON event or a raw log line per line) to /ingest with a bearer
// token, and get an answer only once the records were delivered.
//
// Data enters as request bodies (bounded by max_request_bytes) and leaves
// as input.Record batches: Source "http:<first 16 hex digits of the body's
// SHA-256>" with the line's byte offset in the body (so a retried request
// yields the same event ids), Peer the client's address. A request is
// answered 200 only after the handler returned nil for all its lines; a
// line that cannot be taken (invalid JSON, too long) is reported by number
// in the answer. At most max_in_flight requests are held at once: beyond
// that the answer is 503 with Retry-After, so a slow pipeline pushes back
// on clients instead of filling memory.
package http
