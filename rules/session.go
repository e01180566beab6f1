package rules

import (
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-siem/vigil/event"
)

// Login sessions: the engine remembers, per host and user, where the last
// successful login came from. An alert about a user (its entity is
// user.name) on a host where that user logged in from a known address is
// attributed to that address: "deploy ran wget as root" becomes part of
// the incident of the source that guessed deploy's password. Events are
// partitioned by host, so one engine sees every login and every later
// action of a host in order, and the attribution is the same on every
// replay.

// AlertSession records the login an alert was attributed to.
type AlertSession struct {
	SourceIP     string    `json:"source_ip"`
	LoginEventID string    `json:"login_event_id"`
	LoginTime    time.Time `json:"login_time"`
}

type session struct {
	sourceIP string
	eventID  string
	at       time.Time
}

type sessions struct {
	cache *lru.Cache[string, session]
	ttl   time.Duration
}

func newSessions(size int, ttl time.Duration) *sessions {
	c, _ := lru.New[string, session](size) // size is always positive
	return &sessions{cache: c, ttl: ttl}
}

func sessionKey(host, user string) string { return host + "\x1f" + user }

// observe records a successful authentication with a source address.
func (s *sessions) observe(ev event.Event, t time.Time) {
	if ev.String("event.outcome") != "success" || !slices.Contains(asStrings(ev.Get("event.category")), "authentication") {
		return
	}
	host, user, ip := ev.String("host.name"), ev.String("user.name"), ev.String("source.ip")
	if host == "" || user == "" || ip == "" {
		return
	}
	// Copies: the event's strings may be substrings of its whole document.
	s.cache.Add(sessionKey(host, user), session{sourceIP: strings.Clone(ip), eventID: strings.Clone(ev.ID()), at: t})
}

// lookup returns the login of user on host that an action at t belongs to.
func (s *sessions) lookup(host, user string, t time.Time) (session, bool) {
	if host == "" || user == "" {
		return session{}, false
	}
	sess, ok := s.cache.Get(sessionKey(host, user))
	if !ok || t.Before(sess.at) || t.Sub(sess.at) > s.ttl {
		return session{}, false
	}
	return sess, true
}
