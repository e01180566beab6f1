// Package windows parses Windows event log records rendered as JSON
// (Sysmon, Security, System, PowerShell and any other channel) into ECS
// events with event.module "windows" and event.dataset "windows.<channel>".
//
// Two shapes are read. The flat one (NXLog, OTRF Security-Datasets,
// winlogbeat-like exports) has EventID, Channel, Hostname or Computer and
// TimeCreated or @timestamp at the top level with EventData flattened beside
// them. The nested one (EVTX rendered to JSON) is
// {"Event":{"System":{...},"EventData":{...}}} with XML attributes under
// "#attributes". Records enter through Parser.Parse (one JSON object per
// line) or Parser.ParseDocument (a stream of concatenated, possibly
// pretty-printed objects or a JSON array); each leaves as one event.Event.
//
// Known Sysmon and Security event ids are mapped to ECS (event.action,
// event.category/type/outcome, process.*, user.*, source.*/destination.*,
// file.*, registry.*, dns.question.name, ...). Every event also keeps the
// Windows specifics under Elastic's winlog.* namespace: winlog.channel,
// winlog.event_id, winlog.computer_name and all of EventData as strings in
// winlog.event_data.*. A record that is not JSON, or has no EventID or
// time, becomes a flagged event (event.kind pipeline_error).
package windows
