// Package apacheerror parses the Apache HTTP Server error log into ECS
// events with event.dataset "apache.error": the 2.2 form
// "[Sun Dec 04 04:47:44 2005] [notice] msg" and the 2.4 form
// "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:5000] msg".
//
// Lines enter one at a time through Parser.Parse with where they were
// read (parsers.Source); each leaves as exactly one event.Event. A line
// that does not start with a bracketed time and level becomes a flagged
// event (event.kind pipeline_error, vigil.parse_error says why).
//
// The timestamps carry no zone: Config.Location (default UTC) gives it.
// A Parser holds no state between lines and is safe for concurrent use.
package apacheerror
