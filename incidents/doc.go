// Package incidents is the incident responder's command line: it lists
// verdicts, shows one incident with its notes, alerts, evidence events and
// the query that finds the raw events, and stores an analyst's correction
// on a verdict.
//
// An incident is named by its id in any case, a unique prefix of it (at
// least 6 hex digits), or the id (or prefix) of one of its alerts; List
// filters by the effective verdict, the analyst's where there is
// feedback.
//
// Verdicts and alerts enter from Elasticsearch when Source.ES is set (a
// search over the verdicts and alerts indices, every monthly index
// included), otherwise from the NDJSON files the index stage writes
// (indexer.ReadLatest over Source.Dir). Output leaves as plain text on
// the io.Writer each command takes; feedback leaves as
// triage.feedback.{verdict,note,at,by} on the verdict: in Elasticsearch
// recorded first in the sink's feedback register (the feedback index,
// which carries it into every later verdict of the incident), then
// written onto the verdict document at its version (read and written
// again if a newer verdict comes in between); or an appended newer line
// of the verdict in verdicts.ndjson, which readers take as the latest.
package incidents
