package grafana_test

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// queryContext is what Grafana and the ClickHouse plugin know when they
// turn a panel's rawSql into the SQL ClickHouse receives.
type queryContext struct {
	from, to time.Time
	interval time.Duration     // the panel's $__interval
	vars     map[string]string // the dashboard's variables, one value each
}

// expand does to rawSql what Grafana and grafana-clickhouse-datasource do,
// in their order, for the syntax this dashboard uses:
//
//  1. the frontend (CHDatasource.applyTemplateVariables) replaces the
//     dashboard's variables through Grafana's template service: $site,
//     ${site}, [[site]] raw, ${site:sqlstring} quoted and escaped;
//  2. the backend (pkg/macros) expands the plugin's macros.
//
// Unlike Grafana, which leaves what it does not know in the SQL for
// ClickHouse to stumble on, expand fails on an unknown variable, format or
// macro, and on any $ left over.
func expand(rawSQL string, q queryContext) (string, error) {
	var errs []error
	sql := grafanaVariable.ReplaceAllStringFunc(rawSQL, func(m string) string {
		s := grafanaVariable.FindStringSubmatch(m)
		name, format := s[1]+s[2]+s[4], s[3]+s[6]
		if strings.HasPrefix(name, "__") {
			return m // a macro, or one of Grafana's globals: step 2
		}
		v, ok := q.vars[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no dashboard variable %q", m, name))
			return m
		}
		switch format {
		case "", "raw":
			return v
		case "sqlstring":
			// Grafana's sqlStringFormatter: ' doubled, " escaped, quoted.
			return "'" + strings.NewReplacer(`'`, `''`, `"`, `\"`).Replace(v) + "'"
		}
		errs = append(errs, fmt.Errorf("%s: format %q not implemented here", m, format))
		return m
	})
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	sql, err := expandMacros(sql, q)
	if err != nil {
		return "", err
	}
	if i := strings.IndexByte(sql, '$'); i >= 0 {
		return "", fmt.Errorf("left unexpanded at %q", sql[i:min(len(sql), i+30)])
	}
	return sql, nil
}

// grafanaVariable is the pattern of Grafana's template service
// (variableRegex): $name, [[name:format]], ${name.field:format}.
var grafanaVariable = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}`)

// macros are the plugin's (pkg/macros/macros.go, the same from v4.0 to
// v4.2x) that this dashboard uses, and the two a new panel would reach for
// first. Time arguments become
// toDateTime(<unix seconds>); intervals are whole seconds, at least one.
var macros = map[string]func(q queryContext, args []string) (string, error){
	"fromTime": func(q queryContext, _ []string) (string, error) { return dateTime(q.from), nil },
	"toTime":   func(q queryContext, _ []string) (string, error) { return dateTime(q.to), nil },
	"timeFilter": oneArg(func(q queryContext, col string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", col, dateTime(q.from), col, dateTime(q.to))
	}),
	// toStartOfInterval, which ClickHouse 18.16 lacks: the dashboard uses
	// $__interval_s instead.
	"timeInterval": oneArg(func(q queryContext, col string) string {
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", col, intervalSeconds(q))
	}),
	"interval_s": func(q queryContext, _ []string) (string, error) { return fmt.Sprint(intervalSeconds(q)), nil },
}

func dateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }

func intervalSeconds(q queryContext) int { return int(math.Max(q.interval.Seconds(), 1)) }

func oneArg(f func(q queryContext, col string) string) func(queryContext, []string) (string, error) {
	return func(q queryContext, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("want 1 argument, have %d", len(args))
		}
		return f(q, args[0]), nil
	}
}

var macroName = regexp.MustCompile(`\$__(\w+)`)

// expandMacros replaces each $__name or $__name(args) in sql. Arguments
// are split on the commas outside parentheses and trimmed.
func expandMacros(sql string, q queryContext) (string, error) {
	var out strings.Builder
	for {
		loc := macroName.FindStringSubmatchIndex(sql)
		if loc == nil {
			out.WriteString(sql)
			return out.String(), nil
		}
		name, end := sql[loc[2]:loc[3]], loc[1]
		f, ok := macros[name]
		if !ok {
			return "", fmt.Errorf("$__%s: not a macro of the ClickHouse plugin implemented here", name)
		}
		var args []string
		if end < len(sql) && sql[end] == '(' {
			depth, start := 0, end+1
			for i := end; i < len(sql); i++ {
				switch sql[i] {
				case '(':
					depth++
				case ')':
					depth--
				case ',':
					if depth == 1 {
						args, start = append(args, strings.TrimSpace(sql[start:i])), i+1
					}
				}
				if depth == 0 {
					args, end = append(args, strings.TrimSpace(sql[start:i])), i+1
					break
				}
			}
			if depth != 0 {
				return "", fmt.Errorf("$__%s: unclosed argument list", name)
			}
		}
		s, err := f(q, args)
		if err != nil {
			return "", fmt.Errorf("$__%s: %w", name, err)
		}
		out.WriteString(sql[:loc[0]])
		out.WriteString(s)
		sql = sql[end:]
	}
}

func TestExpand(t *testing.T) {
	q := queryContext{
		from: time.Unix(1700000000, 0), to: time.Unix(1700086400, 0), interval: time.Hour,
		vars: map[string]string{"site": `o'brien "shop"`, "plain": "demo"},
	}
	for _, c := range []struct{ in, want, err string }{
		{in: "hour >= toStartOfHour($__fromTime) AND hour <= $__toTime",
			want: "hour >= toStartOfHour(toDateTime(1700000000)) AND hour <= toDateTime(1700086400)"},
		{in: "WHERE $__timeFilter(hour)", want: "WHERE hour >= toDateTime(1700000000) AND hour <= toDateTime(1700086400)"},
		{in: "intDiv(toUInt32(hour), $__interval_s) * $__interval_s", want: "intDiv(toUInt32(hour), 3600) * 3600"},
		{in: "$__timeInterval(toDateTime(t, 'UTC'))", want: "toStartOfInterval(toDateTime(toDateTime(t, 'UTC')), INTERVAL 3600 second)"},
		{in: "site_id = ${site:sqlstring}", want: `site_id = 'o''brien \"shop\"'`},
		{in: "x = '$plain' OR x = '${plain}' OR x = '[[plain]]'", want: "x = 'demo' OR x = 'demo' OR x = 'demo'"},
		{in: "$nosuch", err: `no dashboard variable "nosuch"`},
		{in: "${site:csv}", err: `format "csv" not implemented`},
		{in: "$__timeFilter(a, b)", err: "want 1 argument, have 2"},
		{in: "$__timeFilter(a", err: "unclosed"},
		{in: "$__unixEpochFilter(t)", err: "not a macro"},
		{in: "SELECT '$ 5'", err: "left unexpanded"},
	} {
		got, err := expand(c.in, q)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("expand(%q) = %q, %v; want error containing %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
