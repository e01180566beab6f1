// Package assets adds what the organisation knows of its own machines:
// criticality, owner, environment and tags, from inventory files (CSV with
// a header row, or a YAML list) keyed by host name and IP address.
//
// Files are read by New and again by Reload when one changed on disk.
// Events enter through Enricher.Enrich, which looks up host.name (then
// host.ip), source.ip and destination.ip and writes vigil.host.asset.*,
// vigil.source.asset.* and vigil.destination.asset.* (criticality, owner,
// environment, tags). Lookup backs the asset() and host_criticality() rule
// functions.
package assets
