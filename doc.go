// Package vigil holds what the binary embeds from the repository root: the
// demo scenarios under testdata/scenarios. The code lives in the
// sub-packages: event, bus, collectors, rules, enrichers, triage, indexer,
// pipeline, config, and the command in cmd/vigil.
package vigil
