package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/event"
)

// Config is detect.enrich.identity. The enricher is on when a file is set.
type Config struct {
	// Files are user directories, .csv (header: name, full_name, email,
	// department, privileged, groups, roles) or .yaml (a list of objects
	// with those keys; groups and roles may be lists). Later files
	// override earlier ones.
	Files []string `yaml:"files"`
	// CacheSize bounds the cache (entries; default 10000).
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long an answer is kept (default 10m).
	CacheTTL lookup.Duration `yaml:"cache_ttl"`
}

// Fields the enricher writes that ECS has no place for.
const (
	FieldDepartment = "vigil.user.department"
	FieldPrivileged = "vigil.user.privileged"
)

// User is one directory entry.
type User struct {
	Name       string
	FullName   string
	Email      string
	Department string
	Privileged bool
	Groups     []string
	Roles      []string
	groups     []any
	roles      []any
	rolesValue any // roles boxed once, as events store it
	view       map[string]any
}

// Map is the user as the user_info() rule function returns it:
// privileged (bool), department, full_name, email (strings) and groups (a
// list). It is shared: do not modify it.
func (u *User) Map() map[string]any {
	if u == nil {
		return emptyView
	}
	return u.view
}

var emptyView = map[string]any{}

type directory struct {
	byName map[string]*User
	count  int
}

// Enricher looks users up in the directory.
type Enricher struct {
	cfg     Config
	data    *lookup.Reloadable[directory]
	cache   *lookup.Cache[string, *User]
	lookups atomic.Uint64
}

// New reads the directory; a file that cannot be read or holds a bad
// value is an error naming file and line.
func New(cfg Config) (*Enricher, error) {
	if len(cfg.Files) == 0 {
		return nil, errors.New("identity: no files")
	}
	e := &Enricher{cfg: cfg, cache: lookup.NewCache[string, *User](cfg.CacheSize, cfg.CacheTTL.Or(10*time.Minute))}
	var err error
	if e.data, err = lookup.NewReloadable("identity", cfg.Files, load); err != nil {
		return nil, err
	}
	return e, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func load(files []string) (*directory, error) {
	d := &directory{byName: map[string]*User{}}
	for _, f := range files {
		recs, err := lookup.ReadRecords(f)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		for _, r := range recs {
			priv, err := r.Bool("privileged", "admin")
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			u := &User{
				Name:       strings.ToLower(r.Text("name", "user", "username", "user.name", "samaccountname")),
				FullName:   r.Text("full_name", "fullname", "display_name"),
				Email:      r.Text("email", "mail"),
				Department: r.Text("department"),
				Privileged: priv,
				Groups:     r.List("groups", "group"),
				Roles:      r.List("roles", "role"),
			}
			if u.Name == "" {
				return nil, fmt.Errorf("identity: %s: a user needs a name", r.Where)
			}
			u.groups, u.roles = toAny(u.Groups), toAny(u.Roles)
			u.rolesValue = u.roles
			u.view = map[string]any{
				"privileged": u.Privileged, "department": u.Department, "full_name": u.FullName,
				"email": u.Email, "groups": u.groups,
			}
			d.byName[u.Name] = u
			if u.Email != "" {
				if _, taken := d.byName[strings.ToLower(u.Email)]; !taken {
					d.byName[strings.ToLower(u.Email)] = u
				}
			}
			d.count++
		}
	}
	return d, nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "identity" }

// Reload reads the files again when one changed on disk and says whether
// it did. When a file is bad the previous directory stays in use.
func (e *Enricher) Reload() (bool, error) {
	changed, err := e.data.Reload()
	if changed {
		e.cache.Purge()
	}
	return changed, err
}

// User returns the directory entry of a user name, or nil. The name is
// compared without case, and DOMAIN\name or name@domain match name when
// the directory has no entry for the whole.
func (e *Enricher) User(name string) *User {
	if name == "" {
		return nil
	}
	e.lookups.Add(1)
	if u, ok := e.cache.Get(name); ok {
		return u
	}
	d := e.data.Load()
	n := strings.ToLower(name)
	u := d.byName[n]
	if u == nil {
		if i := strings.LastIndexByte(n, '\\'); i >= 0 {
			u = d.byName[n[i+1:]]
		} else if local, _, ok := strings.Cut(n, "@"); ok {
			u = d.byName[local]
		}
	}
	e.cache.Add(name, u)
	return u
}

// Enrich writes the directory details of user.name.
func (e *Enricher) Enrich(_ context.Context, ev event.Event) error {
	u := e.User(ev.String("user.name"))
	u.Fields(func(field string, v any, ifAbsent bool) {
		if ifAbsent {
			if _, has := ev[field]; has {
				return
			}
		}
		ev[field] = v
	})
	return nil
}

// Fields calls fn with each field Enrich writes for this user, by its full
// name; ifAbsent says Enrich writes it only when the event lacks it (the
// ECS user.* fields a log may carry itself). Values are shared and must
// not be modified.
func (u *User) Fields(fn func(field string, value any, ifAbsent bool)) {
	if u == nil {
		return
	}
	// The view's values are boxed once; storing the strings themselves
	// would allocate on every event.
	if u.FullName != "" {
		fn("user.full_name", u.view["full_name"], true)
	}
	if u.Email != "" {
		fn("user.email", u.view["email"], true)
	}
	if len(u.roles) > 0 {
		fn("user.roles", u.rolesValue, true)
	}
	if len(u.groups) > 0 {
		fn("user.group.name", u.view["groups"], true)
	}
	if u.Department != "" {
		fn(FieldDepartment, u.view["department"], false)
	}
	fn(FieldPrivileged, u.Privileged, false)
}

// Stats returns the enricher's counters; Entries is the number of users.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{
		Lookups: e.lookups.Load(),
		Entries: e.data.Load().count,
	}
	e.data.AddTo(&st)
	e.cache.AddTo(&st)
	return st
}

// Close releases nothing; it is here so every enricher closes alike.
func (e *Enricher) Close() error { return nil }
