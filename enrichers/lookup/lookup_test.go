package lookup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCacheCountsAndBounds(t *testing.T) {
	c := NewCache[string, int](2, time.Hour)
	c.Add("a", 1)
	c.Add("b", 2)
	c.Add("c", 3) // evicts a
	if _, ok := c.Get("a"); ok {
		t.Error("a should have been evicted")
	}
	if v, ok := c.Get("c"); !ok || v != 3 {
		t.Errorf("c = %v, %v", v, ok)
	}
	var st Stats
	c.AddTo(&st)
	if st.CacheHits != 1 || st.CacheMisses != 1 || st.CacheSize != 2 {
		t.Errorf("stats = %+v, want 1 hit, 1 miss, size 2", st)
	}
}

func TestRecords(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "x.csv")
	if err := os.WriteFile(csvPath, []byte("# c\nName,Tags,Admin\nweb, a;b |c ,yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Text("name") != "web" || !slices.Equal(recs[0].List("tags"), []string{"a", "b", "c"}) {
		t.Fatalf("records = %+v", recs)
	}
	if ok, err := recs[0].Bool("admin"); !ok || err != nil {
		t.Errorf("admin = %v, %v", ok, err)
	}
	if recs[0].Where != csvPath+":3" {
		t.Errorf("where = %s, want line 3", recs[0].Where)
	}
}

func TestWatchedNoticesReplacement(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Watch([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if w.Check() {
		t.Error("unchanged file reported as changed")
	}
	if err := os.WriteFile(p+".new", []byte("two"), 0o600); err != nil { // same size, new inode
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	if !w.Check() {
		t.Error("replaced file not noticed")
	}
	if w.Check() {
		t.Error("a change is reported once")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if w.Check() {
		t.Error("a file being replaced (missing for a moment) must not count as a change")
	}
}

func TestReloadableKeepsTheLastGoodDataWhenTheNewFileIsBad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	replace := func(content string) {
		t.Helper()
		if err := os.WriteFile(p+".new", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	replace("one")
	load := func(files []string) (*string, error) {
		b, err := os.ReadFile(files[0])
		if err != nil {
			return nil, err
		}
		if string(b) == "bad" {
			return nil, fmt.Errorf("%s:1: bad content", files[0])
		}
		s := string(b)
		return &s, nil
	}
	r, err := NewReloadable("test", []string{p}, load)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("unchanged file: reload %v, %v", changed, err)
	}
	replace("bad")
	if changed, err := r.Reload(); changed || err == nil || !strings.Contains(err.Error(), "test reload: ") {
		t.Fatalf("bad file: reload %v, %v; want an error naming the enricher", changed, err)
	}
	if got := *r.Load(); got != "one" {
		t.Fatalf("after a bad file the data is %q, want the last good %q", got, "one")
	}
	replace("three")
	if changed, err := r.Reload(); !changed || err != nil || *r.Load() != "three" {
		t.Fatalf("good file: reload %v, %v, data %q", changed, err, *r.Load())
	}
	var st Stats
	r.AddTo(&st)
	if st.Reloads != 1 || st.ReloadErrors != 1 || !strings.Contains(st.LastReloadError, "bad content") {
		t.Fatalf("stats %+v: want 1 reload, 1 error and its text", st)
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte("name,ip,criticality\nweb-01,10.0.0.1,high\n"), true)
	f.Add([]byte("- name: dc-01\n  ip: [10.0.0.2]\n  tags: [dc]\n"), false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		p := filepath.Join(dir, "in.yaml")
		if csv {
			p = filepath.Join(dir, "in.csv")
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadRecords(p)
		for _, r := range recs {
			_ = r.List("tags")
			_, _ = r.Bool("privileged")
		}
		_ = err
	})
}
