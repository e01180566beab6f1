package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/rules"
)

// Checkpoints on vigil.state (compacted). Every assigned partition of
// vigil.events and vigil.detect.rekey is a task with its own engines; its
// checkpoint is the engines' state records (rules.Engine.Checkpoint) plus
// the offset of the next record to read, so that state and offset always
// agree: a member that takes the partition over restores the state and
// reads on from that offset (what the old owner did after it is replayed;
// alerts have deterministic ids, so a repeat overwrites).
//
// A task's records go to partition (task partition mod partitions of
// vigil.state), so restoring a partition reads one state partition. A
// state record is split into chunks of at most stateChunkSize bytes (a
// Kafka record is limited to about 1 MB), keyed by the hash of its
// content: a record that did not change since the last checkpoint is not
// written again. The task's meta record, written only once its chunks are
// acknowledged, lists the chunks of the checkpoint; chunks no longer
// listed are tombstoned after it. A crash at any point leaves the previous
// meta and its chunks whole.

// stateChunkSize bounds a chunk's value.
const stateChunkSize = 256 << 10

// stateVersion is the encoding version of meta records.
const stateVersion = 1

// stateMeta is a task's checkpoint.
type stateMeta struct {
	Version   int    `json:"version"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Next is the offset of the first record the state does not include.
	Next int64 `json:"next"`
	// SourceHW is, per re-key group and vigil.events partition, the
	// highest source offset processed (re-key tasks only).
	SourceHW map[string]map[int32]int64 `json:"source_hw,omitempty"`
	// SourceTime is, per vigil.events partition, the newest event time
	// of its copies (re-key tasks only; see rekeyMerge).
	SourceTime map[int32]time.Time `json:"source_time,omitempty"`
	Records    []stateRecordRef    `json:"records"`
	Written    time.Time           `json:"written"`
}

// stateRecordRef is one engine state record of a checkpoint.
type stateRecordRef struct {
	Engine string `json:"engine"` // "" on vigil.events, the group id on the re-key topic
	Key    string `json:"key"`    // rules.StateRecord.Key
	Hash   string `json:"hash"`
	Chunks int    `json:"chunks"`
}

func taskPrefix(tp bus.TopicPartition) string {
	return "detect/" + tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) + "/"
}

func metaKey(tp bus.TopicPartition) string { return taskPrefix(tp) + "meta" }

func chunkKey(tp bus.TopicPartition, hash string, i int) string {
	return taskPrefix(tp) + "chunk/" + hash + "/" + strconv.Itoa(i)
}

// restored is what a checkpoint gives back for one task.
type restored struct {
	meta    *stateMeta
	engines map[string][]rules.StateRecord
	live    map[string]bool // chunk keys the meta lists (when corrupt: every chunk key of the task)
	errs    []error         // records that could not be put together
	// corrupt is the meta record when it cannot be read (meta is nil):
	// the task starts with empty state, and its first checkpoint
	// replaces the record and tombstones the chunks in live.
	corrupt    *bus.Record
	corruptErr error
}

// errStateVersion is a meta record of another encoding version: written
// by another release of Vigil, intact, not corrupt.
var errStateVersion = errors.New("checkpoint of another version")

// decodeMeta reads and checks the meta record of task tp.
func decodeMeta(tp bus.TopicPartition, v []byte) (stateMeta, error) {
	var meta stateMeta
	if err := json.Unmarshal(v, &meta); err != nil {
		return meta, err
	}
	switch {
	case meta.Version != stateVersion:
		return meta, fmt.Errorf("%w: version %d, this detector reads %d", errStateVersion, meta.Version, stateVersion)
	case meta.Topic != tp.Topic || meta.Partition != tp.Partition:
		return meta, fmt.Errorf("written for %s[%d]", meta.Topic, meta.Partition)
	case meta.Next < bus.OffsetBeginning:
		return meta, fmt.Errorf("next offset %d", meta.Next)
	}
	return meta, nil
}

// stateStore writes and reads checkpoints.
type stateStore struct {
	cfg bus.Config
	w   *bus.PartitionWriter
}

func newStateStore(cfg bus.Config) (*stateStore, error) {
	w, err := bus.NewPartitionWriter(cfg, bus.TopicState)
	if err != nil {
		return nil, fmt.Errorf("detect state: %w", err)
	}
	return &stateStore{cfg: cfg, w: w}, nil
}

func (st *stateStore) close() { st.w.Close(10 * time.Second) }

func (st *stateStore) partitionOf(tp bus.TopicPartition) int32 {
	return tp.Partition % int32(st.w.Partitions())
}

// engineState is one engine's records for a checkpoint.
type engineState struct {
	id   string
	recs []rules.StateRecord
}

// write checkpoints a task: new chunks, then the meta, then tombstones of
// the chunks the previous meta listed and this one does not. It returns
// the chunk keys now live and the bytes written.
func (st *stateStore) write(ctx context.Context, tp bus.TopicPartition, meta stateMeta, engines []engineState, live map[string]bool) (map[string]bool, int, error) {
	part := st.partitionOf(tp)
	now := map[string]bool{}
	var chunks []bus.KeyValue
	size := 0
	meta.Version, meta.Topic, meta.Partition, meta.Written = stateVersion, tp.Topic, tp.Partition, time.Now().UTC()
	meta.Records = nil
	for _, es := range engines {
		for _, r := range es.recs {
			sum := sha256.Sum256([]byte(es.id + "\x00" + r.Key + "\x00" + string(r.Value)))
			hash := hex.EncodeToString(sum[:16])
			n := max(1, (len(r.Value)+stateChunkSize-1)/stateChunkSize)
			meta.Records = append(meta.Records, stateRecordRef{Engine: es.id, Key: r.Key, Hash: hash, Chunks: n})
			for i := range n {
				k := chunkKey(tp, hash, i)
				now[k] = true
				if live[k] {
					continue // written by an earlier checkpoint, unchanged
				}
				v := r.Value[i*stateChunkSize : min(len(r.Value), (i+1)*stateChunkSize)]
				if len(v) == 0 {
					v = []byte{} // an empty record is a chunk, not a tombstone
				}
				chunks = append(chunks, bus.KeyValue{Key: []byte(k), Value: v})
				size += len(v)
			}
		}
	}
	if err := st.w.Send(ctx, part, chunks); err != nil {
		return live, 0, fmt.Errorf("checkpoint %s: chunks: %w", tp, err)
	}
	mv, err := json.Marshal(meta)
	if err != nil {
		return live, 0, fmt.Errorf("checkpoint %s: encode: %w", tp, err)
	}
	if err := st.w.Send(ctx, part, []bus.KeyValue{{Key: []byte(metaKey(tp)), Value: mv}}); err != nil {
		return live, 0, fmt.Errorf("checkpoint %s: meta: %w", tp, err)
	}
	size += len(mv)
	var tombs []bus.KeyValue
	for k := range live {
		if !now[k] {
			tombs = append(tombs, bus.KeyValue{Key: []byte(k)})
		}
	}
	sort.Slice(tombs, func(i, j int) bool { return string(tombs[i].Key) < string(tombs[j].Key) })
	if err := st.w.Send(ctx, part, tombs); err != nil {
		// The checkpoint stands; the old chunks stay until a later one.
		for _, t := range tombs {
			now[string(t.Key)] = true
		}
		return now, size, fmt.Errorf("checkpoint %s: tombstones: %w", tp, err)
	}
	return now, size, nil
}

// checkpointJob is one task's checkpoint for writeAll: live is the chunk
// keys of its last checkpoint, replaced by write's result.
type checkpointJob struct {
	tp     bus.TopicPartition
	meta   stateMeta
	states []engineState
	live   map[string]bool
	size   int
	err    error
}

// maxCheckpointWriters bounds the checkpoints writeAll writes at once.
const maxCheckpointWriters = 16

// writeAll writes the checkpoints of several tasks at once (each in its
// own order: chunks, meta, tombstones), so a checkpoint of many
// partitions costs about one round of acknowledgements, not one per
// partition. Each job gets its write's results.
func (st *stateStore) writeAll(ctx context.Context, jobs []checkpointJob) {
	if len(jobs) == 1 {
		j := &jobs[0]
		j.live, j.size, j.err = st.write(ctx, j.tp, j.meta, j.states, j.live)
		return
	}
	sem := make(chan struct{}, maxCheckpointWriters)
	var wg sync.WaitGroup
	for i := range jobs {
		j := &jobs[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			j.live, j.size, j.err = st.write(ctx, j.tp, j.meta, j.states, j.live)
		}()
	}
	wg.Wait()
}

// read returns the checkpoints of the tasks (nil for a task without one).
func (st *stateStore) read(ctx context.Context, tps []bus.TopicPartition) (map[bus.TopicPartition]*restored, error) {
	var parts []int32
	for _, tp := range tps {
		if p := st.partitionOf(tp); !containsPart(parts, p) {
			parts = append(parts, p)
		}
	}
	recs, err := bus.ReadPartitions(ctx, st.cfg, bus.TopicState, parts)
	if err != nil {
		return nil, fmt.Errorf("detect state: %w", err)
	}
	latest := map[string][]byte{}
	metas := map[string]bus.Record{} // the meta records, for what is corrupt
	for _, r := range recs {
		if !strings.HasPrefix(string(r.Key), "detect/") {
			continue
		}
		if r.Value == nil {
			delete(latest, string(r.Key))
			delete(metas, string(r.Key))
			continue
		}
		latest[string(r.Key)] = r.Value
		if strings.HasSuffix(string(r.Key), "/meta") {
			metas[string(r.Key)] = r
		}
	}
	out := map[bus.TopicPartition]*restored{}
	for _, tp := range tps {
		mv, ok := latest[metaKey(tp)]
		if !ok {
			continue
		}
		res := &restored{engines: map[string][]rules.StateRecord{}, live: map[string]bool{}}
		meta, err := decodeMeta(tp, mv)
		if errors.Is(err, errStateVersion) {
			// Intact state of another release: starting without it would
			// lose it for good (the next checkpoint replaces it).
			return nil, fmt.Errorf("detect state: checkpoint of %s (record %s): %w", tp, metaKey(tp), err)
		}
		if err != nil {
			rec := metas[metaKey(tp)]
			res.corrupt = &rec
			res.corruptErr = fmt.Errorf("checkpoint of %s: meta record %s at %s[%d]@%d cannot be read: %w",
				tp, metaKey(tp), bus.TopicState, rec.Partition, rec.Offset, err)
			chunks := taskPrefix(tp) + "chunk/"
			for k := range latest {
				if strings.HasPrefix(k, chunks) {
					res.live[k] = true
				}
			}
			out[tp] = res
			continue
		}
		res.meta = &meta
		for _, ref := range meta.Records {
			var value []byte
			complete := true
			for i := range ref.Chunks {
				k := chunkKey(tp, ref.Hash, i)
				c, ok := latest[k]
				if !ok {
					complete = false
					break
				}
				res.live[k] = true
				value = append(value, c...)
			}
			if !complete {
				res.errs = append(res.errs, fmt.Errorf("checkpoint of %s: state %s of %q misses chunks, that state is lost", tp, ref.Key, ref.Engine))
				continue
			}
			res.engines[ref.Engine] = append(res.engines[ref.Engine], rules.StateRecord{Key: ref.Key, Value: value})
		}
		out[tp] = res
	}
	return out, nil
}

func containsPart(parts []int32, p int32) bool { return slices.Contains(parts, p) }
