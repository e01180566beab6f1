package file

import (
	"context"
	"path/filepath"

	"github.com/vigil-siem/vigil/collectors/input"
	"github.com/vigil-siem/vigil/collectors/parsers"
)

// RunRecords is Run for the collectors.Input contract: each Line becomes
// an input.Record whose Source is the file's absolute path and the
// record's byte offset (so a line read again gets the same event id).
func (in *Input) RunRecords(ctx context.Context, handle input.Handler) error {
	conv := recordConverter{}
	return in.Run(ctx, func(ctx context.Context, lines []Line) error {
		return handle(ctx, conv.records(lines))
	})
}

// RunRecordsAsync is RunAsync for the collectors.AsyncInput contract, with
// the records RunRecords hands on.
func (in *Input) RunRecordsAsync(ctx context.Context, handle input.AsyncHandler) error {
	conv := recordConverter{}
	return in.RunAsync(ctx, func(ctx context.Context, lines []Line) *input.Ack {
		return handle(ctx, conv.records(lines))
	})
}

// recordConverter turns Lines into Records, remembering absolute paths.
type recordConverter map[string]string

func (abs recordConverter) records(lines []Line) []input.Record {
	recs := make([]input.Record, len(lines))
	for i, l := range lines {
		name, ok := abs[l.Path]
		if !ok {
			name = l.Path
			if a, err := filepath.Abs(l.Path); err == nil {
				name = a
			}
			abs[l.Path] = name
		}
		recs[i] = input.Record{
			Source: parsers.Source{Name: name, Offset: l.Offset},
			Data:   l.Data, Truncated: l.Truncated, InvalidUTF8: l.InvalidUTF8,
		}
	}
	return recs
}
