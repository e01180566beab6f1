// Package enrichers attaches the context an analyst would otherwise look
// up by hand to every event, before rules run: where an address is and
// who owns it (geoip), whether it is private and which way the traffic
// goes (network), whether a value is a known indicator (threatintel), what
// the host is (assets), who the user is (identity) and, when enabled, the
// reverse-DNS name (rdns). Each enricher lives in its own sub-package with
// a README and a sample config; lookup holds their shared cache and file
// watcher.
//
// New builds a Set from detect.enrich; the detect stage calls Set.Enrich on
// each event, which mutates the flat event in place, answering from the
// Set's cache of what the enrichers write per address, host and user (see
// plan.go) and running them one by one when that cannot answer. An
// enricher that fails appends "name: reason" to vigil.enrichment_errors
// and the event goes on: enrichment never drops or holds an event.
// RuleFunctions gives the rule compiler in_intel, asset, is_private,
// user_info and host_criticality over the same data and caches, and
// Lookup gives triage what is known about an incident's entities (Shared
// hands a Set replaced on reload to a triage stage in the same process).
// Data files replaced on disk are reloaded by a poller New starts and
// Close stops.
package enrichers
