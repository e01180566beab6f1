// Package geoip adds where an address is and which network owns it, from
// MaxMind-format databases (GeoIP2/GeoLite2 City and ASN, or any database
// with the same record layout, e.g. DB-IP's free ones).
//
// Events enter through Enricher.Enrich, which reads source.ip and
// destination.ip and writes the ECS fields source.geo.* and
// destination.geo.* (city_name, continent_code, continent_name,
// country_iso_code, country_name, location as a geo_point {lat, lon},
// postal_code, region_iso_code, region_name, timezone) and source.as.number,
// source.as.organization.name (and the same under destination.). Private,
// loopback and link-local addresses are not looked up. Answers are kept in
// an expiring LRU cache; a database file replaced on disk is loaded again by
// Reload and the cache emptied.
package geoip
