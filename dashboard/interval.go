package dashboard

import (
	"fmt"
	"time"
)

// interval is the width of a timeseries bucket.
type interval string

const (
	hourly  interval = "hour"
	daily   interval = "day"
	monthly interval = "month"
)

// maxHourlyDays bounds an hourly timeseries: 31 days are 744 buckets.
const maxHourlyDays = 31

// parseInterval reads the interval parameter. Plausible's v1 takes date
// (its old name for day) and month, and answers a day period hourly; the
// default follows its period: hour for day, month for 6mo and 12mo, else
// day.
func parseInterval(raw string, p period) (interval, error) {
	switch raw {
	case "":
		switch p.name {
		case "day":
			return hourly, nil
		case "6mo", "12mo":
			return monthly, nil
		}
		return daily, nil
	case "date", "day":
		return daily, nil
	case "month":
		return monthly, nil
	case "hour":
		if p.days() > maxHourlyDays {
			return "", badRequest("Error parsing `interval` parameter: interval `hour` covers at most %d days, the period has %d. Use `date` or `month`.", maxHourlyDays, p.days())
		}
		return hourly, nil
	}
	return "", badRequest("Error parsing `interval` parameter: invalid interval `%s`. Valid intervals are `date`, `hour`, `month`", raw)
}

// bucketSQL is the SQL that puts column (a DateTime) in its bucket, in UTC.
func (iv interval) bucketSQL(column string) string {
	switch iv {
	case hourly:
		return fmt.Sprintf("toStartOfHour(%s, 'UTC')", column)
	case monthly:
		return fmt.Sprintf("toDateTime(toStartOfMonth(%s, 'UTC'), 'UTC')", column)
	}
	return fmt.Sprintf("toStartOfDay(%s, 'UTC')", column)
}

// start is the start of t's bucket.
func (iv interval) start(t time.Time) time.Time {
	t = t.UTC()
	switch iv {
	case hourly:
		return t.Truncate(time.Hour)
	case monthly:
		return monthOf(t)
	}
	return dayOf(t)
}

// next is the start of the bucket after the one starting at t.
func (iv interval) next(t time.Time) time.Time {
	switch iv {
	case hourly:
		return t.Add(time.Hour)
	case monthly:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// buckets lists every bucket of p in order, empty ones too.
func (iv interval) buckets(p period) []time.Time {
	var out []time.Time
	switch iv {
	case hourly:
		for t := p.from(); t.Before(p.to()); t = t.Add(time.Hour) {
			out = append(out, t)
		}
	case monthly:
		for t := monthOf(p.first); !t.After(p.last); t = t.AddDate(0, 1, 0) {
			out = append(out, t)
		}
	default:
		for t := p.first; !t.After(p.last); t = t.AddDate(0, 0, 1) {
			out = append(out, t)
		}
	}
	return out
}

// label is how a bucket is named in results, as Plausible names it: a
// date, or a date and time for hours.
func (iv interval) label(t time.Time) string {
	if iv == hourly {
		return t.UTC().Format(time.DateTime)
	}
	return t.UTC().Format(time.DateOnly)
}
