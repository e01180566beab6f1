// Package rdns adds the reverse-DNS name of source.ip and destination.ip
// as ECS source.domain and destination.domain. It is off by default:
// every cache miss asks a DNS server, which an attacker can watch.
//
// Each lookup has a strict timeout; answers are cached for cache_ttl,
// failures and empty answers for negative_ttl, so one unknown address
// costs one query per negative_ttl. Loopback, link-local, multicast and
// unspecified addresses are never looked up. The resolver is injected
// (Config.Resolver), so tests never touch the network.
package rdns
