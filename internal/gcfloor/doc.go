// Package gcfloor keeps the garbage collector's heap goal from falling
// below a floor, as Uber's GOGC tuner does.
//
// With GOGC=100 the collector runs each time the heap doubles its live
// part. A detector's live heap is small (rule state, a few batches in
// flight) while it allocates a whole event per record, so it collects
// every few megabytes: on 500k sshd lines, 23 collections that took a
// fifth of the CPU. Start raises the GC percentage after every
// collection so that the next one comes when the heap reaches the floor,
// and never sets it below a minimum, so a large live heap is collected
// as GOGC would collect it. It is a tuning of the collector, not a limit:
// GOMEMLIMIT still applies, and the process may use more than the floor
// when its live heap is larger.
package gcfloor
