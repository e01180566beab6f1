package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/metrics"
)

// watchRules checks the rule directories every interval and calls
// changed when a rule file (*.yaml, *.yml) was added, removed or
// modified (size or modification time) since the previous look. It
// returns when ctx is done.
func watchRules(ctx context.Context, dirs []string, interval time.Duration, changed func()) {
	last := ruleFilesState(dirs)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if now := ruleFilesState(dirs); now != last {
			last = now
			changed()
		}
	}
}

// ruleFilesState describes the rule files below dirs: path, size and
// modification time of each, sorted. A directory that cannot be read
// describes itself by its error, so that it coming back is a change.
func ruleFilesState(dirs []string) string {
	var lines []string
	for _, d := range dirs {
		if d == PackPath {
			continue // embedded: it changes with the binary only
		}
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				lines = append(lines, p+" error "+err.Error())
				return nil
			}
			if e.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				lines = append(lines, p+" error "+err.Error())
				return nil
			}
			lines = append(lines, p+" "+strconv.FormatInt(info.Size(), 10)+" "+strconv.FormatInt(info.ModTime().UnixNano(), 10))
			return nil
		})
		if err != nil {
			lines = append(lines, d+" error "+err.Error())
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// trackConsumer makes a stage's consumer visible to the lag metric and
// the readiness check (as consume does for the other stages).
func (s *System) trackConsumer(stage, group string, c *bus.Consumer, extra metrics.Check) {
	s.mu.Lock()
	s.consumers[stage] = c
	s.mu.Unlock()
	s.setCheck(stage, func(ctx context.Context) error {
		s.mu.Lock()
		var n int
		var err error
		if s.consumers[stage] == c { // not closed meanwhile
			n, err = c.Assigned()
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("consumer group %s has assigned no partition to this process yet", group)
		}
		if extra != nil {
			return extra(ctx)
		}
		return nil
	})
}

// untrackConsumer undoes trackConsumer before the consumer is closed.
func (s *System) untrackConsumer(stage string) {
	s.mu.Lock()
	delete(s.consumers, stage)
	s.mu.Unlock()
	s.setCheck(stage, func(context.Context) error { return fmt.Errorf("stopped") })
}
