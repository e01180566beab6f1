// Package suricata parses Suricata EVE JSON (eve.json, one record per
// line) into ECS events with event.module "suricata" and event.dataset
// "suricata.eve", as Elastic's Suricata integration does.
//
// Lines enter through Parser.Parse and each leaves as one event.Event.
// Every record gets source/destination ip and port, network.transport and
// network.protocol; alerts become event.kind "alert" with rule.id,
// rule.name and event.severity; http, dns, tls, fileinfo, flow and netflow
// records fill url.*/http.*, dns.*, tls.*, file.* and the flow counters;
// stats become event.kind "metric". The whole record is also kept under
// Elastic's suricata.eve.* namespace. A line that is not a JSON object or
// has no valid timestamp becomes a flagged event (event.kind
// pipeline_error); a timestamp followed by junk keeps its valid part and
// the tag _vigil_timestamp_trailing_data.
package suricata
