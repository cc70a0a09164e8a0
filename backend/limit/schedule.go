package limit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule is one line of a Schedule.
type Rule struct {
	// Days are the weekdays the rule's window starts on, indexed by
	// time.Weekday. A window that crosses midnight ("22:00-06:00")
	// belongs to the day it starts on.
	Days [7]bool
	// Start and End are minutes since midnight, End up to 24*60. Start
	// == End means all day.
	Start, End int
	// Upload and Download are bytes per second; 0 is no limit.
	Upload, Download int64
	// Text is the rule as written ("mon-fri 08:00-18:00"), for status.
	Text string
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseRule parses days and hours into a Rule with the given rates.
//
// days is a comma-separated list of day names (mon, tue, ... sun) and
// ranges of them ("mon-fri", "fri-mon" wraps); "" means every day.
// hours is "HH:MM-HH:MM" in the gateway's local time, the end excluded
// and up to "24:00"; an end before the start crosses midnight; "" means
// all day. upload and download are bytes per second, 0 for no limit.
func ParseRule(days, hours string, upload, download int64) (Rule, error) {
	r := Rule{Upload: upload, Download: download}
	if upload < 0 || download < 0 {
		return Rule{}, fmt.Errorf("limit: negative rate")
	}
	if strings.TrimSpace(days) == "" {
		for i := range r.Days {
			r.Days[i] = true
		}
	} else {
		for _, part := range strings.Split(days, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			from, to, isRange := strings.Cut(part, "-")
			a, ok := dayIndex(from)
			if !ok {
				return Rule{}, fmt.Errorf("limit: days %q: unknown day %q (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)", days, from)
			}
			b := a
			if isRange {
				if b, ok = dayIndex(to); !ok {
					return Rule{}, fmt.Errorf("limit: days %q: unknown day %q (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)", days, to)
				}
			}
			for d := a; ; d = (d + 1) % 7 {
				r.Days[d] = true
				if d == b {
					break
				}
			}
		}
	}
	if strings.TrimSpace(hours) != "" {
		from, to, ok := strings.Cut(strings.TrimSpace(hours), "-")
		var err1, err2 error
		if ok {
			r.Start, err1 = parseClock(from)
			r.End, err2 = parseClock(to)
		}
		if !ok || err1 != nil || err2 != nil || r.Start == 24*60 {
			return Rule{}, fmt.Errorf("limit: hours %q: want HH:MM-HH:MM such as 08:00-18:00 (22:00-06:00 crosses midnight)", hours)
		}
		if r.Start == r.End {
			return Rule{}, fmt.Errorf("limit: hours %q: empty window (leave hours out for all day)", hours)
		}
		if r.End == 24*60 && r.Start == 0 {
			r.End = 0
		}
	}
	r.Text = strings.TrimSpace(strings.TrimSpace(days) + " " + strings.TrimSpace(hours))
	if r.Text == "" {
		r.Text = "always"
	}
	return r, nil
}

func dayIndex(s string) (int, bool) {
	s = strings.TrimSpace(s)
	for i, n := range dayNames {
		if s == n {
			return i, true
		}
	}
	return 0, false
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// Matches reports whether t (read in its own location) is inside the rule.
func (r Rule) Matches(t time.Time) bool {
	day := int(t.Weekday())
	min := t.Hour()*60 + t.Minute()
	switch {
	case r.Start == r.End: // all day
		return r.Days[day]
	case r.Start < r.End:
		return r.Days[day] && min >= r.Start && min < r.End
	default: // crosses midnight: the evening of a listed day, or the morning after one
		return r.Days[day] && min >= r.Start || r.Days[(day+6)%7] && min < r.End
	}
}

// Schedule is a list of rules, the first match winning.
type Schedule []Rule

// Rates are the limits in force at one moment.
type Rates struct {
	// Upload and Download are bytes per second; 0 is no limit.
	Upload, Download int64
	// Rule is the Text of the rule in force, "" when none.
	Rule string
}

// At returns the rates in force at t, in t's location: the first rule
// that matches, or no limit.
func (s Schedule) At(t time.Time) Rates {
	for _, r := range s {
		if r.Matches(t) {
			return Rates{Upload: r.Upload, Download: r.Download, Rule: r.Text}
		}
	}
	return Rates{}
}
