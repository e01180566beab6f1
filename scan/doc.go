// Package scan runs rules over log files offline, with no Kafka: the
// engine of the detect stage, fed straight from the parsers. It is what
// `vigil scan` uses to hunt in old logs and to backtest rules, and the
// oracle the end-to-end tests compare the streaming pipeline with.
//
// Files are read in the order given, each by its own parser. Events go in
// batches to several engines at once, each running a share of the rules
// (rules are independent of each other), so detection uses every core
// while every engine still sees every event in order. Alerts leave in a
// deterministic order: batch by batch, and within a batch by engine.
package scan
