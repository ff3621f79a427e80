package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// serve runs the service (web server, workers and embedded simulator, per ROLE) until ctx ends
// or a part fails, then stops it in order: drain (SHUTDOWN_DELAY), HTTP, live hub, workers, pools.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	redis.SetLogger(redisLog{logger})
	a, err := app.New(cfg, app.WithLogger(logger), app.WithBuild(app.Build{Version: buildVersion(), Commit: commit}))
	if err != nil {
		return err
	}
	err = a.Start(ctx)
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-a.Err():
		}
	}
	// The drain (SHUTDOWN_DELAY) comes first; the workers' grace and the rest get 30 s after it.
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownDelay+30*time.Second)
	defer cancel()
	if serr := a.Stop(stopCtx); serr != nil {
		logger.Error("stop", slog.Any("error", serr))
	}
	return err
}

func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*db.DB, error) {
	store, err := db.Open(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

func migrate(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	store.Close()
	logger.Info("migrations applied", slog.String("database", db.DatabaseName(cfg.DatabaseURL)))
	return nil
}

func runSimulator(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	rules, err := simulator.ParseFail(cfg.SimulatorFail)
	if err != nil {
		return err
	}
	simCfg := simulator.Config{Step: cfg.SimulatorStep, Fail: rules, Logger: logger}
	if cfg.SimulatorSecretFile == "" {
		logger.Warn("SIMULATOR_SECRET_FILE is not set: the simulator accepts unsigned partner v1 requests")
	} else {
		sec, err := partnersig.ReadSecretFile(cfg.SimulatorSecretFile)
		if err != nil {
			return fmt.Errorf("SIMULATOR_SECRET_FILE: %w", err)
		}
		simCfg.Secrets = map[model.Channel]partnersig.Secret{}
		for _, ch := range model.AllChannels {
			simCfg.Secrets[ch] = sec
		}
	}
	logger.Info("channel simulator", slog.String("addr", cfg.SimulatorAddr), slog.Bool("signatures_checked", simCfg.Secrets != nil))
	return simulator.Run(ctx, cfg.SimulatorAddr, simCfg)
}

// redisLog routes go-redis's own log lines (dial failures during an outage) into slog.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.logger.Debug(fmt.Sprintf(format, v...), slog.String("component", "go-redis"))
}
