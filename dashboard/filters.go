package dashboard

import (
	"fmt"
	"regexp"
	"strings"
)

// filter is one condition of the filters parameter, in Plausible's Stats
// API v1 syntax: property==value or property!=value; value may list
// alternatives with | and use * (any characters but /) and ** (any
// characters) as wildcards. Filters join with ; (and).
type filter struct {
	prop   property
	negate bool
	values []string // as stored: "Direct / None" is "", keywords lower-cased
	// pattern is the anchored regular expression of the values when any
	// has a wildcard; "" when they are matched as they are.
	pattern string
}

// parseFilters reads the filters parameter. Plausible escapes a | inside
// a value with a backslash; Footfall also takes \; and \\ so that any
// value can be written.
func parseFilters(raw string) ([]filter, error) {
	var out []filter
	for _, part := range splitUnescaped(raw, ';') {
		if strings.TrimSpace(part) == "" {
			continue
		}
		f, err := parseFilter(part)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// parseFilter reads one property==value or property!=value.
func parseFilter(s string) (filter, error) {
	s = strings.TrimSpace(s)
	eq, ne := strings.Index(s, "=="), strings.Index(s, "!=")
	op, negate := eq, false
	if ne >= 0 && (eq < 0 || ne < eq) {
		op, negate = ne, true
	}
	if op < 0 {
		return filter{}, badRequest("Error parsing `filters` parameter: `%s` is not a filter. Write property==value or property!=value, joined by ;", unescape(s))
	}
	name, raw := strings.TrimSpace(s[:op]), strings.TrimSpace(s[op+2:])
	prop, ok := lookupProperty(name)
	if !ok {
		return filter{}, badRequest("Invalid filter property '%s'. Please provide a valid filter property: %s#properties", name, docsPage)
	}
	f := filter{prop: prop, negate: negate}
	wildcard := false
	for _, v := range splitUnescaped(raw, '|') {
		v = prop.stored(unescape(v))
		wildcard = wildcard || strings.Contains(v, "*")
		f.values = append(f.values, v)
	}
	if wildcard {
		alts := make([]string, len(f.values))
		for i, v := range f.values {
			alts[i] = wildcardRegexp(v)
		}
		f.pattern = "^(?:" + strings.Join(alts, "|") + ")$"
	}
	return f, nil
}

// wildcardRegexp turns a value with * and ** into a regular expression:
// ** matches anything, * anything but a slash (one path segment), as in
// Plausible's page filters (/blog/* is a post, /blog/** anything below).
func wildcardRegexp(v string) string {
	var b strings.Builder
	for i, seg := range strings.Split(v, "**") {
		if i > 0 {
			b.WriteString(".*")
		}
		for j, lit := range strings.Split(seg, "*") {
			if j > 0 {
				b.WriteString("[^/]*")
			}
			b.WriteString(regexp.QuoteMeta(lit))
		}
	}
	return b.String()
}

// condition is the filter as SQL over the row its property belongs to.
func (f filter) condition() (string, []any) {
	args := append([]any(nil), f.prop.arg...)
	var sql string
	if f.pattern != "" {
		sql = fmt.Sprintf("match(%s, ?)", f.prop.expr)
		args = append(args, f.pattern)
	} else {
		// has(?, x) rather than x IN (?): ClickHouse 18.16 takes no
		// array for IN.
		sql = fmt.Sprintf("has(?, %s)", f.prop.expr)
		args = append([]any{f.values}, args...)
	}
	if f.negate {
		sql = "NOT " + sql
	}
	return sql, args
}

// splitUnescaped splits s at each sep that no backslash escapes, keeping
// the escapes for unescape.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the next byte is escaped
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape drops the backslash before |, ; and \; any other backslash is
// kept as it is.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`|;\`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// split parts filters by where they apply: to events or to visits.
func split(filters []filter) (events, visits []filter) {
	for _, f := range filters {
		if f.prop.visit {
			visits = append(visits, f)
		} else {
			events = append(events, f)
		}
	}
	return events, visits
}

// hasFilterOn reports whether a filter is on the property named name.
func hasFilterOn(filters []filter, name string) bool {
	for _, f := range filters {
		if f.prop.name == name {
			return true
		}
	}
	return false
}
