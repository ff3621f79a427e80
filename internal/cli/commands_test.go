package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestCLITokenOwnerAndExpiry: `token create` still prints the token alone on the last line; the
// token belongs to the service account "service:<name>" (disabling it kills the token) and
// --expires takes a duration or a last day; a bad expiry creates nothing.
func TestCLITokenOwnerAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	getenv := env(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"})
	create := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"token", "create"}, args...), strings.NewReader(""), &out, getenv)
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		return lines[len(lines)-1], err
	}
	if err := run(ctx, []string{"migrate"}, strings.NewReader(""), &bytes.Buffer{}, getenv); err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := auth.NewService(store, auth.Config{}, nil)

	tok, err := create("--name", "feed", "--role", "staff", "--expires", "720h")
	if err != nil {
		t.Fatalf("token create --expires 720h: %v", err)
	}
	p, err := svc.AuthenticateToken(ctx, tok)
	if err != nil {
		t.Fatalf("the last stdout line %q is not a working token: %v", tok, err)
	}
	if left := time.Until(p.TokenExpiry); left < 719*time.Hour || left > 720*time.Hour {
		t.Fatalf("token expires in %v, want 720h", left)
	}
	owner, err := store.FindUserByID(ctx, p.OwnerID)
	if err != nil || owner.Email != "service:feed" || !owner.Service || owner.Role != model.RoleStaff {
		t.Fatalf("owner = %+v, %v; want the staff service account service:feed", owner, err)
	}
	day := time.Now().UTC().AddDate(0, 0, 10).Format("2006-01-02")
	dated, err := create("--name", "feed", "--role", "marketer", "--expires", day)
	if err != nil {
		t.Fatalf("token create --expires %s: %v", day, err)
	}
	pd, err := svc.AuthenticateToken(ctx, dated)
	if err != nil || pd.OwnerID != p.OwnerID {
		t.Fatalf("dated token = %+v, %v; want the same service account", pd, err)
	}
	if _, err := create("--name", "feed", "--role", "marketer", "--expires", "soon"); err == nil || !strings.Contains(err.Error(), "expiry") {
		t.Fatalf("bad --expires: err = %v", err)
	}

	yes := true
	if _, err := store.UpdateUser(ctx, p.OwnerID, db.UserChange{Disabled: &yes}, model.AuditEntry{Actor: "test", Action: model.AuditUserDisable}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, dated} {
		if _, err := svc.AuthenticateToken(ctx, tk); model.ErrorCode(err) != model.EUNAUTHORIZED {
			t.Fatalf("token of a disabled service account: err = %v, want EUNAUTHORIZED", err)
		}
	}
	if _, err := create("--name", "feed", "--role", "staff"); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("token for a disabled service account: err = %v", err)
	}
	tokens, err := store.FindTokens(ctx)
	if err != nil || len(tokens) != 2 {
		t.Fatalf("%d tokens (%v), want 2: refused creations store nothing", len(tokens), err)
	}
}
