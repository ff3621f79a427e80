package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/config"
	"go.uber.org/goleak"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load with no variables: %v", err)
	}
	want := config.Config{
		DatabaseURL:    config.DefaultDatabaseURL,
		RedisURL:       config.DefaultRedisURL,
		Addr:           config.DefaultAddr,
		Role:           config.RoleAll,
		MaxAttempts:    3,
		RetryBaseDelay: 2 * time.Second,
		RetryMaxDelay:  5 * time.Minute,
		SimulatorStep:  300 * time.Millisecond,
		SimulatorAddr:  "127.0.0.1:8081",
		Workers:        20,
		JobTimeout:     2 * time.Minute,
		RescueAfter:    3 * time.Minute,
		LogLevel:       "info",
	}
	if c.DatabaseURL != want.DatabaseURL || c.RedisURL != want.RedisURL || c.Addr != want.Addr || c.Role != want.Role ||
		c.MaxAttempts != want.MaxAttempts || c.RetryBaseDelay != want.RetryBaseDelay || c.RetryMaxDelay != want.RetryMaxDelay ||
		c.SimulatorStep != want.SimulatorStep || c.SimulatorAddr != want.SimulatorAddr || c.Workers != want.Workers ||
		c.JobTimeout != want.JobTimeout || c.RescueAfter != want.RescueAfter || c.LogLevel != want.LogLevel ||
		c.MaxStreamsPerUser != 32 ||
		c.ChannelsConfig != "" || c.SimulatorFail != "" || c.SecureCookies || c.TrustedProxies != nil || c.WebhookURL != "" {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	// The contract's default endpoints (DESIGN.md "Environment").
	if !strings.Contains(c.DatabaseURL, "127.0.0.1:5432/distribution") || c.RedisURL != "redis://127.0.0.1:6379/0" || c.Addr != "127.0.0.1:8080" {
		t.Errorf("default endpoints: %s %s %s", c.DatabaseURL, c.RedisURL, c.Addr)
	}
	if !c.Runs(config.RoleWeb) || !c.Runs(config.RoleWorker) {
		t.Error("ROLE=all must run web and workers")
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(cfgFile, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(env(map[string]string{
		"DATABASE_URL":         "postgresql://app:pw@db.internal:6432/dist?sslmode=require",
		"DATABASE_DIRECT_URL":  "postgresql://app:pw@db.internal:5432/dist?sslmode=require",
		"REDIS_URL":            "rediss://cache.internal:6380/2",
		"ADDR":                 ":9090",
		"ROLE":                 "worker",
		"MAX_ATTEMPTS":         "5",
		"RETRY_BASE_DELAY":     "150ms",
		"RETRY_MAX_DELAY":      "150ms",
		"CHANNELS_CONFIG":      cfgFile,
		"SIMULATOR_FAIL":       "KAKAO=3",
		"SIMULATOR_STEP":       "0s",
		"SIMULATOR_ADDR":       "127.0.0.1:0",
		"WORKERS":              "1",
		"MAX_STREAMS_PER_USER": "4",
		"JOB_TIMEOUT":          "1s",
		"SECURE_COOKIES":       "true",
		"WEBHOOK_URL":          "https://hooks.example.com/x",
		"LOG_LEVEL":            "debug",
		"DEBUG_ADDR":           "127.0.0.1:6060",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Role != config.RoleWorker || c.Runs(config.RoleWeb) || !c.Runs(config.RoleWorker) {
		t.Errorf("ROLE=worker: role %q, runs web %v", c.Role, c.Runs(config.RoleWeb))
	}
	if c.MaxAttempts != 5 || c.RetryBaseDelay != 150*time.Millisecond || c.RetryMaxDelay != 150*time.Millisecond ||
		c.SimulatorStep != 0 || c.Workers != 1 || c.MaxStreamsPerUser != 4 || c.JobTimeout != time.Second || !c.SecureCookies ||
		c.ChannelsConfig != cfgFile || c.SimulatorFail != "KAKAO=3" || c.Addr != ":9090" || c.LogLevel != "debug" ||
		c.WebhookURL != "https://hooks.example.com/x" || c.DebugAddr != "127.0.0.1:6060" ||
		c.DatabaseDirectURL != "postgresql://app:pw@db.internal:5432/dist?sslmode=require" {
		t.Errorf("values not taken as given: %+v", c)
	}
	// RESCUE_AFTER defaults to JOB_TIMEOUT + 1m, so lowering the timeout lowers the rescue too.
	if c.RescueAfter != time.Second+time.Minute {
		t.Errorf("RESCUE_AFTER default with JOB_TIMEOUT=1s = %s, want 1m1s", c.RescueAfter)
	}
	if c.WorkerLivenessInterval != 2*time.Second {
		t.Errorf("WORKER_LIVENESS_INTERVAL default = %s, want 2s", c.WorkerLivenessInterval)
	}
}

// TestLoadErrors: every bad value is refused with an error that names the variable, so an
// operator knows what to fix.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		wantVar string
	}{
		{"database scheme", map[string]string{"DATABASE_URL": "mysql://db/dist"}, "DATABASE_URL"},
		{"database not a URL", map[string]string{"DATABASE_URL": "::nope"}, "DATABASE_URL"},
		{"direct database scheme", map[string]string{"DATABASE_DIRECT_URL": "mysql://db/dist"}, "DATABASE_DIRECT_URL"},
		{"redis scheme", map[string]string{"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"},
		{"redis not a URL", map[string]string{"REDIS_URL": "%zz"}, "REDIS_URL"},
		{"addr without port", map[string]string{"ADDR": "localhost"}, "ADDR"},
		{"otlp endpoint scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"simulator addr", map[string]string{"SIMULATOR_ADDR": "8081"}, "SIMULATOR_ADDR"},
		{"role", map[string]string{"ROLE": "admin"}, "ROLE"},
		{"role case", map[string]string{"ROLE": "ALL"}, "ROLE"},
		{"max attempts zero", map[string]string{"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"},
		{"max attempts too many", map[string]string{"MAX_ATTEMPTS": "101"}, "MAX_ATTEMPTS"},
		{"max attempts text", map[string]string{"MAX_ATTEMPTS": "three"}, "MAX_ATTEMPTS"},
		{"retry base delay text", map[string]string{"RETRY_BASE_DELAY": "2"}, "RETRY_BASE_DELAY"},
		{"retry base delay zero", map[string]string{"RETRY_BASE_DELAY": "0s"}, "RETRY_BASE_DELAY"},
		{"retry base delay negative", map[string]string{"RETRY_BASE_DELAY": "-1s"}, "RETRY_BASE_DELAY"},
		{"retry max delay text", map[string]string{"RETRY_MAX_DELAY": "forever"}, "RETRY_MAX_DELAY"},
		{"retry max below base", map[string]string{"RETRY_BASE_DELAY": "10s", "RETRY_MAX_DELAY": "5s"}, "RETRY_MAX_DELAY"},
		{"simulator step text", map[string]string{"SIMULATOR_STEP": "fast"}, "SIMULATOR_STEP"},
		{"simulator step negative", map[string]string{"SIMULATOR_STEP": "-1ms"}, "SIMULATOR_STEP"},
		{"workers zero", map[string]string{"WORKERS": "0"}, "WORKERS"},
		{"workers too many", map[string]string{"WORKERS": "1001"}, "WORKERS"},
		{"workers text", map[string]string{"WORKERS": "many"}, "WORKERS"},
		{"max streams per user zero", map[string]string{"MAX_STREAMS_PER_USER": "0"}, "MAX_STREAMS_PER_USER"},
		{"max streams per user text", map[string]string{"MAX_STREAMS_PER_USER": "lots"}, "MAX_STREAMS_PER_USER"},
		{"job timeout text", map[string]string{"JOB_TIMEOUT": "2 minutes"}, "JOB_TIMEOUT"},
		{"job timeout under 1s", map[string]string{"JOB_TIMEOUT": "999ms"}, "JOB_TIMEOUT"},
		{"rescue after text", map[string]string{"RESCUE_AFTER": "soon"}, "RESCUE_AFTER"},
		{"rescue before job timeout", map[string]string{"JOB_TIMEOUT": "10s", "RESCUE_AFTER": "9s"}, "RESCUE_AFTER"},
		{"rescue below default job timeout", map[string]string{"RESCUE_AFTER": "1m"}, "RESCUE_AFTER"},
		{"worker liveness interval text", map[string]string{"WORKER_LIVENESS_INTERVAL": "often"}, "WORKER_LIVENESS_INTERVAL"},
		{"worker liveness interval too short", map[string]string{"WORKER_LIVENESS_INTERVAL": "10ms"}, "WORKER_LIVENESS_INTERVAL"},
		{"worker liveness interval too long", map[string]string{"WORKER_LIVENESS_INTERVAL": "2m"}, "WORKER_LIVENESS_INTERVAL"},
		{"secure cookies", map[string]string{"SECURE_COOKIES": "maybe"}, "SECURE_COOKIES"},
		{"trusted proxies bare ip", map[string]string{"TRUSTED_PROXIES": "10.0.0.1"}, "TRUSTED_PROXIES"},
		{"trusted proxies one bad", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,nope"}, "TRUSTED_PROXIES"},
		{"trusted proxies bad mask", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{"debug addr public", map[string]string{"DEBUG_ADDR": "0.0.0.0:6060"}, "DEBUG_ADDR"},
		{"debug addr all interfaces", map[string]string{"DEBUG_ADDR": ":6060"}, "DEBUG_ADDR"},
		{"debug addr no port", map[string]string{"DEBUG_ADDR": "127.0.0.1"}, "DEBUG_ADDR"},
		{"channels config missing", map[string]string{"CHANNELS_CONFIG": "/nonexistent/channels.json"}, "CHANNELS_CONFIG"},
		{"ops addr no port", map[string]string{"OPS_ADDR": "9090"}, "OPS_ADDR"},
		{"pprof on public ops addr", map[string]string{"OPS_ADDR": ":9090", "OPS_PPROF": "true"}, "OPS_PPROF"},
		{"pprof without ops addr", map[string]string{"OPS_PPROF": "true"}, "OPS_PPROF"},
		{"pprof not a bool", map[string]string{"OPS_ADDR": "127.0.0.1:9090", "OPS_PPROF": "yes please"}, "OPS_PPROF"},
		{"debug addr is ops addr", map[string]string{"OPS_ADDR": "127.0.0.1:9090", "DEBUG_ADDR": "127.0.0.1:9090"}, "DEBUG_ADDR"},
		{"shutdown delay bad", map[string]string{"SHUTDOWN_DELAY": "5"}, "SHUTDOWN_DELAY"},
		{"shutdown delay negative", map[string]string{"SHUTDOWN_DELAY": "-1s"}, "SHUTDOWN_DELAY"},
		{"migrate on start bad", map[string]string{"MIGRATE_ON_START": "sometimes"}, "MIGRATE_ON_START"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(tc.vars))
			if err == nil {
				t.Fatalf("Load(%v) succeeded, want an error naming %s", tc.vars, tc.wantVar)
			}
			if !strings.HasPrefix(err.Error(), tc.wantVar+":") {
				t.Errorf("Load(%v) = %q, want an error starting with %q", tc.vars, err, tc.wantVar+":")
			}
		})
	}
}

// TestLoadOps: the ops listener, drain and migration settings' defaults, and the profiler on a
// public OPS_ADDR only when explicitly allowed.
func TestLoadOps(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.OpsAddr != "" || c.OpsPprof || c.ShutdownDelay != 5*time.Second || !c.MigrateOnStart {
		t.Errorf("defaults: OpsAddr %q OpsPprof %v ShutdownDelay %s MigrateOnStart %v; want off, off, 5s, true", c.OpsAddr, c.OpsPprof, c.ShutdownDelay, c.MigrateOnStart)
	}
	c, err = config.Load(env(map[string]string{"OPS_ADDR": ":9090", "OPS_PPROF": "true", "OPS_PPROF_ALLOW_REMOTE": "true", "SHUTDOWN_DELAY": "0s", "MIGRATE_ON_START": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OpsAddr != ":9090" || !c.OpsPprof || c.ShutdownDelay != 0 || c.MigrateOnStart {
		t.Errorf("set: %+v", c)
	}
	if _, err := config.Load(env(map[string]string{"OPS_ADDR": "127.0.0.1:9090", "OPS_PPROF": "true"})); err != nil {
		t.Errorf("pprof on loopback OPS_ADDR: %v", err)
	}
}

// TestLoadJobTimeoutRescueRule: a job still running RESCUE_AFTER after it started is presumed
// lost, so RESCUE_AFTER may not be shorter than JOB_TIMEOUT; it defaults to JOB_TIMEOUT + 1m.
func TestLoadJobTimeoutRescueRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		jobTimeout, rescueAfter string
		wantRescue              time.Duration // 0 = error
	}{
		{"", "", 3 * time.Minute},
		{"5s", "", 65 * time.Second},
		{"5s", "6s", 6 * time.Second},
		{"5s", "5s", 5 * time.Second},
		{"5s", "4999ms", 0},
		{"", "2m", 2 * time.Minute},
		{"", "119s", 0},
		{"10m", "", 11 * time.Minute},
	}
	for _, tc := range tests {
		c, err := config.Load(env(map[string]string{"JOB_TIMEOUT": tc.jobTimeout, "RESCUE_AFTER": tc.rescueAfter}))
		switch {
		case tc.wantRescue == 0 && err == nil:
			t.Errorf("JOB_TIMEOUT=%q RESCUE_AFTER=%q accepted (rescue %s), want an error", tc.jobTimeout, tc.rescueAfter, c.RescueAfter)
		case tc.wantRescue == 0 && !strings.Contains(err.Error(), "RESCUE_AFTER"):
			t.Errorf("JOB_TIMEOUT=%q RESCUE_AFTER=%q: error %q does not name RESCUE_AFTER", tc.jobTimeout, tc.rescueAfter, err)
		case tc.wantRescue != 0 && err != nil:
			t.Errorf("JOB_TIMEOUT=%q RESCUE_AFTER=%q: %v", tc.jobTimeout, tc.rescueAfter, err)
		case tc.wantRescue != 0 && c.RescueAfter != tc.wantRescue:
			t.Errorf("JOB_TIMEOUT=%q RESCUE_AFTER=%q: rescue after %s, want %s", tc.jobTimeout, tc.rescueAfter, c.RescueAfter, tc.wantRescue)
		}
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}},
		{"10.0.0.0/8, 192.168.1.0/24 ,172.16.0.0/12", []string{"10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12"}},
		{"127.0.0.1/32,::1/128", []string{"127.0.0.1/32", "::1/128"}},
		{"192.168.1.77/24", []string{"192.168.1.0/24"}}, // the network, not the host
		{"fd00::/8", []string{"fd00::/8"}},
	}
	for _, tc := range tests {
		c, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": tc.in}))
		if err != nil {
			t.Errorf("TRUSTED_PROXIES=%q: %v", tc.in, err)
			continue
		}
		var got []string
		for _, n := range c.TrustedProxies {
			got = append(got, n.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("TRUSTED_PROXIES=%q parsed as %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLoadRedisURLSchemes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"redis://:secret@cache.internal:6379/3", true},
		{"rediss://cache.internal:6380/1", true},
		{"unix:///tmp/redis-test/redis.sock?db=0", true},
		{"unix:///var/run/redis/redis.sock", true},
		{"http://127.0.0.1:6379", false},
		{"tcp://127.0.0.1:6379", false},
		{"127.0.0.1:6379", false},
	}
	for _, tc := range tests {
		c, err := config.Load(env(map[string]string{"REDIS_URL": tc.url}))
		switch {
		case tc.ok && err != nil:
			t.Errorf("REDIS_URL=%q: %v", tc.url, err)
		case tc.ok && c.RedisURL != tc.url:
			t.Errorf("REDIS_URL=%q kept as %q", tc.url, c.RedisURL)
		case !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL:")):
			t.Errorf("REDIS_URL=%q: error %v, want one naming REDIS_URL", tc.url, err)
		}
	}
}

// TestLoadErrorsHidePasswords: an error about a URL quotes it with the password masked, since
// errors end up in logs and terminals.
func TestLoadErrorsHidePasswords(t *testing.T) {
	t.Parallel()
	for _, vars := range []map[string]string{
		{"DATABASE_URL": "mysql://app:hunter2@db.internal/dist"},
		{"REDIS_URL": "http://user:hunter2@cache.internal:6379"},
	} {
		_, err := config.Load(env(vars))
		if err == nil {
			t.Fatalf("Load(%v) succeeded", vars)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %q", err)
		}
		if !strings.Contains(err.Error(), "db.internal") && !strings.Contains(err.Error(), "cache.internal") {
			t.Errorf("error should still say which URL was wrong: %q", err)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLoadAuditRetention: AUDIT_RETENTION takes whole days or a Go duration, defaults to 400 days,
// and refuses anything else (or under a day) naming the variable.
func TestLoadAuditRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		want time.Duration // 0 = error
	}{
		{"", 400 * 24 * time.Hour},
		{"400d", 400 * 24 * time.Hour},
		{"30d", 30 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"9600h", 9600 * time.Hour},
		{"0d", 0},
		{"23h", 0},
		{"-5d", 0},
		{"d", 0},
		{"1.5d", 0},
		{"400", 0},
		{"forever", 0},
		{"99999999d", 0},
	} {
		c, err := config.Load(env(map[string]string{"AUDIT_RETENTION": tc.v}))
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("AUDIT_RETENTION=%q accepted (%s), want an error", tc.v, c.AuditRetention)
		case tc.want == 0 && !strings.HasPrefix(err.Error(), "AUDIT_RETENTION:"):
			t.Errorf("AUDIT_RETENTION=%q: error %q does not name the variable", tc.v, err)
		case tc.want != 0 && err != nil:
			t.Errorf("AUDIT_RETENTION=%q: %v", tc.v, err)
		case tc.want != 0 && c.AuditRetention != tc.want:
			t.Errorf("AUDIT_RETENTION=%q = %s, want %s", tc.v, c.AuditRetention, tc.want)
		}
	}
}

// TestValidateTimings: the settings without environment variables, which tests set directly, are
// checked by Validate too; Default is valid.
func TestValidateTimings(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	for name, set := range map[string]func(*config.Config){
		"ChannelPollInterval":   func(c *config.Config) { c.ChannelPollInterval = -time.Millisecond },
		"JobFetchPollInterval":  func(c *config.Config) { c.JobFetchPollInterval = -time.Millisecond },
		"PasswordHashMemoryKiB": func(c *config.Config) { c.PasswordHashMemoryKiB = 64 },
	} {
		c := config.Default()
		set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming it", name, err)
		}
	}
}

func TestLoadRedisNotifications(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": config.RedisNotificationsConfig, "config": "config", "managed": "managed"} {
		c, err := config.Load(env(map[string]string{"REDIS_NOTIFICATIONS": in}))
		if err != nil || c.RedisNotifications != want {
			t.Errorf("REDIS_NOTIFICATIONS=%q: got %q, %v; want %q", in, c.RedisNotifications, err, want)
		}
	}
	_, err := config.Load(env(map[string]string{"REDIS_NOTIFICATIONS": "off"}))
	if err == nil || !strings.Contains(err.Error(), "REDIS_NOTIFICATIONS") {
		t.Errorf("REDIS_NOTIFICATIONS=off: err = %v; want a REDIS_NOTIFICATIONS error", err)
	}
}

// TestLoadTracing: tracing is off by default; OTEL_EXPORTER_OTLP_ENDPOINT turns it on and
// OTEL_SERVICE_NAME names the service ("distribution" by default).
func TestLoadTracing(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil || c.OTLPEndpoint != "" || c.ServiceName != "distribution" {
		t.Fatalf("defaults: endpoint %q service %q err %v", c.OTLPEndpoint, c.ServiceName, err)
	}
	c, err = config.Load(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SERVICE_NAME": "dist-eu"}))
	if err != nil || c.OTLPEndpoint != "http://collector:4318" || c.ServiceName != "dist-eu" {
		t.Fatalf("set: endpoint %q service %q err %v", c.OTLPEndpoint, c.ServiceName, err)
	}
}

// The breaker's rules (issue 13): defaults 5 calls, 50 %, 2 events, 60 s window, 30 s cool-down;
// each variable is read, -1 calls turns the breaker off, and a bad value names its variable.
func TestBreakerVariables(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ChannelBreakerThreshold != 5 || c.BreakerFailurePercent != 50 || c.BreakerMinEvents != 2 ||
		c.BreakerWindow != time.Minute || c.BreakerCooldown != 30*time.Second {
		t.Errorf("defaults: %d calls %d %% %d events %s window %s cool-down", c.ChannelBreakerThreshold,
			c.BreakerFailurePercent, c.BreakerMinEvents, c.BreakerWindow, c.BreakerCooldown)
	}
	c, err = config.Load(env(map[string]string{"BREAKER_MIN_CALLS": "-1", "BREAKER_FAILURE_PERCENT": "80",
		"BREAKER_MIN_EVENTS": "3", "BREAKER_WINDOW": "2m", "BREAKER_COOLDOWN": "5s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ChannelBreakerThreshold != -1 || c.BreakerFailurePercent != 80 || c.BreakerMinEvents != 3 ||
		c.BreakerWindow != 2*time.Minute || c.BreakerCooldown != 5*time.Second {
		t.Errorf("values not taken: %+v", c)
	}
	for name, v := range map[string]string{"BREAKER_MIN_CALLS": "-2", "BREAKER_FAILURE_PERCENT": "0",
		"BREAKER_MIN_EVENTS": "x", "BREAKER_WINDOW": "1", "BREAKER_COOLDOWN": "-1s"} {
		if _, err := config.Load(env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming it", name, v, err)
		}
	}
}
