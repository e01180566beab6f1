//go:build !unix

package indexer_test

import "time"

// cpuTime is unknown on this platform: the docs/cpu-s metric is left out.
func cpuTime() time.Duration { return 0 }
