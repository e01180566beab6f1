package sshd

import (
	"time"

	"github.com/vigil-siem/vigil/event"
)

const (
	// A first timestamp more than this after the reference is last year's.
	futureSlack = 48 * time.Hour
	// A jump backwards of more than this within a stream is a new year.
	yearWrap = 183 * 24 * time.Hour
)

// monthOf returns the month of a line starting with "Jan".."Dec", or 0.
func monthOf(s string) time.Month {
	if len(s) < 3 {
		return 0
	}
	switch s[:3] {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

// bsd reads "Mmm dd hh:mm:ss" (day padded with a space or a zero, or not
// padded; optional fractional seconds) and returns the @timestamp,
// formatted when format is set, and what follows.
func (p *Parser) bsd(s string, format bool) (stamp, rest string, ok bool) {
	mon := monthOf(s)
	i := 3
	if i >= len(s) || s[i] != ' ' {
		return "", "", false
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	day, i, ok := digits(s, i, 2)
	if !ok || day < 1 || day > 31 || i >= len(s) || s[i] != ' ' {
		return "", "", false
	}
	i++
	hh, i, ok1 := digits(s, i, 2)
	if !ok1 || i >= len(s) || s[i] != ':' {
		return "", "", false
	}
	mm, i, ok2 := digits(s, i+1, 2)
	if !ok2 || i >= len(s) || s[i] != ':' {
		return "", "", false
	}
	ss, i, ok3 := digits(s, i+1, 2)
	if !ok3 || hh > 23 || mm > 59 || ss > 60 {
		return "", "", false
	}
	nsec := 0
	if i < len(s) && s[i] == '.' {
		j, scale := i+1, 100_000_000
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			nsec += int(s[j]-'0') * scale
			scale /= 10
			j++
		}
		i = j
	}
	if i < len(s) && s[i] != ' ' {
		return "", "", false
	}
	key := s[:i]
	if key == p.lastStamp {
		return p.lastText, s[i:], true
	}
	if !format && key == p.skipStamp {
		return "", s[i:], true
	}
	t := p.inferYear(mon, day, hh, mm, ss, nsec)
	return p.remember(key, t, format), s[i:], true
}

// remember records the timestamp of the line that last moved the state:
// formatted (Parse) or not (Skip).
func (p *Parser) remember(key string, t time.Time, format bool) string {
	if !format {
		p.skipStamp, p.lastStamp, p.lastText = key, "", ""
		return ""
	}
	p.skipStamp, p.lastStamp, p.lastText = "", key, event.FormatTime(t)
	return p.lastText
}

// digits reads 1 to max decimal digits at s[i:].
func digits(s string, i, max int) (n, next int, ok bool) {
	j := i
	for j < len(s) && j-i < max && s[j] >= '0' && s[j] <= '9' {
		n = n*10 + int(s[j]-'0')
		j++
	}
	return n, j, j > i
}

// inferYear places a timestamp without year: the first one of the stream
// takes the reference's year, or the year before when it would lie more
// than futureSlack after the reference; later ones keep the stream's year
// and move to the next when the clock jumps back by more than yearWrap
// (December to January).
func (p *Parser) inferYear(mon time.Month, day, hh, mm, ss, nsec int) time.Time {
	if !p.started {
		p.started = true
		p.year = p.ref.Year()
		t := time.Date(p.year, mon, day, hh, mm, ss, nsec, p.loc)
		if t.Sub(p.ref) > futureSlack {
			p.year--
			t = time.Date(p.year, mon, day, hh, mm, ss, nsec, p.loc)
		}
		p.last = t
		return t
	}
	t := time.Date(p.year, mon, day, hh, mm, ss, nsec, p.loc)
	if p.last.Sub(t) > yearWrap {
		p.year++
		t = time.Date(p.year, mon, day, hh, mm, ss, nsec, p.loc)
	}
	p.last = t
	return t
}

// rfc3339 reads a leading RFC 3339 timestamp ("2024-03-01T10:00:00.123+01:00"),
// formatted when format is set.
func (p *Parser) rfc3339(s string, format bool) (stamp, rest string, ok bool) {
	word, _ := cutSpace(s)
	if word == p.lastStamp && word != "" {
		return p.lastText, s[len(word):], true
	}
	if !format && word == p.skipStamp && word != "" {
		return "", s[len(word):], true
	}
	t, err := time.Parse(time.RFC3339Nano, word)
	if err != nil {
		return "", "", false
	}
	// A stream may mix both forms; a later BSD line continues from here.
	p.started, p.year, p.last = true, t.In(p.loc).Year(), t
	return p.remember(word, t, format), s[len(word):], true
}
