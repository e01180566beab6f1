// Package lookup is the machinery every enricher shares: a size-bounded,
// expiring LRU cache that counts its hits and misses, a poller that notices
// when a data file (a GeoIP database, an intel feed, an inventory) was
// replaced on disk, the per-enricher Stats, and Duration for config files.
//
// Nothing enters or leaves this package on its own: the enrichers in the
// sibling packages build their caches and watchers from it.
package lookup
