package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
)

func userAdd(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer, email, role, password string) error {
	r, err := model.ParseRole(role)
	if err != nil {
		return errors.New(model.ErrorMessage(err))
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := auth.NewService(store, auth.Config{}, logger).CreateUser(ctx, email, password, r, "cli")
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(stdout, "created user %s (%s)\n", u.Email, u.Role)
	return nil
}

// tokenCreate creates an API token owned by the service account "service:<name>" (created with
// role on first use; a manager disables or demotes it on /users to stop every token it owns).
// expires is empty (never), a duration (720h, 30d) or the last valid day YYYY-MM-DD in UTC.
func tokenCreate(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer, name, role, expires string) error {
	r, err := model.ParseRole(role)
	if err != nil {
		return errors.New(model.ErrorMessage(err))
	}
	spec := db.TokenSpec{Name: name, Role: r, CreatedBy: "cli"}
	if spec.ExpiresIn, spec.ExpiresAt, err = auth.ParseExpiry(expires, time.UTC); err != nil {
		return cliError(err)
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	tok, t, err := auth.NewService(store, auth.Config{}, logger).IssueToken(ctx, spec)
	if err != nil {
		return cliError(err)
	}
	until := "never expires"
	if t.ExpiresAt != nil {
		until = "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "API token %q (%s, owner %s, %s); it is shown only once:\n%s\n", t.Name, r, t.OwnerEmail, until, tok)
	return nil
}

// cliError turns a user-facing *model.Error into its message and keeps internal detail otherwise.
func cliError(err error) error {
	if model.ErrorCode(err) != model.EINTERNAL {
		return errors.New(model.ErrorMessage(err))
	}
	return err
}

// Demo accounts created by `seed` (and printed by `make run`). Local development only.
var demoUsers = []struct {
	email, password string
	role            model.Role
}{
	{"marketer@example.com", "marketer-demo-1", model.RoleMarketer},
	{"staff@example.com", "staff-demo-1", model.RoleStaff},
	{"manager@example.com", "manager-demo-1", model.RoleManager},
}

var demoEvents = []model.Event{
	{ID: "demo-spring-sale", Title: "봄맞이 세일 – 전 품목 20% 할인", StoreID: "demo-happy-bakery", Description: "3월 한 달간 모든 빵과 케이크 20% 할인", ImageURL: demoImage("demo-spring-sale")},
	{ID: "demo-grand-opening", Title: "Grand opening: Seongsu flagship", StoreID: "demo-brew-seongsu", Description: "Free drip coffee for the first 100 guests", ImageURL: demoImage("demo-grand-opening")},
	{ID: "demo-chuseok", Title: "추석 선물세트 사전 예약", StoreID: "demo-hanwoo-bundang", Description: "사전 예약 시 10% 할인 및 무료 배송", ImageURL: demoImage("demo-chuseok")},
	{ID: "demo-kids-class", Title: "주말 어린이 쿠킹 클래스", StoreID: "demo-craft-mapo", Description: "매주 토요일 오전 10시, 선착순 12명", ImageURL: demoImage("demo-kids-class")},
	{ID: "demo-new-menu", Title: "New menu launch: 흑임자 라떼", StoreID: "demo-cafe-ondo", Description: "Black sesame latte, limited edition", ImageURL: demoImage("demo-new-menu")},
	{ID: "demo-membership", Title: "멤버십 회원 더블 적립 주간", StoreID: "demo-green-mart", Description: "회원 포인트 2배 적립", ImageURL: demoImage("demo-membership")},
}

// demoImage is a demo event's picture: an https URL, as Instagram fetches the image itself (with
// the embedded simulator the demo events publish to INSTAGRAM through the Graph API emulation,
// whose pre-flight check requires one).
func demoImage(eventID string) string { return "https://picsum.photos/seed/" + eventID + "/1080/1080" }

// demoStores are the demo events' stores; with the embedded simulator each gets connected demo
// accounts on INSTAGRAM, NAVER and KAKAO (fake credentials the simulator accepts).
var demoStores = []model.Store{
	{ID: "demo-happy-bakery", Name: "행복베이커리 강남점"},
	{ID: "demo-brew-seongsu", Name: "Brew & Co. 성수"},
	{ID: "demo-hanwoo-bundang", Name: "한우명가 분당점"},
	{ID: "demo-craft-mapo", Name: "맛있는 공방 마포"},
	{ID: "demo-cafe-ondo", Name: "카페 온도 판교"},
	{ID: "demo-green-mart", Name: "그린마트 수원점"},
}

// demoCredentials are the fake credentials of store i's demo accounts (simulator only).
func demoCredentials(i int, storeID string) map[model.Channel]string {
	expires := time.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339) // a long-lived Instagram token's life
	return map[model.Channel]string{
		model.ChannelInstagram: fmt.Sprintf(`{"igUserId":"1784140000000%04d","accessToken":"demo-ig-token-%s","expiresAt":%q}`, i+1, storeID, expires),
		model.ChannelNaver:     fmt.Sprintf(`{"clubId":"3100%04d","menuId":"1","accessToken":"demo-naver-token-%s","refreshToken":"demo-naver-refresh-%s"}`, i+1, storeID, storeID),
		// kakao-sens sends brand messages (targeting I, the default) as the channel plusFriendId to
		// the recipients (fake numbers).
		model.ChannelKakao: fmt.Sprintf(`{"senderKey":"demo-sender-key-%s","plusFriendId":"@%s","recipients":["0100000%04d","0100001%04d"]}`, storeID, storeID, i+1, i+1),
	}
}

// seedStores creates the demo stores and, with the embedded simulator (no CHANNELS_CONFIG: fake
// credentials must never be sent to a real platform), their connected demo accounts. An account
// that exists is left as it is.
func seedStores(ctx context.Context, cfg config.Config, logger *slog.Logger, store *db.DB) error {
	for _, s := range demoStores {
		if _, err := store.CreateStore(ctx, s, model.AuditEntry{Actor: "seed"}); err != nil && model.ErrorCode(err) != model.ECONFLICT {
			return fmt.Errorf("seed store %s: %w", s.ID, err)
		}
	}
	if cfg.ChannelsConfig != "" {
		logger.Info("CHANNELS_CONFIG is set: no demo channel accounts are created (connect real ones with `distribution account set`)")
		return nil
	}
	ring, err := keyring(cfg, logger)
	if err != nil {
		return err
	}
	for i, s := range demoStores {
		have, err := store.FindChannelAccounts(ctx, s.ID)
		if err != nil {
			return err
		}
		for ch, raw := range demoCredentials(i, s.ID) {
			if at := slices.IndexFunc(have, func(a model.ChannelAccount) bool { return a.Channel == ch }); at >= 0 &&
				!staleDemoKakao(ctx, store, ring, have[at], s.ID) {
				continue
			}
			cred, err := model.ParseCredentials(ch, []byte(raw))
			if err != nil {
				return fmt.Errorf("seed %s account of %s: %w", ch, s.ID, err)
			}
			if _, err := store.SetChannelAccount(ctx, s.ID, cred, ring, model.AuditEntry{Actor: "seed"}); err != nil {
				return fmt.Errorf("seed %s account of %s: %w", ch, s.ID, err)
			}
		}
	}
	return nil
}

// staleDemoKakao reports whether acct is the demo KAKAO account of an earlier seed, made before
// the embedded simulator spoke kakao-sens (no recipients): it is replaced, once, so `make run`
// on an existing database sends KakaoTalk too. An account someone set is never touched.
func staleDemoKakao(ctx context.Context, store *db.DB, ring db.Sealer, acct model.ChannelAccount, storeID string) bool {
	if acct.Channel != model.ChannelKakao || acct.AccountRef != "demo-sender-key-"+storeID {
		return false
	}
	cred, _, err := store.AccountCredentials(ctx, storeID, model.ChannelKakao, ring)
	return err == nil && !strings.Contains(string(cred), `"recipients"`)
}

// seed creates the demo users and events and starts distributions for the first events, so a
// fresh `make run` shows live progress at once. Running it again changes nothing.
func seed(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := auth.NewService(store, auth.Config{}, logger)
	for _, u := range demoUsers {
		if _, err := svc.CreateUser(ctx, u.email, u.password, u.role, "seed"); err != nil && model.ErrorCode(err) != model.ECONFLICT {
			return fmt.Errorf("seed user %s: %w", u.email, err)
		}
	}
	if err := seedStores(ctx, cfg, logger, store); err != nil {
		return err
	}
	// Insert-only engine: the jobs run when `serve` starts.
	eng, err := engine.New(engine.Config{MaxAttempts: cfg.MaxAttempts, RetryBaseDelay: cfg.RetryBaseDelay, RetryMaxDelay: cfg.RetryMaxDelay}, store, engine.Options{Logger: logger})
	if err != nil {
		return err
	}
	for i, e := range demoEvents {
		if _, err := store.CreateEvent(ctx, e, "seed"); err != nil {
			if model.ErrorCode(err) == model.ECONFLICT {
				// Seeded before, perhaps before stores existed: bring it into its store, and give a
				// demo event not started yet its image (seeded before the demo had images).
				if _, err := store.AttachEventToStore(ctx, e.ID, e.StoreID); err != nil {
					return err
				}
				if old, err := store.FindEventByID(ctx, e.ID); err == nil && old.ImageURL == "" && old.Distribution == nil {
					img := e.ImageURL
					if _, err := store.UpdateEvent(ctx, e.ID, model.EventPatch{ImageURL: &img}, model.AuditEntry{Actor: "seed"}); err != nil &&
						model.ErrorCode(err) != model.ESTARTED {
						return fmt.Errorf("seed event %s image: %w", e.ID, err)
					}
				}
				continue
			}
			return fmt.Errorf("seed event %s: %w", e.ID, err)
		}
		if i < 4 {
			if _, err := eng.StartDistribution(ctx, e.ID, model.AllChannels, "seed"); err != nil {
				return fmt.Errorf("seed distribution %s: %w", e.ID, err)
			}
		}
	}
	fmt.Fprintln(stdout, "Demo data ready. Log in at http://"+cfg.Addr+"/login with one of:")
	for _, u := range demoUsers {
		fmt.Fprintf(stdout, "  %-22s password %-16s (%s)\n", u.email, u.password, u.role)
	}
	return nil
}
