package chaos

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// C1 (app clock skewed): business times come from the database clock, never the app's. Two
// checks: (1) the store never reads the Go clock (so no app time can reach an INSERT/UPDATE) and
// the cache only sets relative TTLs; (2) a distribution run through the real binary, with a
// failure and a manual retry, leaves every timestamp column of the business tables between two
// readings of the database clock taken before and after.
func TestChaosC1BusinessTimesFromDBClock(t *testing.T) {
	t.Parallel()
	// (1) static: the db package never calls time.Now/Since/Until; the cache never sets an
	// absolute expiry.
	fset := token.NewFileSet()
	for _, pkg := range []string{"../../db", "../../internal/cache"} {
		files, _ := filepath.Glob(filepath.Join(pkg, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				name := sel.Sel.Name
				if pkg == "../../db" && x != nil && x.Name == "time" && (name == "Now" || name == "Since" || name == "Until") {
					t.Errorf("%s: the store reads the app clock (time.%s); business times must come from the database's now()", fset.Position(sel.Pos()), name)
				}
				if name == "ExpireAt" || name == "PExpireAt" {
					t.Errorf("%s: an absolute Redis expiry depends on the app clock; use relative TTLs", fset.Position(sel.Pos()))
				}
				return true
			})
		}
	}

	// (2) dynamic, through the real binary.
	env, _ := newEnv(t, map[string]string{"SIMULATOR_FAIL": "KAKAO=1", "MAX_ATTEMPTS": "1"})
	a := startApp(t, env)
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	dbNow := func() time.Time {
		var ts time.Time
		if err := pg.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	before := dbNow()
	a.createEvent("c1")
	a.must(http.MethodPost, "/api/v1/events/c1/distribution", `{"channels":["NAVER","KAKAO"]}`, http.StatusAccepted)
	a.waitOverall("c1", "PARTIAL_SUCCESS", 30*time.Second)
	a.must(http.MethodPost, "/api/v1/events/c1/distribution/channels/KAKAO/retry", "", http.StatusAccepted)
	a.waitOverall("c1", "COMPLETED", 30*time.Second)
	after := dbNow()

	rows, err := pg.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'
		AND table_name IN ('events','distribution_status','channel_status','channel_attempts') ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var c [2]string
		return c, r.Scan(&c[0], &c[1])
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range cols {
		var lo, hi *time.Time
		var n int
		q := fmt.Sprintf("SELECT min(%[2]s), max(%[2]s), count(%[2]s) FROM %[1]s", pgx.Identifier{c[0]}.Sanitize(), pgx.Identifier{c[1]}.Sanitize())
		if err := pg.QueryRow(ctx, q).Scan(&lo, &hi, &n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		checked += n
		if lo.Before(before) || hi.After(after) {
			t.Errorf("%s.%s spans %s..%s, outside the database clock's %s..%s", c[0], c[1], lo, hi, before, after)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d timestamps checked", checked)
	}
	record(t, "C1", "business times from the DB clock; TTLs relative",
		fmt.Sprintf("%d timestamps in %d columns within DB now() bounds; no app clock in db/, no absolute TTL in cache/", checked, len(cols)))
}
