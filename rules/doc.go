// Package rules is Vigil's detection engine: rule files in YAML whose
// conditions are expr-lang expressions over ECS field names, evaluated on
// the stream of events.
//
// A rule file holds one or more YAML documents, one rule each (format in
// README.md). LoadFS compiles every rule once at load (a bad rule is
// reported as file:line and does not stop the others); options add
// expression functions (WithFunctions) and in_list() lists (WithLists).
// Events enter through Engine.Process in event-time order per key; alerts
// (rules.Alert) leave as its result, and Engine.Flush decides the windows
// still open at the end of an input. Rule kinds: match (one event),
// threshold (a count or distinct count per key in a window), sequence
// (ordered steps joined by keys within a maxspan) and new_terms (a value
// never seen for a key). Lint checks rule files and RunTests runs the
// tests written inside them.
package rules
