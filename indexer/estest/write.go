package estest

import (
	"encoding/json"
	"time"
)

// Write is one document the server stored (index, create, update or
// upsert), as SetOnWrite reports it.
type Write struct {
	Index   string
	ID      string
	Version int64 // 1 for a document written for the first time
	// Source is the stored document; it must not be modified.
	Source json.RawMessage
	At     time.Time // when it was stored, just before the answer is sent
}

// WriteFunc observes one stored document.
type WriteFunc func(Write)

// SetOnWrite installs f to observe every document stored from now on, in
// the order they are stored; nil removes it. It lets a test count writes
// per _id (a document written twice has Version 2) and time when each
// document became searchable. It is called with the server's lock held
// and must not call the Server.
func (s *Server) SetOnWrite(f WriteFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onWrite = f
}
