package input

import (
	"sync/atomic"
	"time"
)

// BlockThreshold is how long a wait for the pipeline must last to count
// as one block in Stats.Blocks.
const BlockThreshold = 10 * time.Millisecond

// Stats are an input's counters since it was made.
type Stats struct {
	// Records, Bytes and Batches were delivered (the handler returned nil).
	Records int64
	Bytes   int64
	Batches int64
	// Blocked is how long the input waited for the pipeline: inside the
	// handler, or for room in its bounded queue. Blocks counts the waits
	// longer than BlockThreshold.
	Blocked time.Duration
	Blocks  int64
	// Dropped counts records lost because the queue was full and the
	// sender cannot be pushed back (UDP syslog only).
	Dropped int64
	// Rejected counts records or requests refused (HTTP: bad line, 401,
	// 413, 503).
	Rejected int64
}

// Counters are the atomic counters behind Stats; the zero value is ready.
type Counters struct {
	records, bytes, batches, blocked, blocks, dropped, rejected atomic.Int64
}

// Delivered counts one delivered batch.
func (c *Counters) Delivered(records int, bytes int64) {
	c.records.Add(int64(records))
	c.bytes.Add(bytes)
	c.batches.Add(1)
}

// Waited counts time spent waiting for the pipeline.
func (c *Counters) Waited(d time.Duration) {
	c.blocked.Add(int64(d))
	if d >= BlockThreshold {
		c.blocks.Add(1)
	}
}

// Dropped counts n records lost.
func (c *Counters) Dropped(n int) { c.dropped.Add(int64(n)) }

// Rejected counts n records or requests refused.
func (c *Counters) Rejected(n int) { c.rejected.Add(int64(n)) }

// Snapshot returns the current values.
func (c *Counters) Snapshot() Stats {
	return Stats{
		Records:  c.records.Load(),
		Bytes:    c.bytes.Load(),
		Batches:  c.batches.Load(),
		Blocked:  time.Duration(c.blocked.Load()),
		Blocks:   c.blocks.Load(),
		Dropped:  c.dropped.Load(),
		Rejected: c.rejected.Load(),
	}
}

// BatchBytes returns the total size of the records' data.
func BatchBytes(batch []Record) int64 {
	var n int64
	for _, r := range batch {
		n += int64(len(r.Data))
	}
	return n
}
