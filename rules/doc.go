// Package rules is Vigil's detection engine: rule files in YAML whose
// conditions are expr-lang expressions over ECS field names, evaluated on
// the stream of events.
//
// A rule file holds one or more YAML documents, one rule each (format in
// README.md). LoadFS compiles every rule once at load (a bad rule is
// reported as file:line and does not stop the others); options add
// expression functions (WithFunctions) and in_list() lists (WithLists).
// Events enter through Engine.Process; with an allowed lateness they wait
// in a reorder buffer and are evaluated in event-time order, and events
// older than the watermark leave through EngineConfig.OnLate. Alerts
// (rules.Alert) leave as Process's result, and Engine.Flush decides the
// windows still open at the end of an input. Rules are indexed by the
// field equalities they require, so an event meets only its candidate
// rules. The engine's state leaves and comes back through Checkpoint and
// RestoreRecords (or Snapshot and Restore), and Reload swaps the rules
// keeping the state of unchanged ones. Rule kinds: match (one event),
// threshold (a count or distinct count per key in a window), sequence
// (EQL semantics: ordered steps joined by shared and per-step keys within
// a maxspan, runs, until, missing steps) and new_terms (a value never seen
// for a key). Lint checks rule files and RunTests runs the tests written
// inside them.
package rules
