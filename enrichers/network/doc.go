// Package network classifies the addresses of an event: public, private,
// loopback, link-local, multicast, unspecified or reserved (documentation,
// benchmarking, future use), and derives ECS network.direction
// (inbound, outbound, internal, external) from the configured home networks.
//
// Events enter through Enricher.Enrich, which reads source.ip and
// destination.ip and writes vigil.source.ip_class,
// vigil.destination.ip_class and network.direction. Classify is also used
// by the geoip enricher (no geo lookups for private addresses) and by the
// is_private() rule function.
package network
