// Package scan runs rules over log files offline, with no Kafka: the
// engine of the detect stage, fed straight from the parsers. It is what
// `vigil scan` uses to hunt in old logs and to backtest rules, and the
// oracle the end-to-end tests compare the streaming pipeline with.
//
// Files are read in the order given, each by its own parser, on one
// goroutine (parsing keeps per-stream state). Events go in batches to the
// engines, each running a share of the rules (rules are independent of
// each other); by default there is one engine per CPU less the reader's,
// since every engine reads every event. Alerts leave in a deterministic
// order that does not depend on the number of engines: by event, then by
// the rule's position, with the windows still open at the end last.
package scan
