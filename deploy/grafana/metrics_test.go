package grafana_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// metricDecl is a metric the Go code declares.
type metricDecl struct {
	kind   string          // Counter, Gauge, Histogram, Summary, or "" when only prometheus.Opts says
	labels map[string]bool // variable and constant labels
	known  bool            // whether every label could be read
	pos    string
}

// registeredMetrics reads the metric declarations of every non-test Go
// file of the module: each prometheus.{Counter,Gauge,Histogram,Summary}Opts
// literal, its constant labels, and the variable labels of the
// New…Vec call it is passed to.
//
// Why read the source rather than build the services and gather their
// registry: the services register their metrics only when built with live
// dependencies (a Kafka producer, a PostgreSQL pool, consumer groups), and
// a registry gathers a labelled vector only once a label value has been
// observed, so a fresh build would miss exactly the by-reason and by-group
// metrics the dashboard shows. The declarations hold names and label names
// whatever has happened at run time.
func registeredMetrics(t testing.TB) map[string]metricDecl {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	out := map[string]metricDecl{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		prom := importName(f, "github.com/prometheus/client_golang/prometheus")
		if prom == "" {
			return nil
		}
		for _, decl := range f.Decls {
			readDecl(t, fset, prom, decl, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readDecl(t testing.TB, fset *token.FileSet, prom string, decl ast.Decl, out map[string]metricDecl) {
	callOf := map[*ast.CompositeLit]*ast.CallExpr{} // opts literal → the New… call it is the first argument of
	ast.Inspect(decl, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok && len(c.Args) > 0 {
			if lit, ok := c.Args[0].(*ast.CompositeLit); ok {
				callOf[lit] = c
			}
		}
		return true
	})
	ast.Inspect(decl, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		kind, ok := optsKind(lit.Type, prom)
		if !ok {
			return true
		}
		pos := fset.Position(lit.Pos()).String()
		fields := map[string]ast.Expr{}
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok {
					fields[k.Name] = kv.Value
				}
			}
		}
		var parts []string
		for _, f := range []string{"Namespace", "Subsystem", "Name"} {
			if e, ok := fields[f]; ok {
				s, ok := stringLit(e)
				if !ok {
					t.Logf("%s: %s is not a string literal; metric not read", pos, f)
					return true
				}
				if s != "" {
					parts = append(parts, s)
				}
			}
		}
		m := metricDecl{kind: kind, labels: map[string]bool{}, known: true, pos: pos}
		if e, ok := fields["ConstLabels"]; ok {
			m.known = addKeys(m.labels, resolve(e, decl)) && m.known
		}
		if c := callOf[lit]; c != nil && strings.HasSuffix(callName(c), "Vec") {
			m.known = len(c.Args) > 1 && addStrings(m.labels, c.Args[1]) && m.known
		}
		name := strings.Join(parts, "_")
		if prev, dup := out[name]; dup {
			for l := range prev.labels {
				m.labels[l] = true
			}
			m.known = m.known && prev.known
		}
		out[name] = m
		return true
	})
}

func optsKind(e ast.Expr, prom string) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != prom {
		return "", false
	}
	switch sel.Sel.Name {
	case "CounterOpts", "GaugeOpts", "HistogramOpts", "SummaryOpts":
		return strings.TrimSuffix(sel.Sel.Name, "Opts"), true
	case "Opts":
		return "", true
	}
	return "", false
}

func callName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name
	case *ast.Ident:
		return f.Name
	}
	return ""
}

// resolve follows an identifier to the composite literal assigned to it in
// decl, the function that uses it.
func resolve(e ast.Expr, decl ast.Decl) ast.Expr {
	id, ok := e.(*ast.Ident)
	if !ok {
		return e
	}
	var found ast.Expr
	ast.Inspect(decl, func(n ast.Node) bool {
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, l := range s.Lhs {
				if li, ok := l.(*ast.Ident); ok && li.Name == id.Name && i < len(s.Rhs) {
					found = s.Rhs[i]
				}
			}
		case *ast.ValueSpec:
			for i, l := range s.Names {
				if l.Name == id.Name && i < len(s.Values) {
					found = s.Values[i]
				}
			}
		}
		return found == nil
	})
	return found
}

// addKeys adds the string keys of a map literal; false if it is not one.
func addKeys(to map[string]bool, e ast.Expr) bool {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return false
		}
		s, ok := stringLit(kv.Key)
		if !ok {
			return false
		}
		to[s] = true
	}
	return true
}

// addStrings adds the elements of a []string literal; false if it is not one.
func addStrings(to map[string]bool, e ast.Expr) bool {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, el := range lit.Elts {
		s, ok := stringLit(el)
		if !ok {
			return false
		}
		to[s] = true
	}
	return true
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// series returns the labels of a series name as the Go client exposes the
// declared metrics: a histogram as _bucket (with le), _sum and _count, a
// summary as itself (with quantile), _sum and _count.
func series(decls map[string]metricDecl, name string) (metricDecl, bool) {
	if m, ok := decls[name]; ok && m.kind != "Histogram" {
		if m.kind == "Summary" {
			m.labels = with(m.labels, "quantile")
		}
		return m, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if m, found := decls[base]; ok && found && (m.kind == "Histogram" || (m.kind == "Summary" && suffix != "_bucket")) {
			if suffix == "_bucket" {
				m.labels = with(m.labels, "le")
			}
			return m, true
		}
	}
	return metricDecl{}, false
}

func with(labels map[string]bool, more ...string) map[string]bool {
	out := map[string]bool{}
	for l := range labels {
		out[l] = true
	}
	for _, l := range more {
		out[l] = true
	}
	return out
}
