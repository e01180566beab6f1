// Package scan runs rules over log files offline, with no Kafka: the
// engine of the detect stage, fed straight from the parsers. It is what
// `vigil scan` uses to hunt in old logs and to backtest rules, and the
// oracle the end-to-end tests compare the streaming pipeline with.
//
// Each input is parsed by its own parser (parsing keeps per-stream
// state). One input is read on one goroutine, in its order; when its
// parser can be forked (parsers.Forker: sshd) that goroutine only cuts
// lines into batches and carries the parser's state from batch to batch,
// and parse workers parse and enrich the batches at once, which reach the
// engines in the input's order (collectors.ReadParallel). Several inputs
// are read concurrently and merged by event time (a k-way merge of a few
// events per input at a time: always the input whose next event is
// oldest, an event without a time at once), so that files whose times
// overlap (one log per host, auth.log and auth.log.1 in any order) reach
// the engines as one stream in time order and find what the events in
// that order find; each input keeps its own order. The enrichers run on
// that one stream. Events go in batches to the engines, each running a
// share of the rules (rules are independent of each other); by default
// there is one engine per CPU less one, since every engine reads every
// event. Alerts leave in a deterministic
// order that does not depend on the number of engines: by event, then by
// the rule's position, with the windows still open at the end last.
package scan
