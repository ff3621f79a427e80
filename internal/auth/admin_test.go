package auth_test

import (
	"context"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestAdminRevalidateFollowsChanges(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	boss, err := svc.CreateUser(ctx, "boss@example.com", "password1", model.RoleManager, "test")
	if err != nil {
		t.Fatal(err)
	}
	ann, err := svc.CreateUser(ctx, "ann@example.com", "password1", model.RoleStaff, "test")
	if err != nil {
		t.Fatal(err)
	}
	actor := model.Principal{UserID: boss.ID, Name: boss.Email, Role: model.RoleManager}
	_, p, err := svc.Login(ctx, "ann@example.com", "password1", "192.0.2.9", "test")
	if err != nil {
		t.Fatal(err)
	}

	// A role change shows on the open session's next re-check.
	if _, err := svc.ChangeRole(ctx, actor, "192.0.2.1", ann.ID, model.RoleMarketer); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Revalidate(ctx, p)
	if err != nil || got.Role != model.RoleMarketer || got.SessionID != p.SessionID {
		t.Fatalf("after role change: %+v %v", got, err)
	}
	// Disabling ends it.
	if _, err := svc.SetDisabled(ctx, actor, "192.0.2.1", ann.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revalidate(ctx, p); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("after disable: %v", err)
	}
	if _, _, err := svc.Login(ctx, "ann@example.com", "password1", "192.0.2.9", "test"); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("disabled user logged in: %v", err)
	}
	if _, err := svc.SetDisabled(ctx, actor, "192.0.2.1", ann.ID, false); err != nil {
		t.Fatal(err)
	}

	// A password reset ends sessions; the new password works, the old one not.
	_, p, err = svc.Login(ctx, "ann@example.com", "password1", "192.0.2.9", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ResetPassword(ctx, actor, "192.0.2.1", ann.ID, "short"); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("short password: %v", err)
	}
	if _, err := svc.ResetPassword(ctx, actor, "192.0.2.1", ann.ID, "a new secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revalidate(ctx, p); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("session survived a password reset: %v", err)
	}
	if _, _, err := svc.Login(ctx, "ann@example.com", "password1", "192.0.2.9", "test"); err == nil {
		t.Fatal("old password still works")
	}
	if _, _, err := svc.Login(ctx, "ann@example.com", "a new secret", "192.0.2.9", "test"); err != nil {
		t.Fatalf("new password: %v", err)
	}

	// Nobody disables themselves.
	if _, err := svc.SetDisabled(ctx, actor, "", boss.ID, true); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("self-disable: %v", err)
	}

	// Tokens: revoked is refused by Revalidate.
	if _, err := svc.CreateToken(ctx, "bot", model.RoleStaff, boss.Email); err != nil {
		t.Fatal(err)
	}
	tokens, err := svc.Tokens(ctx)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %+v %v", tokens, err)
	}
	tp := model.Principal{TokenID: tokens[0].ID, Name: "token:bot", Role: model.RoleStaff}
	if _, err := svc.Revalidate(ctx, tp); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, actor, "", tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revalidate(ctx, tp); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := svc.Revalidate(ctx, model.Principal{}); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("empty principal: %v", err)
	}
}
