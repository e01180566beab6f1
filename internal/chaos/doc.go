// Package chaos is Vigil's end-to-end crash test (issue #8): it runs the
// real binary as separate processes — `vigil broker`, `vigil collect`,
// `vigil detect`, `vigil triage`, `vigil index` — against the
// Elasticsearch-protocol test server (indexer/estest), replays generated
// logs into the files collect follows, SIGKILLs a random stage at random
// moments and restarts it, and then compares what Elasticsearch holds with
// `vigil scan` of the same files.
//
// Data enters as a Generator's records: OpenSSH auth.log, Apache combined
// access logs, Windows events as JSON lines and CloudTrail records as JSON
// lines (the formats of the shared corpus, written from templates so that
// the test runs on a fresh clone), with attacks mixed in (SSH brute force
// then success, Nikto scans with 404 bursts, an LSASS dump, CloudTrail
// StopLogging) and malformed records on purpose. They leave as files
// (WriteFiles) or, in the test, appended line by line at a set rate.
//
// The test itself (chaos_test.go) is skipped unless VIGIL_CHAOS is set:
//
//	VIGIL_CHAOS=small go test ./internal/chaos -run TestChaos -v   # 20k events, 3 kills, about a minute
//	VIGIL_CHAOS=ci    go test ./internal/chaos -run TestChaos -v   # 100k events, 5 kills
//	VIGIL_CHAOS=full  go test ./internal/chaos -run TestChaos -v -timeout 60m   # 1M events, 12 kills
//
// VIGIL_CHAOS_SEED replays one run's input and kill schedule (the seed is
// logged); VIGIL_CHAOS_EVENTS, VIGIL_CHAOS_KILLS, VIGIL_CHAOS_PARTITIONS and
// VIGIL_CHAOS_LATENESS override the size, the kills, the partitions of
// every topic and detect.allowed_lateness (default 10m).
//
// What it asserts, after the pipeline drained (every consumer group's lag
// 0, checked from the broker's committed offsets and watermarks):
//   - every record written is on vigil.events (counted by vigil.event_id),
//     flagged exactly when it was malformed on purpose, as `vigil scan`
//     counts them;
//   - vigil.dlq is empty: malformed lines are flagged events, not dead
//     letters;
//   - the alert ids in Elasticsearch are exactly those of one `vigil scan
//     -f auto` of all the files (overwrites after a replay are counted, not
//     failed);
//   - the verdict documents are exactly the incidents triage's Grouper
//     makes of those alerts, each alert in exactly one verdict;
//   - no stage exits unless killed.
//
// Then a calm phase (no kills, detect restarted without lateness) appends
// one SSH brute force every 250ms and logs p50/p99 of event → alert,
// → indexed alert and → indexed verdict, from vigil.received_at of the
// alert's last event to event.created and to the first write of each
// document in the test server (estest.Server.SetOnWrite).
//
// How the input is shaped, and why:
//   - all files share one event-time clock and the test appends records
//     in that order, so what collect reads is ordered but for the skew
//     between inputs; detect.allowed_lateness (10m of event time, about
//     half a minute of replay) absorbs that skew;
//   - `vigil scan` reads all the files at once and merges them by event
//     time, so their overlapping times are no skew to it;
//   - after the replay, a few benign records per file, two hours later in
//     event time, move every partition's event time on (each partition of
//     vigil.events and of the re-key topic releases its reorder buffer by
//     its own event time only);
//   - a stage is killed only once it is ready (assigned partitions): a
//     member SIGKILLed while joining its group stayed in the group of
//     `vigil broker` (kfake) with its partitions for more than six minutes,
//     so the group's lag never drained.
package chaos
