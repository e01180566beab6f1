// Package access parses web server access logs in the Apache/nginx
// "combined" and "common" formats into ECS web events (event.dataset
// "apache.access" by default).
//
// Lines enter one at a time through Parser.Parse with where they were
// read (parsers.Source); each leaves as exactly one event.Event. A line
// whose head (client, identity, user, [time], "request") cannot be read
// becomes a flagged event (event.kind pipeline_error, vigil.parse_error
// says why); a line that is readable but damaged further on (a user agent
// cut off without its closing quote) keeps what could be read and says
// what was wrong in vigil.parse_warning. Lines wrapped in an extra pair of
// double quotes, as some exports write them, are unwrapped.
//
// A Parser holds no state between lines and is safe for concurrent use.
package access
