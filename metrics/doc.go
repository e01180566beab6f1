// Package metrics is what an operator sees of a running Vigil process:
// Prometheus metrics (one registry per process, never the global
// default), the HTTP endpoint serving /metrics, /healthz and /readyz, and
// a slog handler that redacts secrets before a log line is written.
//
// The pipeline stages update the collectors of Metrics as records pass;
// Server serves them and asks readiness checks (Kafka reachable, each
// stage's consumer assigned, the sink answering) on every /readyz.
package metrics
