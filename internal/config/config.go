// Package config reads the service's settings from the environment (DESIGN.md "Environment"),
// applies defaults and validates them, naming the bad variable in every error.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones validate without the machine's tz database (tests, scratch images)

	"github.com/marketing-platform/distribution/internal/quiethours"
)

// Role says which parts a serve process runs.
const (
	RoleAll    = "all"
	RoleWeb    = "web"
	RoleWorker = "worker"
)

// Config is every setting of the service. Zero values are replaced by defaults in Load.
type Config struct {
	DatabaseURL    string
	RedisURL       string
	Addr           string
	Role           string // all | web | worker
	MaxAttempts    int
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	ChannelsConfig string // path; "" = embedded simulator
	SimulatorFail  string // e.g. "KAKAO=3,NAVER=always"
	SimulatorStep  time.Duration
	SimulatorAddr  string // listen address of `distribution simulator` (default 127.0.0.1:8081)
	// SimulatorSecretFile (SIMULATOR_SECRET_FILE) is the partner v1 shared secret `distribution
	// simulator` checks every channel's signatures with; "" = it accepts unsigned requests. The
	// embedded simulator ignores it (it generates its own secrets at start).
	SimulatorSecretFile string
	// RedisNotifications is how keyspace notifications are set up (REDIS_NOTIFICATIONS):
	// "config" (default) applies notify-keyspace-events with CONFIG SET on every connection;
	// "managed" never sends CONFIG (a managed Redis where the operator sets it) and checks with a
	// probe key that notifications really flow.
	RedisNotifications string
	// Workers is how many channel jobs one worker process runs at once (WORKERS, default 20).
	Workers int
	// DatabaseDirectURL (DATABASE_DIRECT_URL, optional) reaches PostgreSQL without a
	// transaction-mode pooler: River, the principal listener (LISTEN) and the migration lock use
	// it, and DatabaseURL is then run without session state. "" = DatabaseURL for everything.
	DatabaseDirectURL string
	// MaxStreamsPerUser caps the open live streams of one user or API token per web process
	// (MAX_STREAMS_PER_USER, default 32); beyond it their oldest stream is closed.
	MaxStreamsPerUser int
	// StreamTiming are the live streams' clocks; zero fields take internal/live's defaults.
	// No environment variable: operators have no reason to move them; tests shorten them.
	StreamTiming StreamTiming
	// JobTimeout bounds one attempt of one channel, polling included (JOB_TIMEOUT, default 2m);
	// a job still running RescueAfter after it started is presumed lost and re-run
	// (RESCUE_AFTER, default JOB_TIMEOUT+1m). Lower both to recover faster from killed workers.
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// WorkerLivenessInterval is how often each worker process checks that the other worker
	// processes are alive (their PostgreSQL liveness lock) and re-runs at once the jobs of a dead
	// one (WORKER_LIVENESS_INTERVAL, default 2s; 100ms to 1m). A killed worker's channels resume
	// within about two intervals, not after RESCUE_AFTER.
	WorkerLivenessInterval time.Duration
	// SecureCookies marks session cookies Secure and uses the __Host- prefix; on when served over TLS.
	SecureCookies bool
	// TrustedProxies lists CIDRs whose X-Forwarded-For is trusted; empty = use the socket address.
	TrustedProxies []*net.IPNet
	// WebhookURL is the optional failure-alert webhook (Slack-compatible; https, public address).
	WebhookURL string
	// PublicURL is the dashboard's base URL used in alert deep links (default http://ADDR).
	PublicURL string
	// publicURLSet: PUBLIC_URL was given (the OAuth redirect URI uses it; otherwise the request's host).
	publicURLSet bool
	// DebugAddr is an optional loopback address serving Go's profiler (net/http/pprof) for
	// `make bench` and diagnosis (DEBUG_ADDR; empty = off; only 127.0.0.1/::1/localhost).
	DebugAddr string
	// OpsAddr is the ops listener (OPS_ADDR, e.g. :9090; empty = off): /metrics, /healthz and
	// /readyz without application auth, for every ROLE, and the profiler when OpsPprof is set.
	OpsAddr string
	// OpsPprof serves Go's profiler under /debug/pprof/ on OPS_ADDR (OPS_PPROF, default false).
	// Refused on a non-loopback OPS_ADDR unless OpsPprofAllowRemote (OPS_PPROF_ALLOW_REMOTE):
	// profiles show request data and cost CPU.
	OpsPprof            bool
	OpsPprofAllowRemote bool
	// ShutdownDelay is how long a stopping process keeps serving while /readyz answers 503, so the
	// load balancer stops sending before streams close (SHUTDOWN_DELAY, default 5s; 0 = none).
	ShutdownDelay time.Duration
	// MigrateOnStart applies migrations when serve starts (MIGRATE_ON_START, default true); false
	// for a deployment that runs `distribution migrate` as a separate job with DDL rights: serve
	// then refuses to start until the migrations are applied.
	MigrateOnStart bool
	LogLevel       string
	// DefaultTimezone is the time zone of viewers who chose none (DEFAULT_TIMEZONE, an IANA name,
	// default Asia/Seoul): times shown, the day boundaries of reports and bulk retry, export times.
	// Each user may choose their own; it never follows the language.
	DefaultTimezone *time.Location
	// AuditRetention is how long audit log entries are kept before the hourly prune deletes them
	// (AUDIT_RETENTION, default 400 days; "400d" or a Go duration such as "9600h"; at least 1 day).
	AuditRetention time.Duration

	// Timings and costs without environment variables: their defaults suit production, and tests
	// that need a faster service set them here (the same Config that serve uses).

	// ChannelPollInterval is how often an adapter polls a channel for a publication's progress
	// (0 = the adapter default, 250ms).
	ChannelPollInterval time.Duration
	// ChannelBreakerThreshold is the least number of calls to one channel in the breaker's window
	// before its circuit breaker may open (BREAKER_MIN_CALLS, default 5; negative = no breaker).
	// It used to count consecutive failures of one process; the breaker now opens on the
	// deployment-wide failure rate below (issue 13).
	ChannelBreakerThreshold int
	// BreakerFailurePercent (BREAKER_FAILURE_PERCENT, default 50), BreakerMinEvents
	// (BREAKER_MIN_EVENTS, default 2) and BreakerWindow (BREAKER_WINDOW, default 60s): the breaker
	// opens when, within the window, at least that share of at least ChannelBreakerThreshold calls
	// failed on the channel's side, from at least that many distinct events. BreakerCooldown
	// (BREAKER_COOLDOWN, default 30s) is the wait from opening (or a failed probe) to the next probe.
	BreakerFailurePercent int
	BreakerMinEvents      int
	BreakerWindow         time.Duration
	BreakerCooldown       time.Duration
	// JobFetchPollInterval is the workers' fallback poll for new jobs, which normally arrive by
	// LISTEN/NOTIFY (0 = the engine default, 1s).
	JobFetchPollInterval time.Duration
	// MaintenanceStartAtOnce starts the job queue's maintenance services at once instead of
	// staggered (staggering spreads the work of replicas that start together; false = staggered).
	MaintenanceStartAtOnce bool
	// PasswordHashMemoryKiB and PasswordHashTime are the argon2id cost of new password hashes
	// (0 = auth.DefaultArgon2, OWASP's recommendation).
	PasswordHashMemoryKiB uint32
	PasswordHashTime      uint32
	// OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT) turns tracing on: spans go to this OTLP/HTTP
	// collector (the exporter reads the other OTEL_EXPORTER_OTLP_* variables itself). "" = off.
	OTLPEndpoint string
	// ServiceName (OTEL_SERVICE_NAME) names the service in the traces (default "distribution").
	ServiceName string
	// Secrets are the keys that encrypt channel account credentials at rest (secrets.go).
	Secrets SecretsKeys
	// KakaoQuietHours is the daily window, on Korea's clock (Asia/Seoul), during which KakaoTalk
	// advertising messages are not sent: their jobs wait until it ends (KAKAO_QUIET_HOURS,
	// default 20:50-08:00; "off" disables; package quiethours).
	KakaoQuietHours quiethours.Window
	// InstagramReachRate (INSTAGRAM_REACH_RATE, 0 < r <= 1, default 0.3) is the share of an
	// Instagram account's followers a post is estimated to reach: estimated views at publish
	// are followers_count times it (views.go).
	InstagramReachRate float64
}

// Default returns the configuration of an empty environment: every default, valid.
func Default() Config {
	c, err := Load(func(string) string { return "" })
	if err != nil {
		panic("config: defaults do not validate: " + err.Error())
	}
	return c
}

// Defaults used when a variable is unset.
const (
	DefaultTimezone    = "Asia/Seoul"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/distribution?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultAddr        = "127.0.0.1:8080"
)

// REDIS_NOTIFICATIONS values.
const (
	RedisNotificationsConfig  = "config"
	RedisNotificationsManaged = "managed"
)

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{
		DatabaseURL:    or(getenv("DATABASE_URL"), DefaultDatabaseURL),
		RedisURL:       or(getenv("REDIS_URL"), DefaultRedisURL),
		Addr:           or(getenv("ADDR"), DefaultAddr),
		Role:           or(getenv("ROLE"), RoleAll),
		ChannelsConfig: getenv("CHANNELS_CONFIG"),
		SimulatorFail:  getenv("SIMULATOR_FAIL"),
		SimulatorAddr:  or(getenv("SIMULATOR_ADDR"), "127.0.0.1:8081"),
		WebhookURL:     getenv("WEBHOOK_URL"),
		PublicURL:      getenv("PUBLIC_URL"),
		DebugAddr:      getenv("DEBUG_ADDR"),
		OpsAddr:        getenv("OPS_ADDR"),
		LogLevel:       or(getenv("LOG_LEVEL"), "info"),
	}
	c.DatabaseDirectURL = getenv("DATABASE_DIRECT_URL")
	c.SimulatorSecretFile = getenv("SIMULATOR_SECRET_FILE")
	c.OTLPEndpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	c.ServiceName = or(getenv("OTEL_SERVICE_NAME"), "distribution")
	c.RedisNotifications = or(getenv("REDIS_NOTIFICATIONS"), RedisNotificationsConfig)
	c.publicURLSet = c.PublicURL != ""
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	var err error
	if c.DefaultTimezone, err = zoneVar(getenv, "DEFAULT_TIMEZONE", DefaultTimezone); err != nil {
		return c, err
	}
	if c.MaxAttempts, err = intVar(getenv, "MAX_ATTEMPTS", 3, 1, 100); err != nil {
		return c, err
	}
	if c.RetryBaseDelay, err = durVar(getenv, "RETRY_BASE_DELAY", 2*time.Second); err != nil {
		return c, err
	}
	if c.RetryMaxDelay, err = durVar(getenv, "RETRY_MAX_DELAY", 5*time.Minute); err != nil {
		return c, err
	}
	if c.SimulatorStep, err = durVar(getenv, "SIMULATOR_STEP", 300*time.Millisecond); err != nil {
		return c, err
	}
	if c.Workers, err = intVar(getenv, "WORKERS", 20, 1, 1000); err != nil {
		return c, err
	}
	if c.MaxStreamsPerUser, err = intVar(getenv, "MAX_STREAMS_PER_USER", 32, 1, 1_000_000); err != nil {
		return c, err
	}
	if c.JobTimeout, err = durVar(getenv, "JOB_TIMEOUT", 2*time.Minute); err != nil {
		return c, err
	}
	if c.RescueAfter, err = durVar(getenv, "RESCUE_AFTER", c.JobTimeout+time.Minute); err != nil {
		return c, err
	}
	if c.WorkerLivenessInterval, err = durVar(getenv, "WORKER_LIVENESS_INTERVAL", 2*time.Second); err != nil {
		return c, err
	}
	if c.ChannelBreakerThreshold, err = intVar(getenv, "BREAKER_MIN_CALLS", 5, -1, 1_000_000); err != nil {
		return c, err
	}
	if c.BreakerFailurePercent, err = intVar(getenv, "BREAKER_FAILURE_PERCENT", 50, 1, 100); err != nil {
		return c, err
	}
	if c.BreakerMinEvents, err = intVar(getenv, "BREAKER_MIN_EVENTS", 2, 1, 1000); err != nil {
		return c, err
	}
	if c.BreakerWindow, err = durVar(getenv, "BREAKER_WINDOW", time.Minute); err != nil {
		return c, err
	}
	if c.BreakerCooldown, err = durVar(getenv, "BREAKER_COOLDOWN", 30*time.Second); err != nil {
		return c, err
	}
	if c.AuditRetention, err = daysVar(getenv, "AUDIT_RETENTION", 400*24*time.Hour); err != nil {
		return c, err
	}
	if c.ShutdownDelay, err = durVar(getenv, "SHUTDOWN_DELAY", 5*time.Second); err != nil {
		return c, err
	}
	if c.Secrets, err = loadSecrets(getenv); err != nil {
		return c, err
	}
	if c.InstagramReachRate, err = reachRateVar(getenv); err != nil { // views.go
		return c, err
	}
	if c.KakaoQuietHours, err = quiethours.Parse(or(strings.TrimSpace(getenv("KAKAO_QUIET_HOURS")), quiethours.Default)); err != nil {
		return c, fmt.Errorf("KAKAO_QUIET_HOURS: %w", err)
	}
	for _, b := range []struct {
		name string
		dst  *bool
		def  bool
	}{{"OPS_PPROF", &c.OpsPprof, false}, {"OPS_PPROF_ALLOW_REMOTE", &c.OpsPprofAllowRemote, false}, {"MIGRATE_ON_START", &c.MigrateOnStart, true}} {
		if *b.dst, err = boolVar(getenv, b.name, b.def); err != nil {
			return c, err
		}
	}
	if v := getenv("SECURE_COOKIES"); v != "" {
		if c.SecureCookies, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("SECURE_COOKIES: want true or false, got %q", v)
		}
	}
	if v := getenv("TRUSTED_PROXIES"); v != "" {
		for _, s := range strings.Split(v, ",") {
			_, n, perr := net.ParseCIDR(strings.TrimSpace(s))
			if perr != nil {
				return c, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR (e.g. 10.0.0.0/8)", s)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
	}
	return c, c.Validate()
}

// Validate checks cross-field rules and URL shapes.
func (c Config) Validate() error {
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("DATABASE_URL: want postgres://user@host:port/db, got %q", redact(c.DatabaseURL))
	}
	if c.DatabaseDirectURL != "" {
		if u, err := url.Parse(c.DatabaseDirectURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("DATABASE_DIRECT_URL: want postgres://user@host:port/db, got %q", redact(c.DatabaseDirectURL))
		}
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		return fmt.Errorf("REDIS_URL: want redis://host:port/db, got %q", redact(c.RedisURL))
	}
	switch c.RedisNotifications {
	case "", RedisNotificationsConfig, RedisNotificationsManaged:
	default:
		return fmt.Errorf("REDIS_NOTIFICATIONS: want config or managed, got %q", c.RedisNotifications)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("PUBLIC_URL: want http(s)://host[:port], got %q", c.PublicURL)
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: want http(s)://host:port of an OTLP/HTTP collector, got %q", c.OTLPEndpoint)
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ADDR: want host:port, got %q", c.Addr)
	}
	if _, _, err := net.SplitHostPort(c.SimulatorAddr); err != nil {
		return fmt.Errorf("SIMULATOR_ADDR: want host:port, got %q", c.SimulatorAddr)
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if err != nil || !isLoopback(host) {
			return fmt.Errorf("DEBUG_ADDR: want a loopback host:port such as 127.0.0.1:6060 (the profiler must not be reachable from outside), got %q", c.DebugAddr)
		}
	}
	if c.OpsAddr != "" {
		host, _, err := net.SplitHostPort(c.OpsAddr)
		if err != nil {
			return fmt.Errorf("OPS_ADDR: want host:port such as :9090 or 127.0.0.1:9090, got %q", c.OpsAddr)
		}
		if c.OpsPprof && !c.OpsPprofAllowRemote && !isLoopback(host) {
			return fmt.Errorf("OPS_PPROF: the profiler is only served on a loopback OPS_ADDR (such as 127.0.0.1:9090), got %q; set OPS_PPROF_ALLOW_REMOTE=true if the port is private", c.OpsAddr)
		}
		if c.DebugAddr != "" && c.DebugAddr == c.OpsAddr {
			return fmt.Errorf("DEBUG_ADDR: same address as OPS_ADDR (%q); unset DEBUG_ADDR and set OPS_PPROF=true to serve the profiler there", c.OpsAddr)
		}
	} else if c.OpsPprof {
		return errors.New("OPS_PPROF: needs OPS_ADDR (the profiler is served on the ops listener)")
	}
	if c.ShutdownDelay < 0 {
		return fmt.Errorf("SHUTDOWN_DELAY: must not be negative, got %s", c.ShutdownDelay)
	}
	switch c.Role {
	case RoleAll, RoleWeb, RoleWorker:
	default:
		return fmt.Errorf("ROLE: want all, web or worker, got %q", c.Role)
	}
	if c.RetryBaseDelay <= 0 {
		return fmt.Errorf("RETRY_BASE_DELAY: must be positive, got %s", c.RetryBaseDelay)
	}
	if c.RetryMaxDelay < c.RetryBaseDelay {
		return fmt.Errorf("RETRY_MAX_DELAY: must be at least RETRY_BASE_DELAY (%s), got %s", c.RetryBaseDelay, c.RetryMaxDelay)
	}
	if c.JobTimeout < time.Second {
		return fmt.Errorf("JOB_TIMEOUT: must be at least 1s, got %s", c.JobTimeout)
	}
	if c.RescueAfter < c.JobTimeout {
		return fmt.Errorf("RESCUE_AFTER: must be at least JOB_TIMEOUT (%s), got %s", c.JobTimeout, c.RescueAfter)
	}
	if c.WorkerLivenessInterval < 100*time.Millisecond || c.WorkerLivenessInterval > time.Minute {
		return fmt.Errorf("WORKER_LIVENESS_INTERVAL: must be between 100ms and 1m, got %s", c.WorkerLivenessInterval)
	}
	if c.AuditRetention < 24*time.Hour {
		return fmt.Errorf("AUDIT_RETENTION: must be at least 1d, got %s", c.AuditRetention)
	}
	if c.BreakerWindow < 0 || c.BreakerCooldown < 0 {
		return fmt.Errorf("BREAKER_WINDOW, BREAKER_COOLDOWN: must not be negative, got %s and %s", c.BreakerWindow, c.BreakerCooldown)
	}
	if c.ChannelPollInterval < 0 {
		return fmt.Errorf("ChannelPollInterval: must not be negative, got %s", c.ChannelPollInterval)
	}
	if c.JobFetchPollInterval < 0 {
		return fmt.Errorf("JobFetchPollInterval: must not be negative, got %s", c.JobFetchPollInterval)
	}
	if (c.PasswordHashMemoryKiB == 0) != (c.PasswordHashTime == 0) {
		return fmt.Errorf("PasswordHashMemoryKiB and PasswordHashTime: set both or neither, got %d and %d", c.PasswordHashMemoryKiB, c.PasswordHashTime)
	}
	if c.SimulatorStep < 0 {
		return fmt.Errorf("SIMULATOR_STEP: must not be negative, got %s", c.SimulatorStep)
	}
	if c.ChannelsConfig != "" {
		if _, err := os.Stat(c.ChannelsConfig); err != nil {
			return fmt.Errorf("CHANNELS_CONFIG: cannot read %q: %v", c.ChannelsConfig, err)
		}
	}
	if c.SimulatorSecretFile != "" {
		if _, err := os.Stat(c.SimulatorSecretFile); err != nil {
			return fmt.Errorf("SIMULATOR_SECRET_FILE: cannot read %q: %v", c.SimulatorSecretFile, err)
		}
	}
	return nil
}

// Runs reports whether this process runs the given part (web or worker).
func (c Config) Runs(part string) bool { return c.Role == RoleAll || c.Role == part }

// isLoopback reports whether a listen host only accepts local connections ("" and 0.0.0.0 do not).
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %q", name, v)
	}
	return b, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func intVar(getenv func(string) string, name string, def, min, max int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s: want a whole number from %d to %d, got %q", name, min, max, v)
	}
	return n, nil
}

func durVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: want a duration like 2s or 500ms, got %q", name, v)
	}
	return d, nil
}

// daysVar reads a duration that may also be written in whole days ("400d"), as retention periods are.
func daysVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("%s: want a number of days like 400d or a duration like 9600h, got %q", name, v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: want a number of days like 400d or a duration like 9600h, got %q", name, v)
	}
	return d, nil
}

// redact hides a password in a URL so errors and logs never print it.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// StreamTiming mirrors internal/live.Timing field for field (the app converts one into the other),
// so the configuration does not import the package it configures.
type StreamTiming struct {
	Tick           time.Duration // polling while degraded, heartbeat and session check cadence
	HeartbeatTicks int           // ticks between keep-alive comments
	SessionTicks   int           // ticks between session checks
	WriteTimeout   time.Duration // per write
	CountsEvery    time.Duration // the list's status counts are refreshed at most this often
	FeedEvery      time.Duration // a detail feed renders at most this often
	ListEvery      time.Duration // a list feed reads at most this often
}

// zoneVar reads an IANA time zone name ("Asia/Seoul", "UTC"); "Local" is refused (it would be
// whatever the server's machine is set to).
func zoneVar(getenv func(string) string, name, def string) (*time.Location, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		v = def
	}
	loc, err := time.LoadLocation(v)
	if err != nil || v == "Local" {
		return nil, fmt.Errorf("%s: want an IANA time zone name such as Asia/Seoul or UTC, got %q", name, v)
	}
	return loc, nil
}

// ConfiguredPublicURL is PUBLIC_URL when it was set, "" when PublicURL is only the default
// (http://ADDR, often not what browsers reach): the stores pages then build the OAuth redirect
// URI from the request's host.
func (c Config) ConfiguredPublicURL() string {
	if c.publicURLSet {
		return c.PublicURL
	}
	return ""
}
