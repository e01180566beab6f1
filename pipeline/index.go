package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/metrics"
)

// NewSink returns the Elasticsearch sink when index.elasticsearch is
// configured, the NDJSON file sink otherwise.
func NewSink(ctx context.Context, cfg config.Index) (indexer.Sink, error) {
	es := cfg.Elasticsearch
	if !es.Enabled() {
		return indexer.NewFileSink(indexer.FileConfig{Dir: cfg.OutputDir})
	}
	sink, err := indexer.NewESSink(ESConfig(es))
	if err != nil {
		return nil, fmt.Errorf("index.elasticsearch: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sink.Ping(pingCtx); err != nil {
		sink.Close()
		return nil, fmt.Errorf("index.elasticsearch: %w", err)
	}
	return sink, nil
}

// ESConfig turns index.elasticsearch into the indexer's configuration.
func ESConfig(es config.Elasticsearch) indexer.ESConfig {
	return indexer.ESConfig{
		Addresses:           es.Addresses,
		CloudID:             es.CloudID,
		APIKey:              es.APIKey,
		Username:            es.Username,
		Password:            es.Password,
		CACertFile:          es.CACert,
		AlertsIndex:         es.AlertsIndex,
		VerdictsIndex:       es.VerdictsIndex,
		FeedbackIndex:       es.FeedbackIndex,
		FlushBytes:          es.FlushBytes,
		Workers:             es.Workers,
		MaxRetries:          es.MaxRetries,
		CompressRequestBody: es.Compress,
		IndexPattern:        es.IndexPattern,
	}
}

// outageWait bounds how long the index stage waits for Elasticsearch to
// come back before giving up on a batch (below librdkafka's
// max.poll.interval.ms, so the stage keeps its partitions meanwhile).
const outageWait = 4 * time.Minute

// writeThroughOutage writes docs, waiting with backoff while the cluster
// is down or overloaded: consuming pauses, nothing is dropped.
func (s *System) writeThroughOutage(ctx context.Context, sink indexer.Sink, docs []indexer.Doc) ([]indexer.Failed, error) {
	deadline := time.Now().Add(outageWait)
	backoff := 500 * time.Millisecond
	for {
		failed, err := sink.Write(ctx, docs)
		if err != nil && indexer.IsRetryable(err) && !time.Now().After(deadline) {
			s.Metrics.BulkItems.WithLabelValues("retried").Add(float64(len(docs)))
		}
		if err == nil || !indexer.IsRetryable(err) || time.Now().After(deadline) {
			return failed, err
		}
		if ctx.Err() != nil {
			// The stage is stopping: the write failed for that, not for
			// the sink.
			return nil, ctx.Err()
		}
		s.Log.Warn(sinkName(sink)+" unavailable, index stage paused", "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// sinkName names the sink in messages: what is unavailable is not
// Elasticsearch when none is configured.
func sinkName(sink indexer.Sink) string {
	switch sink.(type) {
	case *indexer.ESSink:
		return "elasticsearch"
	case *indexer.FileSink:
		return "output files (index.output_dir)"
	}
	return "index sink"
}

// sinkCheck is the index stage's readiness beyond its consumer: an
// Elasticsearch sink must answer a ping; the file sink is always ready.
func sinkCheck(sink indexer.Sink) metrics.Check {
	p, ok := sink.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	return func(ctx context.Context) error {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("elasticsearch: %w", err)
		}
		return nil
	}
}

// staleCount is how many verdicts a sink skipped because a bigger
// version of their incident was stored (indexer.Doc); 0 for the file
// sink, whose readers choose by version.
func staleCount(sink indexer.Sink) int64 {
	if st, ok := sink.(interface{ Stale() int64 }); ok {
		return st.Stale()
	}
	return 0
}

// docID reads the id an alert or verdict document is indexed under.
type docID struct {
	Vigil struct {
		Alert    struct{ ID string } `json:"alert"`
		Incident struct {
			ID         string
			AlertCount int64 `json:"alert_count"`
		} `json:"incident"`
	} `json:"vigil"`
}

// RunIndex consumes vigil.alerts and vigil.verdicts and stores them in the
// sink under their deterministic ids. The batch's offsets are committed
// only after every document is stored or dead-lettered with its reason.
func (s *System) RunIndex(ctx context.Context) error {
	sink, err := NewSink(ctx, s.Config.Index)
	if err != nil {
		return err
	}
	defer func() {
		if err := sink.Close(); err != nil {
			s.Log.Error("closing the index sink", "err", err)
		}
	}()
	return s.consume(ctx, "index", GroupIndex, []string{bus.TopicAlerts, bus.TopicVerdicts}, sinkCheck(sink), func(ctx context.Context, batch []bus.Record) error {
		var dead []bus.Message
		docs := make([]indexer.Doc, 0, len(batch))
		origin := make(map[string]bus.Record, len(batch))
		for _, r := range batch {
			var id docID
			if err := json.Unmarshal(r.Value, &id); err != nil {
				dead = append(dead, bus.DeadLetter("index", r, "not a JSON document: "+err.Error()))
				continue
			}
			d := indexer.Doc{Kind: indexer.KindAlert, ID: id.Vigil.Alert.ID, Body: r.Value}
			if r.Topic == bus.TopicVerdicts {
				d.Kind, d.ID, d.Version = indexer.KindVerdict, id.Vigil.Incident.ID, id.Vigil.Incident.AlertCount
			}
			if d.ID == "" {
				dead = append(dead, bus.DeadLetter("index", r, "document has no id ("+d.Kind+")"))
				continue
			}
			docs = append(docs, d)
			origin[d.Kind+"/"+d.ID] = r
		}
		staleBefore := staleCount(sink)
		failed, err := s.writeThroughOutage(ctx, sink, docs)
		if err != nil {
			return err
		}
		stale := staleCount(sink) - staleBefore
		for _, f := range failed {
			dead = append(dead, bus.DeadLetter("index", origin[f.Doc.Kind+"/"+f.Doc.ID], f.Reason))
		}
		if err := s.send(ctx, dead); err != nil {
			return err
		}
		s.Progress.IndexIn.Add(int64(len(batch)))
		s.Metrics.StageIn.WithLabelValues("index").Add(float64(len(batch)))
		s.Metrics.StageOut.WithLabelValues("index").Add(float64(len(docs) - len(failed)))
		s.Metrics.BulkItems.WithLabelValues("indexed").Add(float64(len(docs) - len(failed) - int(stale)))
		s.Metrics.BulkItems.WithLabelValues("stale").Add(float64(stale))
		s.Metrics.BulkItems.WithLabelValues("failed").Add(float64(len(failed)))
		return nil
	})
}
