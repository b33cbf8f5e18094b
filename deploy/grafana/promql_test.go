package grafana_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The Prometheus panels may use metrics that Footfall does not register
// only when they are listed here, and their panel says so.
var (
	// external metrics come from exporters beside Footfall; labels as they export them.
	external = map[string]struct {
		exporter string
		labels   []string
	}{
		"kafka_consumergroup_lag": {"kafka_exporter", []string{"consumergroup", "topic", "partition"}},
	}
	// pending metrics are planned in an issue and not registered yet.
	pending = map[string]string{}
	// targetLabels are added by Prometheus when it scrapes.
	targetLabels = []string{"job", "instance"}
)

// promUse is what a PromQL expression refers to.
type promUse struct {
	metrics  map[string][]string // metric name → the labels its matchers name
	grouping []string            // labels of by, without, on, ignoring, group_left, group_right
	made     []string            // labels label_replace and label_join create
	vars     []string            // Grafana variables, without the $
}

type promToken struct {
	kind byte // 'i' identifier, 's' string, 'r' [range], 'v' $variable, 'p' anything else
	text string
}

var (
	promLex = regexp.MustCompile(`\s+|[A-Za-z_:][A-Za-z0-9_:]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\$\{?\w+\}?|[0-9.]+[A-Za-z]*|=~|!~|!=|==|>=|<=|[-+*/%^(){},=<>]`)
	varRef  = regexp.MustCompile(`\$\{?(\w+)`)
	// groupingWords take a label list in parentheses.
	groupingWords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	// operatorWords are PromQL's keywords that are not metric names.
	operatorWords = []string{"and", "or", "unless", "bool", "offset"}
)

// parsePromQL reads the metric names, labels and Grafana variables of a
// PromQL expression. It is a reader for checking names, not a parser: it
// trusts the expression's syntax and knows the few constructs that hold
// label names rather than metric names.
func parsePromQL(expr string) (promUse, error) {
	var toks []promToken
	for i := 0; i < len(expr); {
		loc := promLex.FindStringIndex(expr[i:])
		if loc == nil || loc[0] != 0 {
			return promUse{}, fmt.Errorf("cannot read %q", expr[i:])
		}
		text := expr[i : i+loc[1]]
		i += loc[1]
		switch c := text[0]; {
		case strings.TrimSpace(text) == "":
			continue
		case c == '"' || c == '\'':
			toks = append(toks, promToken{'s', text[1 : len(text)-1]})
		case c == '[':
			toks = append(toks, promToken{'r', text})
		case c == '$':
			toks = append(toks, promToken{'v', text})
		case c == '_' || c == ':' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			toks = append(toks, promToken{'i', text})
		default:
			toks = append(toks, promToken{'p', text})
		}
	}
	u := promUse{metrics: map[string][]string{}}
	next := func(i int) promToken {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return promToken{}
	}
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		switch {
		case tk.kind == 'v' || tk.kind == 'r':
			for _, m := range varRef.FindAllStringSubmatch(tk.text, -1) {
				u.vars = append(u.vars, m[1])
			}
		case tk.kind == 'p' && tk.text == "{":
			return promUse{}, fmt.Errorf("a selector without a metric name")
		case tk.kind != 'i' || slices.Contains(operatorWords, tk.text):
		case slices.Contains(groupingWords, tk.text):
			if next(i).text != "(" {
				continue
			}
			for i += 2; i < len(toks) && toks[i].text != ")"; i++ {
				if toks[i].kind == 'i' {
					u.grouping = append(u.grouping, toks[i].text)
				}
			}
		case next(i).text == "(" || slices.Contains(groupingWords, next(i).text):
			// A function or an aggregation. label_replace(v, dst, …) and
			// label_join(v, dst, …) create dst: the string after the first
			// comma at their own depth.
			if tk.text != "label_replace" && tk.text != "label_join" {
				continue
			}
			depth := 0
			for j := i + 1; j < len(toks); j++ {
				switch toks[j].text {
				case "(":
					depth++
				case ")":
					depth--
				}
				if depth == 1 && toks[j].text == "," && j+1 < len(toks) && toks[j+1].kind == 's' {
					u.made = append(u.made, toks[j+1].text)
					break
				}
				if depth == 0 {
					break
				}
			}
		default: // a metric name, perhaps with matchers
			var labels []string
			if next(i).text == "{" {
				for i += 2; i < len(toks) && toks[i].text != "}"; i++ {
					if toks[i].kind == 'i' {
						labels = append(labels, toks[i].text)
					}
				}
			}
			u.metrics[tk.text] = append(u.metrics[tk.text], labels...)
		}
	}
	return u, nil
}

func TestParsePromQL(t *testing.T) {
	for _, c := range []struct {
		expr string
		want promUse
	}{
		{`sum by (type) (rate(a_total[$__rate_interval]))`,
			promUse{metrics: map[string][]string{"a_total": nil}, grouping: []string{"type"}, vars: []string{"__rate_interval"}}},
		{`histogram_quantile(0.95, sum by (group, le) (rate(b_bucket{group=~"x.*", topic!="y"}[5m])))`,
			promUse{metrics: map[string][]string{"b_bucket": {"group", "topic"}}, grouping: []string{"group", "le"}}},
		{`sum(a) - on (type) group_right sum by (g, type) (label_replace(rate(c[${__interval}]), "type", "$1", "topic", ".*[.]([^.]+)"))`,
			promUse{metrics: map[string][]string{"a": nil, "c": nil}, grouping: []string{"type", "g", "type"}, made: []string{"type"}, vars: []string{"__interval"}}},
		{`x > bool 0 and on () y offset 1h`,
			promUse{metrics: map[string][]string{"x": nil, "y": nil}}},
	} {
		got, err := parsePromQL(c.expr)
		if err != nil {
			t.Errorf("parsePromQL(%q): %v", c.expr, err)
			continue
		}
		sort.Strings(got.grouping)
		sort.Strings(c.want.grouping)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parsePromQL(%q)\n got %+v\nwant %+v", c.expr, got, c.want)
		}
	}
	if _, err := parsePromQL(`{__name__="x"}`); err == nil {
		t.Error("a selector without a metric name: want an error")
	}
}

var legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

func TestPrometheusPanelsUseRegisteredMetrics(t *testing.T) {
	decls := registeredMetrics(t)
	// The scan itself: a metric known to exist, with its constant label.
	if m, ok := decls["footfall_consumer_write_seconds"]; !ok || m.kind != "Histogram" || !m.labels["group"] {
		t.Fatalf("source scan: footfall_consumer_write_seconds = %+v, %v; want a histogram with label group", m, ok)
	}
	var names []string
	for n := range decls {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d metrics declared in the Go code: %s", len(names), strings.Join(names, " "))
	for name, issue := range pending {
		if _, ok := series(decls, name); ok {
			t.Errorf("%s is registered now: drop it from pending (%s) and the note from its panel", name, issue)
		}
	}

	d := loadDashboard(t)
	used := 0
	for _, p := range allPanels(d) {
		if p.Datasource == nil || p.Datasource.Type != prometheusType {
			continue
		}
		for _, tg := range p.Targets {
			what := p.Title + " " + tg.RefID
			u, err := parsePromQL(tg.Expr)
			if err != nil {
				t.Errorf("%s: %v in %s", what, err, tg.Expr)
				continue
			}
			for _, v := range u.vars {
				if v != "__rate_interval" && v != "__interval" && v != "__range" {
					t.Errorf("%s: $%s is not one of Grafana's interval variables", what, v)
				}
			}
			available := with(with(nil, targetLabels...), u.made...)
			checked := true // whether every metric's labels are known
			for name, matchers := range u.metrics {
				used++
				var labels map[string]bool
				known := true
				if m, ok := series(decls, name); ok {
					labels, known = m.labels, m.known
				} else if ext, ok := external[name]; ok {
					labels = with(nil, ext.labels...)
					if !strings.Contains(p.Description, ext.exporter) {
						t.Errorf("%s: uses %s; the panel description must name %s", what, name, ext.exporter)
					}
				} else if issue, ok := pending[name]; ok {
					known = false
					if !strings.Contains(p.Description, issue) {
						t.Errorf("%s: uses %s, not registered yet; the panel description must point to %s", what, name, issue)
					}
				} else {
					t.Errorf("%s: %s is not a metric the Go code registers", what, name)
					checked = false
					continue
				}
				if !known {
					checked = false
					continue
				}
				for l := range labels {
					available[l] = true
				}
				for _, l := range matchers {
					if !labels[l] && !slices.Contains(targetLabels, l) && l != "__name__" {
						t.Errorf("%s: %s has no label %q", what, name, l)
					}
				}
			}
			if !checked {
				continue
			}
			for _, l := range u.grouping {
				if !available[l] {
					t.Errorf("%s: groups by %q, which none of its metrics has", what, l)
				}
			}
			for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				if !available[m[1]] {
					t.Errorf("%s: legend shows {{%s}}, which none of its metrics has", what, m[1])
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no Prometheus metric found in the dashboard")
	}
}
