package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// formatSeeds are instants around the edges of the hand-written
// FormatTime: years out of its range, zones, leap days, nanoseconds.
var formatSeeds = []time.Time{
	time.Date(2025, 12, 10, 6, 55, 46, 0, time.UTC),
	time.Date(2025, 12, 10, 6, 55, 46, 999_999_999, time.UTC),
	time.Date(2024, 2, 29, 23, 59, 59, 123_456_789, time.FixedZone("X", -7*3600)),
	time.Date(2025, 1, 1, 0, 30, 0, 1_000_000, time.FixedZone("Y", 3600+1800)),
	time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(999, 3, 4, 5, 6, 7, 8, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
	time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("Z", -3600)),
	time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
	time.Date(-12345, 6, 1, 0, 0, 0, 0, time.UTC),
	time.Unix(0, 0),
	{},
}

// TestFormatTimeMatchesTimeFormat: the hand-written formatter writes what
// time.Format writes, in range and out of it.
func TestFormatTimeMatchesTimeFormat(t *testing.T) {
	for _, tm := range formatSeeds {
		checkFormat(t, tm)
	}
}

func FuzzFormatTimeMatchesTimeFormat(f *testing.F) {
	for _, tm := range formatSeeds {
		_, off := tm.Zone()
		f.Add(tm.Unix(), int64(tm.Nanosecond()), off)
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		checkFormat(t, time.Unix(sec, nsec).In(time.FixedZone("F", offset%(48*3600))))
	})
}

func checkFormat(t *testing.T, tm time.Time) {
	t.Helper()
	if got, want := FormatTime(tm), tm.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
		t.Errorf("FormatTime(%v) = %q, time.Format writes %q", tm, got, want)
	}
}

// TestMakeIDTextMatchesMakeID: the id and text made together are MakeID's
// id and the line, and stay so when the caller reuses its buffer.
func TestMakeIDTextMatchesMakeID(t *testing.T) {
	for _, tc := range []struct {
		source string
		offset int64
		raw    string
	}{
		{"/var/log/auth.log", 0, "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"},
		{"stdin", 123456789, ""},
		{"", -1, "\x00\xff not text"},
		{"syslog:udp:127.0.0.1", 7, strings.Repeat("a long line ", 100)},
	} {
		raw := []byte(tc.raw)
		id, text := MakeIDText(tc.source, tc.offset, raw)
		want := MakeID(tc.source, tc.offset, raw)
		// The id as it has always been derived: ids must never change.
		sum := sha256.Sum256([]byte(tc.source + "\x00" + strconv.FormatInt(tc.offset, 10) + "\x00" + tc.raw))
		if want != hex.EncodeToString(sum[:16]) {
			t.Errorf("MakeID(%q, %d, %.20q) = %q, want %q", tc.source, tc.offset, tc.raw, want, hex.EncodeToString(sum[:16]))
		}
		copy(raw, bytes.Repeat([]byte{'#'}, len(raw)))
		if id != want || text != tc.raw {
			t.Errorf("MakeIDText(%q, %d, %.20q) = %q, %.20q; want %q, the line", tc.source, tc.offset, tc.raw, id, text, want)
		}
	}
}

// TestBoxesHoldTheirValues: values boxed in chunks read back as the same
// values as plainly boxed ones, past the first chunk too, and appending to
// a one-element array leaves its neighbours alone.
func TestBoxesHoldTheirValues(t *testing.T) {
	for _, n := range []int{0, 1, 5, 40} {
		var bx Boxes
		var got, want []any
		for i := range n {
			s := strings.Repeat("v", i)
			got = append(got, bx.String(s), bx.Int(int64(i*1000-7)), bx.Int(int64(i)), bx.Singleton(bx.String(s)))
			want = append(want, s, int64(i*1000-7), int64(i), []any{s})
			c, ty := bx.Singletons(bx.String("cat"+s), "type"+s)
			got = append(got, c, ty)
			want = append(want, []any{"cat" + s}, []any{"type" + s})
		}
		for i := 0; i+1 < len(got); i++ {
			if a, ok := got[i].([]any); ok {
				_ = append(a, "appended")
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d rounds: boxed %v, want %v", n, got, want)
		}
	}
	var none *Boxes
	c, ty := none.Singletons("a", "b")
	if got := []any{none.String("x"), none.Int(1 << 40), none.Singleton("y"), c, ty}; !reflect.DeepEqual(got, []any{"x", int64(1 << 40), []any{"y"}, []any{"a"}, []any{"b"}}) {
		t.Errorf("a nil Boxes boxed %v", got)
	}
}

// BenchmarkFormatTime is the @timestamp of a parsed line, written.
func BenchmarkFormatTime(b *testing.B) {
	tm := time.Date(2025, 12, 10, 6, 55, 46, 123_000_000, time.UTC)
	n := 0
	for b.Loop() {
		_ = FormatTime(tm.Add(time.Duration(n) * time.Second))
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkMakeIDText is the id and text of an sshd line.
func BenchmarkMakeIDText(b *testing.B) {
	line := []byte("Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_, _ = MakeIDText("/var/log/auth.log", int64(n)*150, line)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
