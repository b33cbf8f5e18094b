package dashboard

import (
	"slices"
	"strings"
	"time"
)

// Every time is UTC: a site's day starts at 00:00 UTC.

// period is the span of days a report covers, first to last inclusive,
// each a UTC midnight.
type period struct {
	name        string
	first, last time.Time
}

// from and to bound the period's times: from <= t < to.
func (p period) from() time.Time { return p.first }
func (p period) to() time.Time   { return p.last.AddDate(0, 0, 1) }

// days is the number of days the period spans.
func (p period) days() int { return int(p.to().Sub(p.first).Hours()/24 + 0.5) }

// periods are the values of the period parameter.
var periods = []string{"day", "7d", "30d", "month", "6mo", "12mo", "custom"}

// parsePeriod reads the period and date parameters as Plausible does: the
// period is relative to date (default today) and custom takes
// date=FIRST,LAST. An absent period is 30d.
func parsePeriod(name, date string, today time.Time) (period, error) {
	if name == "" {
		name = "30d"
	}
	if !slices.Contains(periods, name) {
		return period{}, badRequest("Error parsing `period` parameter: invalid period `%s`. Please find accepted values in %s#time-periods", name, docsPage)
	}
	if name == "custom" {
		return parseCustom(date)
	}
	d := today
	if date != "" && date != "today" {
		var err error
		if d, err = parseDate(date); err != nil {
			return period{}, badRequest("Error parsing `date` parameter: %s. Please specify a valid date in ISO-8601 format.", err)
		}
	}
	p := period{name: name, first: d, last: d}
	switch name {
	case "7d":
		p.first = d.AddDate(0, 0, -6)
	case "30d":
		p.first = d.AddDate(0, 0, -29)
	case "month":
		p.first, p.last = monthOf(d), monthOf(d).AddDate(0, 1, -1)
	case "6mo":
		p.first, p.last = monthOf(d).AddDate(0, -5, 0), monthOf(d).AddDate(0, 1, -1)
	case "12mo":
		p.first, p.last = monthOf(d).AddDate(0, -11, 0), monthOf(d).AddDate(0, 1, -1)
	}
	return p, nil
}

func parseCustom(date string) (period, error) {
	if date == "" {
		return period{}, badRequest("The `date` parameter is required when using a custom period. See %s#time-periods", docsPage)
	}
	a, b, ok := strings.Cut(date, ",")
	first, err1 := parseDate(strings.TrimSpace(a))
	last, err2 := parseDate(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return period{}, badRequest("Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted dates joined by a comma. See %s#time-periods", docsPage)
	}
	if last.Before(first) {
		return period{}, badRequest("Invalid `date` parameter: the custom period ends (%s) before it starts (%s).", b, a)
	}
	return period{name: "custom", first: first, last: last}, nil
}

// errDateFormat and errDate are Elixir's Date.from_iso8601 reasons, which
// Plausible's messages quote.
type dateError string

func (e dateError) Error() string { return string(e) }

const (
	errDateFormat dateError = "invalid_format"
	errDate       dateError = "invalid_date"
)

func parseDate(s string) (time.Time, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' {
		return time.Time{}, errDateFormat
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errDate
	}
	return t, nil
}

func monthOf(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC) }

// dayOf is the UTC midnight that starts t's day.
func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// previous is the period compare=previous_period sets against p: as many
// days, ending the day before p starts. As in Plausible, a period that
// runs past today is compared up to today only: this month so far with
// as many days before it.
func (p period) previous(today time.Time) period {
	last := p.last
	if today.Before(last) && !today.Before(p.first) {
		last = today
	}
	n := int(last.Sub(p.first).Hours()/24+0.5) + 1
	return period{name: p.name, first: p.first.AddDate(0, 0, -n), last: last.AddDate(0, 0, -n)}
}
