package chaos_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/vigil-siem/vigil/internal/testbin"
)

// repoRoot finds the module root (the directory holding go.mod) above the
// test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// proc is one running incarnation of a vigil command.
type proc struct {
	name    string
	n       int // incarnation, from 1
	cmd     *exec.Cmd
	logPath string
	metrics string // host:port of /metrics, /healthz, /readyz
	done    chan struct{}
	killed  bool // by the harness: its exit is expected
	stopped bool
}

// fleet runs the stages as separate processes and restarts them.
type fleet struct {
	t    *testing.T
	bin  string
	dir  string
	env  []string
	mu   sync.Mutex
	cur  map[string]*proc
	runs map[string]int
	// unexpected lists processes that exited without being killed or stopped.
	unexpected []string
}

func newFleet(t *testing.T, bin, dir string, env []string) *fleet {
	f := &fleet{t: t, bin: bin, dir: dir, env: env, cur: map[string]*proc{}, runs: map[string]int{}}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.cur {
			if p.cmd.ProcessState == nil {
				p.killed = true
				_ = p.cmd.Process.Kill()
			}
		}
	})
	return f
}

// start starts name (a stage or "broker") with args; its stderr goes to
// a log file of its own.
func (f *fleet) start(name string, args ...string) *proc {
	f.t.Helper()
	f.mu.Lock()
	f.runs[name]++
	n := f.runs[name]
	f.mu.Unlock()
	logPath := filepath.Join(f.dir, "logs", fmt.Sprintf("%s-%d.log", name, n))
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		f.t.Fatal(err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(f.bin, args...)
	metrics := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(f.t))
	cmd.Env = append(append(os.Environ(), f.env...), "VIGIL_METRICS_LISTEN="+metrics)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		f.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, n: n, cmd: cmd, logPath: logPath, metrics: metrics, done: make(chan struct{})}
	f.mu.Lock()
	f.cur[name] = p
	f.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		f.mu.Lock()
		if !p.killed && !p.stopped {
			f.unexpected = append(f.unexpected, fmt.Sprintf("%s #%d exited on its own (%v); last log lines:\n%s", name, n, err, tail(logPath, 15)))
		}
		f.mu.Unlock()
		close(p.done)
	}()
	return p
}

// waitReady waits until the current incarnation of name answers /readyz
// with 200 (a consumer stage: its group assigned it partitions), at most
// timeout; it reports whether it did.
func (f *fleet) waitReady(name string, timeout time.Duration) bool {
	f.mu.Lock()
	p := f.cur[name]
	f.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			return false
		default:
		}
		resp, err := client.Get("http://" + p.metrics + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return true
		}
	}
	return false
}

// kill sends SIGKILL to the current incarnation of name and waits for it.
func (f *fleet) kill(name string) {
	f.mu.Lock()
	p := f.cur[name]
	p.killed = true
	f.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to 30s for a clean exit.
func (f *fleet) stop(name string) {
	f.t.Helper()
	f.mu.Lock()
	p := f.cur[name]
	p.stopped = true
	f.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if !p.cmd.ProcessState.Success() {
			f.t.Errorf("%s #%d after SIGTERM: %v\n%s", name, p.n, p.cmd.ProcessState, tail(p.logPath, 15))
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		f.t.Errorf("%s #%d did not stop within 30s of SIGTERM", name, p.n)
	}
}

// problems returns the unexpected exits so far.
func (f *fleet) problems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.unexpected...)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kafkaView reads consumer group offsets and topics from the broker, as
// an operator's tool would.
type kafkaView struct {
	bootstrap string
}

// lag returns, for a group and its topics, the records not yet
// committed: high watermark minus committed offset, summed over partitions.
func (k kafkaView) lag(group string, topics ...string) (int64, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": k.bootstrap, "group.id": group,
		"enable.auto.commit": false, "log_level": 3, "enable.metrics.push": false})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var total int64
	for _, topic := range topics {
		parts, err := k.partitions(c, topic)
		if err != nil {
			return 0, err
		}
		committed, err := c.Committed(parts, 5000)
		if err != nil {
			return 0, fmt.Errorf("committed offsets of %s on %s: %w", group, topic, err)
		}
		for _, tp := range committed {
			low, high, err := c.QueryWatermarkOffsets(topic, tp.Partition, 5000)
			if err != nil {
				return 0, err
			}
			from := int64(tp.Offset)
			if from < 0 {
				from = low
			}
			total += max(0, high-from)
		}
	}
	return total, nil
}

// count returns how many records topic holds: high minus low
// watermarks, summed over partitions.
func (k kafkaView) count(topic string) (int64, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": k.bootstrap, "group.id": "chaos-count",
		"log_level": 3, "enable.metrics.push": false})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	parts, err := k.partitions(c, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range parts {
		low, high, err := c.QueryWatermarkOffsets(topic, p.Partition, 5000)
		if err != nil {
			return 0, err
		}
		n += high - low
	}
	return n, nil
}

func (k kafkaView) partitions(c *kafka.Consumer, topic string) ([]kafka.TopicPartition, error) {
	md, err := c.GetMetadata(&topic, false, 5000)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	var parts []kafka.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p.ID})
	}
	return parts, nil
}

// readAll hands every record of topic, from the start to the high
// watermarks of the moment, to fn.
func (k kafkaView) readAll(ctx context.Context, topic string, fn func(m *kafka.Message)) error {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": k.bootstrap, "group.id": "chaos-reader",
		"enable.auto.commit": false, "log_level": 3, "enable.metrics.push": false})
	if err != nil {
		return err
	}
	defer c.Close()
	parts, err := k.partitions(c, topic)
	if err != nil {
		return err
	}
	remaining := 0
	ends := map[int32]int64{}
	for i := range parts {
		_, high, err := c.QueryWatermarkOffsets(topic, parts[i].Partition, 5000)
		if err != nil {
			return err
		}
		parts[i].Offset = kafka.OffsetBeginning
		if high > 0 {
			ends[parts[i].Partition] = high
			remaining++
		}
	}
	if remaining == 0 {
		return nil
	}
	if err := c.Assign(parts); err != nil {
		return err
	}
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", topic, err)
		}
		ev := c.Poll(200)
		switch m := ev.(type) {
		case *kafka.Message:
			if m.TopicPartition.Error != nil {
				return m.TopicPartition.Error
			}
			end, ok := ends[m.TopicPartition.Partition]
			if !ok || int64(m.TopicPartition.Offset) >= end {
				continue
			}
			fn(m)
			if int64(m.TopicPartition.Offset) == end-1 {
				delete(ends, m.TopicPartition.Partition)
				remaining--
			}
		case kafka.Error:
			if m.IsFatal() {
				return m
			}
		}
	}
	return nil
}

// cpus is how many CPUs the test may count on (for its log line).
func cpus() int { return runtime.NumCPU() }
