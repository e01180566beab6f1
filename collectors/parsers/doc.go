// Package parsers holds what every format parser shares: the Source a line
// was read from, the start of an event (its deterministic id and
// event.original) and the flagged event of a line that could not be parsed.
//
// It is a leaf on purpose. Format packages (parsers/sshd, ...) import it,
// and collectors/registry.go imports the format packages, so the contract
// types live here and package collectors re-exports them
// (collectors.Source is parsers.Source): a format parser satisfies
// collectors.Parser without importing package collectors.
package parsers
