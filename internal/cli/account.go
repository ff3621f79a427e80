package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
)

const accountUsage = "usage: distribution account set --store S --channel INSTAGRAM|NAVER|KAKAO < credentials.json | account list | account rotate"

// maxCredentialInput bounds what `account set` reads from stdin.
const maxCredentialInput = 64 << 10

// accountCommand parses `account set|list|rotate` and returns what to run once the
// configuration is loaded.
func accountCommand(args []string, stdin io.Reader, stdout io.Writer) (func(context.Context, config.Config, *slog.Logger) error, error) {
	if len(args) == 0 {
		return nil, usageErrorf("%s", accountUsage)
	}
	switch args[0] {
	case "set":
		fs := flag.NewFlagSet("account set", flag.ContinueOnError)
		store := fs.String("store", "", "store id")
		channel := fs.String("channel", "", "INSTAGRAM, NAVER or KAKAO")
		if err := parseFlags(fs, args[1:]); err != nil {
			return nil, err
		}
		if *store == "" || *channel == "" {
			return nil, usageErrorf("account set needs --store and --channel\n%s", accountUsage)
		}
		ch, err := model.ParseChannel(strings.ToUpper(strings.TrimSpace(*channel)))
		if err != nil {
			return nil, usageErrorf("account set: %s (want INSTAGRAM, NAVER or KAKAO)", model.ErrorMessage(err))
		}
		if !model.AccountChannel(ch) {
			return nil, usageErrorf("account set: channel %s has no store account: partner channels (URIDONGNETV, RINGOBIZ, GINITV) are reached with the deployment's partner secret in CHANNELS_CONFIG", ch)
		}
		return func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
			raw, err := io.ReadAll(io.LimitReader(stdin, maxCredentialInput+1))
			if err != nil {
				return fmt.Errorf("read the credential JSON from stdin: %w", err)
			}
			if len(strings.TrimSpace(string(raw))) == 0 {
				return errors.New("stdin is empty: send the credential JSON on stdin")
			}
			return accountSet(ctx, cfg, logger, stdout, *store, ch, raw)
		}, nil
	case "list", "rotate":
		fs := flag.NewFlagSet("account "+args[0], flag.ContinueOnError)
		if err := parseFlags(fs, args[1:]); err != nil {
			return nil, err
		}
		if args[0] == "list" {
			return func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
				return accountList(ctx, cfg, logger, stdout)
			}, nil
		}
		return func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
			return accountRotate(ctx, cfg, logger, stdout)
		}, nil
	}
	return nil, usageErrorf("unknown account command %q\n%s", args[0], accountUsage)
}

// keyring builds the credentials' keyring from the configuration (config.SecretsKeysOrDev: the
// insecure development key only while CHANNELS_CONFIG is unset). The key is never logged.
func keyring(cfg config.Config, logger *slog.Logger) (*secrets.Keyring, error) {
	keys, dev, err := cfg.SecretsKeysOrDev()
	if err != nil {
		return nil, err
	}
	if dev {
		logger.Warn("SECRETS_KEY is not set: channel credentials are encrypted with the insecure development key (simulator only; set SECRETS_KEY before connecting real accounts)")
	}
	return secrets.New(keys.Current, keys.Previous)
}

func accountSet(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer, storeID string, ch model.Channel, raw []byte) error {
	cred, err := model.ParseCredentials(ch, raw)
	if err != nil {
		return cliError(err)
	}
	ring, err := keyring(cfg, logger)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	a, err := store.SetChannelAccount(ctx, storeID, cred, ring, model.AuditEntry{Actor: "cli"})
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(stdout, "store %s %s account %s: %s (expires %s)\n", a.StoreID, a.Channel, a.AccountRef, a.Status, expiry(a.ExpiresAt))
	return nil
}

func expiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func accountList(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	accounts, err := store.FindChannelAccounts(ctx, "")
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tCHANNEL\tACCOUNT\tSTATUS\tEXPIRES")
	for _, a := range accounts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.StoreID, a.Channel, a.AccountRef, a.Status, expiry(a.ExpiresAt))
	}
	return w.Flush()
}

func accountRotate(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	if err := cfg.RequireSecretsKey(); err != nil {
		return err
	}
	ring, err := keyring(cfg, logger)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.RotateAccountCredentials(ctx, ring)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d credential(s) under key %s\n", n, ring.CurrentKeyID())
	return nil
}
