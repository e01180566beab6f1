package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/wire"
)

// RunCollect reads every configured input, parses each record into an
// ECS event and produces it on vigil.events keyed by collect.key_field. A
// batch of records counts as read (file offsets and journald cursors
// advance, HTTP answers 200) only after Kafka acknowledged its events.
// Inputs that end (files without follow, stdin) end at end of input;
// RunCollect returns when all inputs ended or ctx is done.
func (s *System) RunCollect(ctx context.Context) error {
	inputs := s.Config.Collect.Inputs
	if len(inputs) == 0 {
		return fmt.Errorf("collect: no inputs configured (collect.inputs)")
	}
	s.setCheck("collect", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return bus.EnsureTopics(ctx, s.Bus, bus.TopicEvents)
	})
	defer s.setCheck("collect", nil)
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.collectInput(ctx, i, in); err != nil {
				errs[i] = fmt.Errorf("collect.inputs[%d] (%s %s): %w", i, in.Type, in.Format, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *System) collectInput(ctx context.Context, index int, in config.Input) error {
	loc := time.UTC
	if in.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(in.Timezone); err != nil {
			return err
		}
	}
	if _, err := collectors.NewParser(in.Format, collectors.ParserConfig{}); err != nil {
		return err
	}
	if in.Type == config.InputFile && in.BatchLines == 0 {
		in.BatchLines = 4096 // fewer, larger acknowledged batches: the Kafka round trip dominates small ones
	}
	src, err := collectors.NewInput(in, collectors.InputOptions{DataDir: s.Config.Collect.DataDir, NoRegistry: s.NoRegistry})
	if err != nil {
		return err
	}
	label := strconv.Itoa(index)
	s.Metrics.OnScrape(func() {
		st := src.Stats()
		s.Metrics.InputBlocked.WithLabelValues(label, in.Type).Set(st.Blocked.Seconds())
		s.Metrics.InputDropped.WithLabelValues(label, in.Type).Set(float64(st.Dropped))
	})
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	keyField := s.Config.Collect.KeyField
	if keyField == "" {
		keyField = "host.name"
	}
	// Parsers keep per-stream state (the syslog year, a Zeek header): one
	// per file; for network inputs one per input.
	parsers := map[string]collectors.Parser{}
	parserFor := func(stream string) (collectors.Parser, error) {
		if p, ok := parsers[stream]; ok {
			return p, nil
		}
		ref := time.Now()
		if in.Type == config.InputFile {
			if st, err := os.Stat(stream); err == nil {
				ref = st.ModTime()
			}
		}
		p, err := collectors.NewParser(in.Format, collectors.ParserConfig{Reference: ref, Location: loc})
		if err != nil {
			return nil, err
		}
		parsers[stream] = p
		return p, nil
	}
	// Values events share are boxed once, not per event; the parser of the
	// last record's stream is at hand.
	collector := any(in.Type)
	var (
		stream string
		parser collectors.Parser
		pathV  any    // stream, boxed
		rename string // the stream's SourceNames entry: its name in event ids, if any
	)
	// prepare parses a batch into events, in order (parsers keep per-stream
	// state), with what the collector adds to every event.
	prepare := func(recs []collectors.Record) ([]event.Event, error) {
		evs := make([]event.Event, 0, len(recs))
		received := any(event.FormatTime(time.Now()))
		for _, r := range recs {
			name := in.Type
			if in.Type == config.InputFile {
				name = r.Source.Name
			}
			if parser == nil || name != stream {
				p, err := parserFor(name)
				if err != nil {
					return nil, err
				}
				stream, parser, pathV, rename = name, p, any(name), ""
				if in.Type == config.InputFile {
					rename = s.SourceNames[name]
				}
			}
			src := r.Source
			if rename != "" {
				src.Name = rename
			}
			ev := parser.Parse(src, collectors.TrimBOM(r.Source.Offset, r.Data))
			if ev == nil {
				continue // not a record (a Zeek #fields header)
			}
			if reason := ev.String(event.FieldParseError); reason != "" {
				s.Metrics.ParseFailures.WithLabelValues(s.Metrics.Reason(reason)).Inc()
			}
			if capped := capLongFields(ev); r.Truncated || capped {
				ev.Set("vigil.truncated", true)
			}
			if r.InvalidUTF8 {
				ev.Set("vigil.invalid_utf8", true)
			}
			ev.Set(event.FieldCollector, collector)
			ev.Set(event.FieldReceivedAt, received)
			if in.Type == config.InputFile {
				ev.Set("log.file.path", pathV)
				ev.Set("log.offset", r.Source.Offset)
			}
			if r.Peer != "" {
				ev.Set("log.source.address", r.Peer)
			}
			evs = append(evs, ev)
		}
		return evs, nil
	}
	counted := func(records, produced int) {
		s.Progress.Collected.Add(int64(produced))
		s.Metrics.StageIn.WithLabelValues("collect").Add(float64(records))
		s.Metrics.StageOut.WithLabelValues("collect").Add(float64(produced))
	}
	if a, ok := src.(collectors.AsyncInput); ok {
		return s.collectAsync(ctx, s.Producer, a, prepare, keyField, counted)
	}
	enc := &batchEncoder{codec: s.Wire, keyField: keyField}
	return src.Run(ctx, func(ctx context.Context, recs []collectors.Record) error {
		evs, err := prepare(recs)
		if err != nil {
			return err
		}
		msgs, err := enc.encode(evs)
		if err != nil {
			return err
		}
		if err := s.send(ctx, msgs); err != nil {
			return err
		}
		counted(len(recs), len(msgs))
		return nil
	})
}

// collectAsync runs an input that keeps several batches in flight, on two
// goroutines: the input's goroutine parses batch N+1 (in order: parsers
// keep per-stream state) while a sender goroutine (sendJobs) encodes batch N
// and feeds it to the producer, so parsing, encoding, producing, librdkafka
// and the broker share both cores instead of taking turns. Batches reach
// the producer in the order they were read, so a partition keeps file
// order; the input advances its offsets only past batches acknowledged
// together with every batch before them. The input holds at most its
// InFlight batches unacknowledged, which bounds what waits here; the
// sender bounds what waits in librdkafka. No goroutine is spent per batch:
// an Ack learns its outcome when waited for (collectors.DeferredAck).
func (s *System) collectAsync(ctx context.Context, producer *bus.Producer, src collectors.AsyncInput,
	prepare func([]collectors.Record) ([]event.Event, error), keyField string, counted func(records, produced int)) error {
	sctx, stop := context.WithCancel(ctx)
	jobs := make(chan *sendJob, 16)
	senderDone := make(chan struct{})
	w := windowFor(producer.Linger())
	go func() {
		defer close(senderDone)
		s.sendJobs(sctx, producer, jobs, keyField, w)
	}()
	defer func() {
		close(jobs)
		stop()
		<-senderDone
	}()
	return src.RunAsync(ctx, func(ctx context.Context, recs []collectors.Record) *collectors.Ack {
		evs, err := prepare(recs)
		if err != nil {
			return collectors.Acked(err)
		}
		j := &sendJob{evs: evs, records: len(recs), done: make(chan struct{})}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return collectors.Acked(ctx.Err())
		}
		return collectors.DeferredAck(func(ctx context.Context) error {
			select {
			case <-j.done:
			default:
				select {
				case <-j.done:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if j.err != nil {
				return j.err
			}
			counted(j.records, j.produced)
			return nil
		})
	})
}

// sendWindow bounds what the sender leaves unacknowledged in librdkafka:
// batches are handed on in chunks of about chunkBytes of values, at most
// chunks of them at once. Once librdkafka holds messages it cannot send
// yet (every request slot taken, or the socket full) and the oldest has
// waited its linger.ms, each message produced wakes its broker thread,
// which then polls in a loop: measured 2–4 µs of CPU per message, more
// than parsing a line. So librdkafka gets only about what its requests in
// flight carry.
type sendWindow struct {
	chunkBytes int
	chunks     int
}

// windowFor picks the window for a producer's linger.ms. With a short
// linger (the default 5ms) a backlog soon counts as overdue: one batch at
// a time, the next handed on once the last is acknowledged. With 20ms or
// more, batches fill (1 MB takes ~10ms at 100k events/s) before they are
// due: four chunks of about one produce request each (librdkafka's
// batch.size and the broker's message.max.bytes are 1 MB; an idempotent
// producer keeps at most five requests in flight) keep the connection
// busy without a backlog. That window is also a ceiling when messages
// spread over so many partitions that no batch fills: 3.6 MB per linger.
func windowFor(linger time.Duration) sendWindow {
	if linger >= 20*time.Millisecond {
		return sendWindow{chunkBytes: 900_000, chunks: 4}
	}
	return sendWindow{chunkBytes: 16 << 20, chunks: 1}
}

// sendJob is a parsed batch on its way from the input's goroutine through
// the sender goroutine to Kafka. The sender owns every field but evs and
// records until it closes done; then err and produced are final.
type sendJob struct {
	evs      []event.Event
	records  int
	produced int   // messages handed to the producer
	err      error // the first failure
	done     chan struct{}

	pending int  // chunks in the producer, not yet settled
	sending bool // chunks of it are still to be handed on
	closed  bool
}

// fail records the job's first failure.
func (j *sendJob) fail(err error) {
	if err != nil && j.err == nil {
		j.err = err
	}
}

// maybeClose closes done once nothing of the job is left to send or
// settle.
func (j *sendJob) maybeClose() {
	if !j.closed && !j.sending && j.pending == 0 {
		j.closed = true
		close(j.done)
	}
}

// sentChunk is a part of a job in the producer.
type sentChunk struct {
	d   *bus.Delivery
	job *sendJob
}

// sendJobs encodes each job and hands it to the producer in chunks, in
// order, keeping at most w.chunks of them unacknowledged, and finishes
// each job once all its chunks are acknowledged. It is the only caller of
// the deliveries' Wait. After a failure (a job not encoded, a chunk not
// taken or not delivered) nothing more is sent: every later job fails with
// that error, so the input stops at the first failed batch and nothing
// after a gap reaches Kafka from this run. It returns when jobs is closed
// and every chunk is settled.
func (s *System) sendJobs(ctx context.Context, producer *bus.Producer, jobs <-chan *sendJob, keyField string, w sendWindow) {
	var (
		inflight []sentChunk // oldest first
		failed   error
		enc      = &batchEncoder{codec: s.Wire, keyField: keyField}
	)
	settleOldest := func() {
		c := inflight[0]
		inflight[0] = sentChunk{}
		inflight = inflight[1:]
		if err := c.d.Wait(ctx); err != nil && failed == nil {
			failed = err
		}
		c.job.fail(failed) // a chunk after a failed one fails too
		c.job.pending--
		c.job.maybeClose()
	}
	send := func(j *sendJob) {
		defer j.maybeClose()
		if failed != nil {
			j.fail(failed)
			return
		}
		msgs, err := enc.encode(j.evs)
		j.evs = nil
		if err != nil {
			j.fail(err)
			failed = err
			return
		}
		j.sending = true
		defer func() { j.sending = false }()
		for lo := 0; lo < len(msgs); {
			hi := lo + 1
			for size := len(msgs[lo].Value); hi < len(msgs) && size+len(msgs[hi].Value) <= w.chunkBytes; hi++ {
				size += len(msgs[hi].Value)
			}
			for len(inflight) >= max(w.chunks, 1) {
				settleOldest()
			}
			if failed != nil {
				j.fail(failed)
				return
			}
			d := producer.SendAsync(ctx, msgs[lo:hi])
			j.pending++
			j.produced += hi - lo
			inflight = append(inflight, sentChunk{d: d, job: j})
			if err := d.Err(); err != nil { // not all taken: nothing more goes
				j.fail(err)
				failed = err
				return
			}
			lo = hi
		}
	}
	for {
		if len(inflight) == 0 {
			j, ok := <-jobs
			if !ok {
				return
			}
			send(j)
			continue
		}
		select {
		case j, ok := <-jobs:
			if !ok {
				for len(inflight) > 0 {
					settleOldest()
				}
				return
			}
			send(j)
		default:
			settleOldest()
		}
	}
}

// encodeEvents encodes events for vigil.events on every CPU, keeping
// their order, each value in a buffer of its own.
func encodeEvents(codec *wire.Codec, evs []event.Event, keyField string) ([]bus.Message, error) {
	msgs := make([]bus.Message, len(evs))
	err := forChunks(len(evs), func(_, lo, hi int) error {
		var k eventKey
		for i := lo; i < hi; i++ {
			b, err := codec.Encode(bus.TopicEvents, evs[i])
			if err != nil {
				return fmt.Errorf("encode event %s: %w", evs[i].ID(), err)
			}
			msgs[i] = bus.Message{Topic: bus.TopicEvents, Key: k.of(evs[i], keyField), Value: b}
		}
		return nil
	})
	return msgs, err
}

// chunkWorkers is how many ranges forChunks cuts n items into: one per
// CPU, each of at least 256.
func chunkWorkers(n int) int { return min(runtime.NumCPU(), max(1, n/256)) }

// forChunks runs fn over [0, n) cut into chunkWorkers(n) ranges,
// concurrently, w numbering the ranges from 0, and joins their errors.
func forChunks(n int, fn func(w, lo, hi int) error) error {
	workers := chunkWorkers(n)
	if workers == 1 {
		return fn(0, 0, n)
	}
	chunk := (n + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = fn(w, lo, hi)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// eventKey gives consecutive events that share their key (mostly: one
// host) the same key bytes, which the producer only copies.
type eventKey struct {
	key   string
	bytes []byte
}

func (k *eventKey) of(ev event.Event, keyField string) []byte {
	if s := ev.String(keyField); s != k.key || k.bytes == nil {
		k.key, k.bytes = s, []byte(s)
	}
	return k.bytes
}

// batchEncoder encodes batches of events for vigil.events like
// encodeEvents, byte for byte, but into buffers it keeps from batch to
// batch: JSON values are appended to one buffer per CPU instead of one
// allocation per event. The messages it returns are valid until its next
// call; the producer copies them, so they may be handed to Send or
// SendAsync and then dropped. Not safe for concurrent use.
type batchEncoder struct {
	codec    *wire.Codec
	keyField string
	msgs     []bus.Message
	bufs     [][]byte // a buffer per range of forChunks
}

func (e *batchEncoder) encode(evs []event.Event) ([]bus.Message, error) {
	if _, avro := e.codec.SchemaID(bus.TopicEvents); avro {
		return encodeEvents(e.codec, evs, e.keyField)
	}
	if cap(e.msgs) < len(evs) {
		e.msgs = make([]bus.Message, len(evs))
	}
	msgs := e.msgs[:len(evs)]
	for len(e.bufs) < chunkWorkers(len(evs)) {
		e.bufs = append(e.bufs, nil)
	}
	err := forChunks(len(evs), func(w, lo, hi int) error {
		buf := e.bufs[w][:0]
		var k eventKey
		for i := lo; i < hi; i++ {
			start := len(buf)
			var err error
			if buf, err = event.AppendMarshal(buf, evs[i]); err != nil {
				return fmt.Errorf("encode event %s for %s as JSON: %w", evs[i].ID(), bus.TopicEvents, err)
			}
			// The end for now; the slice is cut once buf stops moving.
			msgs[i] = bus.Message{Topic: bus.TopicEvents, Key: k.of(evs[i], e.keyField), Value: buf[start:len(buf):len(buf)]}
		}
		// Appending may have moved buf: point the values into where it is.
		for i, off := lo, 0; i < hi; i++ {
			n := len(msgs[i].Value)
			msgs[i].Value = buf[off : off+n : off+n]
			off += n
		}
		e.bufs[w] = buf
		return nil
	})
	return msgs, err
}

// maxFieldBytes caps one string field of a collected event: a record can
// be up to the input's max_line_bytes (1 MiB by default), and an event
// holds it twice (message and event.original), which would pass Kafka's
// default 1 MB message size, refused by the producer on every retry: the
// input would stop at that record for good. Cut, the event fits and is
// flagged vigil.truncated.
const maxFieldBytes = 128 << 10

// capLongFields cuts every string field of ev (and every string in a
// list field, such as related.user) longer than maxFieldBytes, at a UTF-8
// boundary, and reports whether it cut any.
func capLongFields(ev event.Event) bool {
	cut := false
	for k, v := range ev {
		switch v := v.(type) {
		case string:
			if c, ok := capString(v); ok {
				ev[k], cut = c, true
			}
		case []string:
			for i, s := range v {
				if c, ok := capString(s); ok {
					v[i], cut = c, true
				}
			}
		case []any:
			for i, s := range v {
				if s, ok := s.(string); ok {
					if c, ok := capString(s); ok {
						v[i], cut = c, true
					}
				}
			}
		}
	}
	return cut
}

// capString cuts s to maxFieldBytes at a UTF-8 boundary, if longer.
func capString(s string) (string, bool) {
	if len(s) <= maxFieldBytes {
		return s, false
	}
	n := maxFieldBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
