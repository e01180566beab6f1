// Package rules is Vigil's detection engine: rule files in YAML whose
// conditions are expr-lang expressions over ECS field names, evaluated on
// the stream of events.
//
// A rule file holds one or more YAML documents, one rule each. Rules are
// compiled once at load (a bad rule is reported as file:line and does not
// stop the others). Events enter through Engine.Process in event-time order
// per key; alerts (rules.Alert) leave through the emit callback. Rule kinds:
// match (one event) and sequence (ordered steps joined by keys within a
// maxspan, a step may need count: N repeats).
package rules
