package deploy_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The metric names the alert rules and the dashboard may use that the service does not export
// itself, each with who does.
var externalMetrics = map[string]string{
	"up": "Prometheus, per scrape target",
	"kube_deployment_status_replicas_available": "kube-state-metrics",
	"kube_deployment_spec_replicas":             "kube-state-metrics",
}

// runtimeMetrics are the client_golang Go and process collector series the dashboard uses; they
// count as exported when the service registers those collectors (collectors.NewGoCollector,
// collectors.NewProcessCollector).
var runtimeMetrics = map[string]string{
	"go_goroutines":                 "NewGoCollector",
	"process_resident_memory_bytes": "NewProcessCollector",
}

var (
	serviceMetricsOnce sync.Once
	serviceMetricsSet  map[string]string // name -> file:line it was derived from
	serviceMetricsErr  error
)

// serviceMetrics derives, from the service's Go source (the module above deploy/, tests left out)
// and without running anything, the metric names it exports:
//   - the Name of every prometheus.{Counter,Gauge,Histogram,Summary}Opts literal, and the first
//     argument of every prometheus.NewDesc call;
//   - where that name is not a literal, it is evaluated through the calls that supply it: a
//     parameter of a func literal bound to a variable (live's counter(name, ...)) or of a
//     function (app's newPoolDescs(prefix) with d(name) inside), joined with +. A name that
//     cannot be evaluated so fails the derivation, so a new way of naming metrics cannot slip by;
//   - histograms add their _bucket, _sum and _count series;
//   - runtimeMetrics, when the Go and process collectors are registered.
func serviceMetrics(t *testing.T) map[string]string {
	t.Helper()
	serviceMetricsOnce.Do(func() { serviceMetricsSet, serviceMetricsErr = deriveMetrics(filepath.Join("..")) })
	if serviceMetricsErr != nil {
		t.Fatalf("derive the service's metrics from its source: %v", serviceMetricsErr)
	}
	return serviceMetricsSet
}

type goFile struct {
	path string
	f    *ast.File
}

type callSite struct {
	call  *ast.CallExpr
	stack []ast.Node
	file  *goFile
}

func deriveMetrics(root string) (map[string]string, error) {
	fset := token.NewFileSet()
	pkgs := map[string][]*goFile{} // dir -> files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "deploy", "node_modules", ".local", ".git", "testdata":
				if path != root {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "_templ.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		pkgs[dir] = append(pkgs[dir], &goFile{path: path, f: f})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var collectors []string
	for _, files := range pkgs {
		// Every call in the package with the nodes above it, for evaluating parameters.
		var calls []callSite
		for _, gf := range files {
			ast.PreorderStack(gf.f, nil, func(n ast.Node, stack []ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					calls = append(calls, callSite{call: c, stack: slices.Clone(stack), file: gf})
				}
				return true
			})
		}
		ev := &evaluator{fset: fset, calls: calls}
		for _, gf := range files {
			prom := importName(gf.f, "github.com/prometheus/client_golang/prometheus")
			coll := importName(gf.f, "github.com/prometheus/client_golang/prometheus/collectors")
			var ferr error
			ast.PreorderStack(gf.f, nil, func(n ast.Node, stack []ast.Node) bool {
				if ferr != nil {
					return false
				}
				var name ast.Expr
				histogram := false
				switch n := n.(type) {
				case *ast.CompositeLit:
					if typ, ok := selector(n.Type, prom); ok && strings.HasSuffix(typ, "Opts") && prom != "" {
						for _, el := range n.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Name") {
								name, histogram = kv.Value, typ == "HistogramOpts" || typ == "SummaryOpts"
							}
						}
					}
				case *ast.CallExpr:
					if fn, ok := selector(n.Fun, prom); ok && prom != "" && fn == "NewDesc" && len(n.Args) > 0 {
						name = n.Args[0]
					}
					if fn, ok := selector(n.Fun, coll); ok && coll != "" {
						collectors = append(collectors, fn)
					}
				}
				if name == nil {
					return true
				}
				vals, err := ev.eval(name, append(slices.Clone(stack), n), gf, 0)
				if err != nil {
					ferr = fmt.Errorf("%s: %w", fset.Position(name.Pos()), err)
					return false
				}
				pos := fset.Position(name.Pos())
				where := fmt.Sprintf("%s:%d", filepath.ToSlash(pos.Filename), pos.Line)
				for _, v := range vals {
					out[v] = where
					if histogram {
						for _, s := range []string{"_bucket", "_sum", "_count"} {
							out[v+s] = where
						}
					}
				}
				return true
			})
			if ferr != nil {
				return nil, ferr
			}
		}
	}
	for name, collector := range runtimeMetrics {
		if slices.Contains(collectors, collector) {
			out[name] = "client_golang collectors." + collector
		}
	}
	return out, nil
}

// importName is the name file f uses for the package at path ("" = not imported).
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			if im.Name != nil {
				return im.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

// selector reports X.Sel's Sel when X is the identifier pkg.
func selector(e ast.Expr, pkg string) (string, bool) {
	s, ok := e.(*ast.SelectorExpr)
	if !ok || !isIdent(s.X, pkg) {
		return "", false
	}
	return s.Sel.Name, true
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

type evaluator struct {
	fset  *token.FileSet
	calls []callSite
}

// eval is every string value e can have: a literal, a concatenation, or a parameter of the
// function around it, evaluated at each of that function's call sites.
func (ev *evaluator) eval(e ast.Expr, stack []ast.Node, gf *goFile, depth int) ([]string, error) {
	if depth > 8 {
		return nil, fmt.Errorf("metric name nested too deep")
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			break
		}
		s, err := strconv.Unquote(e.Value)
		return []string{s}, err
	case *ast.ParenExpr:
		return ev.eval(e.X, stack, gf, depth)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			break
		}
		l, err := ev.eval(e.X, stack, gf, depth)
		if err != nil {
			return nil, err
		}
		r, err := ev.eval(e.Y, stack, gf, depth)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out, nil
	case *ast.Ident:
		return ev.param(e.Name, stack, gf, depth)
	}
	return nil, fmt.Errorf("cannot derive a metric name from %T (teach deploy/metrics_test.go)", e)
}

// param evaluates parameter name of the innermost function in stack that declares it.
func (ev *evaluator) param(name string, stack []ast.Node, gf *goFile, depth int) ([]string, error) {
	for i := len(stack) - 1; i >= 0; i-- {
		var ft *ast.FuncType
		switch fn := stack[i].(type) {
		case *ast.FuncLit:
			ft = fn.Type
		case *ast.FuncDecl:
			ft = fn.Type
		default:
			continue
		}
		idx, n := -1, 0
		for _, fld := range ft.Params.List {
			for _, id := range fld.Names {
				if id.Name == name {
					idx = n
				}
				n++
			}
		}
		if idx < 0 {
			continue
		}
		// Who calls this function: a func literal by the variable it is assigned to (calls in
		// the same function), a declared function by its name (calls in the same package).
		var callee string
		var within ast.Node
		switch fn := stack[i].(type) {
		case *ast.FuncDecl:
			if fn.Recv != nil {
				return nil, fmt.Errorf("metric name from a method parameter %q", name)
			}
			callee = fn.Name.Name
		case *ast.FuncLit:
			if i == 0 {
				return nil, fmt.Errorf("func literal without a variable")
			}
			as, ok := stack[i-1].(*ast.AssignStmt)
			var v *ast.Ident
			if ok && len(as.Lhs) == 1 {
				v, _ = as.Lhs[0].(*ast.Ident)
			}
			if v == nil {
				return nil, fmt.Errorf("metric name from a parameter %q of a func literal not assigned to one variable", name)
			}
			callee = v.Name
			for j := i - 1; j >= 0; j-- { // the enclosing function holds the calls
				if _, ok := stack[j].(*ast.FuncDecl); ok {
					within = stack[j]
					break
				}
			}
		}
		var out []string
		found := false
		for _, c := range ev.calls {
			if !isIdent(c.call.Fun, callee) || len(c.call.Args) <= idx {
				continue
			}
			if within != nil && (c.file != gf || !slices.Contains(c.stack, within)) {
				continue
			}
			found = true
			vals, err := ev.eval(c.call.Args[idx], append(slices.Clone(c.stack), c.call), c.file, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, vals...)
		}
		if !found {
			return nil, fmt.Errorf("no call of %s supplies parameter %q", callee, name)
		}
		return out, nil
	}
	return nil, fmt.Errorf("metric name from %q, which is not a parameter (teach deploy/metrics_test.go)", name)
}

// TestServiceMetricsDerived: the derivation finds the service's on-call families (one per
// source: Opts literals, NewDesc, the live hub's counter helper, the pool collectors' prefix ×
// suffix, histogram series) and nothing that merely looks like one.
func TestServiceMetricsDerived(t *testing.T) {
	got := serviceMetrics(t)
	for _, name := range []string{
		"distribution_build_info",                     // GaugeOpts with ConstLabels
		"distribution_channel_errors_total",           // CounterOpts
		"distribution_channel_publish_seconds_bucket", // HistogramOpts series
		"distribution_channel_publish_seconds_count",
		"distribution_channel_breaker_state",        // NewDesc literal
		"distribution_river_oldest_job_age_seconds", // NewDesc literal
		"distribution_live_notifications_total",     // counter(name, ...) helper
		"distribution_live_streams_open",            // GaugeFunc
		"distribution_db_pool_wait_seconds_total",   // newPoolDescs("distribution_db_pool") × d("wait_seconds_total")
		"distribution_redis_pool_in_use_connections",
		"distribution_http_requests_total",
		"go_goroutines", // collectors.NewGoCollector
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s not derived from the source", name)
		}
	}
	for _, name := range []string{"distribution_db_pool", "distribution_id", "distribution_status", "distribution_channel_errors"} {
		if where, ok := got[name]; ok {
			t.Errorf("%s derived (from %s), but the service exports no such metric", name, where)
		}
	}
	if testing.Verbose() {
		for _, n := range slices.Sorted(maps.Keys(got)) {
			t.Logf("%-50s %s", n, got[n])
		}
	}
}

// TestDeriveRefusesUnknownNaming: a metric named through something the derivation cannot
// evaluate fails it, instead of going unchecked.
func TestDeriveRefusesUnknownNaming(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import "github.com/prometheus/client_golang/prometheus"

var prefix = "distribution_x"

var c = prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_total"})
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := deriveMetrics(dir); err == nil || !strings.Contains(err.Error(), "not a parameter") {
		t.Fatalf("deriveMetrics = %v, want an error naming the package-level variable", err)
	}
	ok := `package x

import "github.com/prometheus/client_golang/prometheus"

func mk(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "distribution_" + name})
}

var a, b = mk("a_total"), mk("b_total")
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(ok), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := deriveMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, okA := got["distribution_a_total"]; !okA || len(got) != 2 {
		t.Fatalf("deriveMetrics = %v, want distribution_a_total and distribution_b_total", slices.Collect(maps.Keys(got)))
	}
}
