// Package threatintel matches events against indicator sets loaded from
// feed files: plain lists (one indicator per line), CSV with a column
// mapping, abuse.ch CSV exports (URLhaus, ThreatFox, Feodo Tracker,
// MalwareBazaar, SSLBL: the header is the last '#' comment line) and STIX
// 2.1 bundles (indicator objects whose pattern compares ipv4-addr,
// ipv6-addr, domain-name, url or file hashes with '=', joined by OR).
//
// Feeds are read by New and again by Reload when a file changed on disk.
// Indicators whose valid_until has passed are ignored. Events enter through
// Enricher.Enrich, which looks up source.ip and destination.ip (CIDR
// indicators match every address inside), source.domain,
// destination.domain, url.domain, dns.question.name, url.full,
// url.original and file.hash.* / process.hash.*, and appends one ECS
// threat.enrichments entry ({indicator: {...}, matched: {atomic, field,
// type}}) per match. Match answers are cached in an expiring LRU.
package threatintel
