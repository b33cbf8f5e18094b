// Package grafana_test checks the Grafana dashboard and provisioning in
// deploy/grafana without a Grafana server: the dashboard's structure and
// data sources here, its Prometheus expressions (promql_test.go) against
// the metrics the Go code declares (metrics_test.go), and every ClickHouse
// query, expanded as Grafana and the plugin expand it (macros_test.go),
// against a real ClickHouse (grafana_integration_test.go, with the
// figures of panels_test.go).
package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

const (
	dashboardFile   = "dashboards/footfall.json"
	datasourcesFile = "provisioning/datasources/footfall.yaml"
	providersFile   = "provisioning/dashboards/footfall.yaml"

	clickhouseType = "grafana-clickhouse-datasource"
	prometheusType = "prometheus"
)

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type variable struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Query      string         `json:"query"`
	Datasource *datasourceRef `json:"datasource"`
	Multi      bool           `json:"multi"`
	IncludeAll bool           `json:"includeAll"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Interval    string         `json:"interval"` // the minimum interval
	Datasource  *datasourceRef `json:"datasource"`
	GridPos     *struct{ X, Y, W, H int }
	Targets     []target `json:"targets"`
	Panels      []panel  `json:"panels"` // a collapsed row's
	FieldConfig struct {
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options any    `json:"options"`
			} `json:"matcher"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

type target struct {
	RefID        string         `json:"refId"`
	Datasource   *datasourceRef `json:"datasource"`
	EditorType   string         `json:"editorType"`
	Format       *int           `json:"format"`
	RawSQL       string         `json:"rawSql"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
}

// The ClickHouse plugin's query formats (sqlds): a time series frame or a table.
const (
	formatTimeSeries = 0
	formatTable      = 1
)

func loadDashboard(t testing.TB) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels lists the panels of d, rows and the panels of collapsed rows
// included.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// overrideFields are the fields a panel's overrides name (byName matchers).
func overrideFields(p panel) []string {
	var out []string
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID == "byName" {
			out = append(out, fmt.Sprint(o.Matcher.Options))
		}
	}
	return out
}

// yamlItems reads the list under top-level key of a provisioning file into
// one map per item, nested keys joined by dots (jsonData.host). It reads
// the subset of YAML these files use: mappings, one list, plain scalars,
// comments on lines of their own.
func yamlItems(t testing.TB, file, key string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type level struct {
		indent int
		key    string
	}
	var items []map[string]string
	var stack []level
	in := false
	for n, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 0 {
			in = trimmed == key+":"
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(trimmed, "- ") {
			items = append(items, map[string]string{})
			trimmed = strings.TrimPrefix(trimmed, "- ")
			indent += 2
			stack = stack[:0]
		}
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok || len(items) == 0 {
			t.Fatalf("%s:%d: not a key: value line under a list item: %q", file, n+1, line)
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		path := k
		if len(stack) > 0 {
			path = stack[len(stack)-1].key + "." + k
		}
		if strings.Contains(v, " #") {
			t.Fatalf("%s:%d: a comment after a value; put it on its own line", file, n+1)
		}
		if v = strings.TrimSpace(v); v == "" {
			stack = append(stack, level{indent, path})
			continue
		}
		items[len(items)-1][path] = strings.Trim(v, `'"`)
	}
	return items
}

// provisioned maps the uid of each provisioned data source to its type.
func provisioned(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ds := range yamlItems(t, datasourcesFile, "datasources") {
		out[ds["uid"]] = ds["type"]
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	sources := provisioned(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both must be set", d.UID, d.Title)
	}
	checkRef := func(what string, ref *datasourceRef) {
		t.Helper()
		switch {
		case ref == nil:
			t.Errorf("%s: no datasource", what)
		case sources[ref.UID] == "":
			t.Errorf("%s: datasource uid %q is not provisioned in %s", what, ref.UID, datasourcesFile)
		case sources[ref.UID] != ref.Type:
			t.Errorf("%s: datasource %q has type %q here, %q in %s", what, ref.UID, ref.Type, sources[ref.UID], datasourcesFile)
		}
	}
	for _, v := range d.Templating.List {
		checkRef("variable "+v.Name, v.Datasource)
		if v.Multi || v.IncludeAll {
			t.Errorf("variable %s: the panels compare site_id = ${%s:sqlstring}, one value; multi and includeAll must be off", v.Name, v.Name)
		}
	}

	ids := map[int]string{}
	var placed []panel
	for _, p := range allPanels(d) {
		what := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: id must be positive", what)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %q", what, other)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v: want w, h > 0 within the 24 columns", what, g)
		} else {
			for _, q := range placed {
				if r := q.GridPos; g.X < r.X+r.W && r.X < g.X+g.W && g.Y < r.Y+r.H && r.Y < g.Y+g.H {
					t.Errorf("%s: overlaps panel %d %q", what, q.ID, q.Title)
				}
			}
			placed = append(placed, p)
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("%s: a row holds no queries", what)
			}
			continue
		}
		if p.Title == "" || p.Description == "" {
			t.Errorf("%s: a panel needs a title and a description saying what it counts", what)
		}
		checkRef(what, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", what)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			tw := what + " target " + tg.RefID
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: refId empty or repeated", tw)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && p.Datasource != nil && *tg.Datasource != *p.Datasource {
				t.Errorf("%s: datasource %+v differs from the panel's %+v", tw, *tg.Datasource, *p.Datasource)
			}
			if p.Datasource == nil {
				continue
			}
			switch p.Datasource.Type {
			case clickhouseType:
				switch {
				case tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "":
					t.Errorf("%s: want editorType sql and rawSql", tw)
				case tg.Format == nil || (*tg.Format != formatTable && *tg.Format != formatTimeSeries):
					t.Errorf("%s: format must be %d (table) or %d (time series)", tw, formatTable, formatTimeSeries)
				case (*tg.Format == formatTimeSeries) != (p.Type == "timeseries"):
					t.Errorf("%s: time series format on a %s panel, or table format on a time series", tw, p.Type)
				}
			case prometheusType:
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: no expr", tw)
				}
			}
		}
	}
}

// envRef is a whole value that Grafana takes from its environment.
var envRef = regexp.MustCompile(`^\$\{(FOOTFALL_GRAFANA_[A-Z_]+)\}$`)

func TestProvisioning(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	sources := yamlItems(t, datasourcesFile, "datasources")
	types := map[string]bool{}
	for _, ds := range sources {
		types[ds["type"]] = true
		if ds["uid"] == "" || ds["name"] == "" {
			t.Errorf("datasource %v: needs a name and a uid (the dashboard refers to the uid)", ds)
		}
		for k, v := range ds {
			m := envRef.FindStringSubmatch(v)
			switch {
			case strings.HasPrefix(k, "secureJsonData.") && m == nil:
				t.Errorf("datasource %s: %s must come from the environment (${FOOTFALL_GRAFANA_…}), not the repository", ds["uid"], k)
			case strings.Contains(v, "$") && m == nil:
				t.Errorf("datasource %s: %s = %q: want a whole ${FOOTFALL_GRAFANA_…} reference", ds["uid"], k, v)
			case m != nil && !strings.Contains(string(readme), m[1]):
				t.Errorf("datasource %s: %s reads %s, which README.md does not document", ds["uid"], k, m[1])
			}
		}
	}
	if !types[clickhouseType] || !types[prometheusType] {
		t.Errorf("%s: want a %s and a %s data source, have %v", datasourcesFile, clickhouseType, prometheusType, types)
	}
	providers := yamlItems(t, providersFile, "providers")
	if len(providers) != 1 || providers[0]["type"] != "file" || providers[0]["options.path"] == "" {
		t.Fatalf("%s: want one file provider with options.path, have %v", providersFile, providers)
	}
	if path := providers[0]["options.path"]; !strings.Contains(string(readme), path) {
		t.Errorf("README.md does not say where to put the dashboard (%s)", path)
	}
}
