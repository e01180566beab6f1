package main

import (
	"os"

	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/internal/gcfloor"
)

// floorHeap keeps the garbage collector from running below
// detect.heap_floor_mb in the processes that run the detect stage (the
// events it decodes are garbage a moment later), unless the user set
// GOGC, whose value then stands. Above the floor the collector runs as
// with GOGC=100.
func floorHeap(cfg config.Config) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	return gcfloor.Start(cfg.Detect.HeapFloorBytes(), 100)
}
