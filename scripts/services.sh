#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis named by DATABASE_URL and REDIS_URL answer.
#
#   scripts/services.sh ensure   reachable? nothing to do. Otherwise, when the URL points at this
#                                machine (127.0.0.1, localhost, ::1), start a private server for it
#                                under .local/ (installing the Debian packages first when running as
#                                root and they are missing). Idempotent; never reads stdin.
#   scripts/services.sh stop     stop the private servers started under .local/ (only those).
#   scripts/services.sh status   say what answers and which private servers run.
#
# The database itself is created by the binary (db.EnsureDatabase), so this script only needs a server.
set -euo pipefail
SCRIPT_NAME=services.sh
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/distribution?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
LOCAL_DIR=${LOCAL_DIR:-$PWD/.local}

# parse_url URL sets url_scheme url_user url_host url_port url_path.
parse_url() {
	local re='^([A-Za-z][A-Za-z0-9+.-]*)://(([^@/]*)@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]*))?(/[^?]*)?(\?.*)?$'
	[[ $1 =~ $re ]] || return 1
	url_scheme=${BASH_REMATCH[1]}
	url_user=${BASH_REMATCH[3]%%:*}
	url_host=${BASH_REMATCH[4]}
	url_host=${url_host#[}
	url_host=${url_host%]}
	url_port=${BASH_REMATCH[6]}
	url_path=${BASH_REMATCH[7]}
}

is_local_host() {
	case $1 in
	127.0.0.1 | localhost | ::1 | "") return 0 ;;
	*) return 1 ;;
	esac
}

tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL

pg_reachable() {
	if command -v pg_isready >/dev/null; then
		pg_isready -q -t 3 -d "$DATABASE_URL"
	else
		tcp_open "$pg_host" "$pg_port"
	fi
}

# run_pg runs a PostgreSQL server command as the owner of the private data directory: postgres
# refuses to run as root, so root hands the work to the unprivileged "postgres" user.
run_pg() {
	if is_root; then
		# From /: the checkout may not be readable by the postgres user.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

ensure_postgres_user() {
	is_root || return 0
	id postgres >/dev/null 2>&1 && return 0
	log "creating system user postgres (the server refuses to run as root)"
	useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

pg_start_private() {
	local bindir dir data
	bindir=$(pg_bindir)
	if [[ -z $bindir ]]; then
		if ! is_root; then
			die "PostgreSQL is not reachable at $pg_host:$pg_port and its server binaries (initdb, pg_ctl) are not installed; install them (Debian/Ubuntu: sudo apt-get install -y postgresql) or point DATABASE_URL at a running server"
		fi
		apt_install postgresql
		# Debian's package may have started its own cluster on the default port.
		if pg_reachable; then
			log "PostgreSQL answers on $pg_host:$pg_port after installing"
			return 0
		fi
		bindir=$(pg_bindir)
		[[ -n $bindir ]] || die "installed postgresql but found no initdb/pg_ctl"
	fi
	ensure_postgres_user

	dir=$LOCAL_DIR/postgres-$pg_port
	data=$dir/data
	mkdir -p "$dir"
	if is_root; then
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			# The checkout is not reachable by the postgres user (e.g. under /root): keep the
			# cluster in a directory it can use and link it from .local/.
			local alt=/var/tmp/distribution-postgres-$pg_port
			log "user postgres cannot write $dir; keeping the cluster in $alt"
			rmdir "$dir" 2>/dev/null || true
			mkdir -p "$alt"
			chown postgres: "$alt"
			chmod 0700 "$alt"
			ln -sfn "$alt" "$dir"
		fi
		dir=$(readlink -f "$dir")
		data=$dir/data
	fi
	if [[ ! -f $data/PG_VERSION ]]; then
		log "initdb $data (trust auth on loopback, superuser ${pg_user})"
		run_pg "$bindir/initdb" -D "$data" -U "$pg_user" --auth=trust --encoding=UTF8 --locale=C \
			>"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			die "initdb failed"
		}
	fi
	local listen=127.0.0.1
	case $pg_host in
	localhost) listen=localhost ;;
	::1) listen=::1 ;;
	esac
	log "starting private PostgreSQL on $pg_host:$pg_port (data $data, log $dir/postgres.log)"
	# TCP only (no Unix socket): a socket path under a deep checkout can exceed the 107-byte limit.
	if ! run_pg "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
		-o "-p $pg_port -c listen_addresses=$listen -c unix_socket_directories=''" start >/dev/null; then
		tail -n 20 "$dir/postgres.log" >&2 || true
		die "PostgreSQL did not start; see $dir/postgres.log"
	fi
}

ensure_postgres() {
	parse_url "$DATABASE_URL" || die "DATABASE_URL is not a URL: postgres://user@host:port/db"
	case $url_scheme in postgres | postgresql) ;; *) die "DATABASE_URL: want postgres://..., got scheme $url_scheme" ;; esac
	pg_host=$url_host pg_port=${url_port:-5432} pg_user=${url_user:-postgres}
	[[ -n $pg_host ]] || pg_host=127.0.0.1
	if pg_reachable; then
		log "PostgreSQL answers on $pg_host:$pg_port"
		return 0
	fi
	if ! is_local_host "$pg_host"; then
		die "PostgreSQL at $pg_host:$pg_port does not answer; it is not on this machine, so start it there"
	fi
	pg_start_private
	pg_reachable || die "PostgreSQL on $pg_host:$pg_port still does not answer"
	log "PostgreSQL answers on $pg_host:$pg_port"
}

# --------------------------------------------------------------------- Redis

redis_reachable() {
	if command -v redis-cli >/dev/null; then
		[[ $(timeout 3 redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null) == PONG ]]
	else
		tcp_open "$redis_host" "$redis_port"
	fi
}

redis_start_private() {
	if ! command -v redis-server >/dev/null; then
		if ! is_root; then
			die "Redis is not reachable at $redis_host:$redis_port and redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install -y redis-server) or point REDIS_URL at a running server"
		fi
		apt_install redis-server redis-tools
		if redis_reachable; then
			log "Redis answers on $redis_host:$redis_port after installing"
			return 0
		fi
	fi
	local dir=$LOCAL_DIR/redis-$redis_port bind=127.0.0.1
	[[ $redis_host == ::1 ]] && bind=::1
	mkdir -p "$dir"
	log "starting private Redis on $redis_host:$redis_port (dir $dir, no persistence)"
	redis-server --bind "$bind" --port "$redis_port" --save "" --appendonly no --daemonize yes \
		--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >/dev/null
	local i
	for ((i = 0; i < 100; i++)); do
		redis_reachable && return 0
		sleep 0.1 # poll: the daemon needs a moment to bind its port
	done
	tail -n 20 "$dir/redis.log" >&2 || true
	die "Redis did not start; see $dir/redis.log"
}

ensure_redis() {
	parse_url "$REDIS_URL" || die "REDIS_URL is not a URL: redis://host:port/db"
	case $url_scheme in
	redis | rediss) ;;
	unix)
		# A socket path, e.g. a test's private server: only check it.
		local sock=${REDIS_URL#unix://}
		sock=${sock%%\?*}
		[[ -S $sock ]] || die "REDIS_URL socket $sock does not exist"
		log "Redis socket $sock exists"
		return 0
		;;
	*) die "REDIS_URL: want redis://..., got scheme $url_scheme" ;;
	esac
	redis_host=${url_host:-127.0.0.1} redis_port=${url_port:-6379}
	if redis_reachable; then
		log "Redis answers on $redis_host:$redis_port"
		return 0
	fi
	if ! is_local_host "$redis_host"; then
		die "Redis at $redis_host:$redis_port does not answer; it is not on this machine, so start it there"
	fi
	redis_start_private
	log "Redis answers on $redis_host:$redis_port"
}

# ---------------------------------------------------------------- stop/status

stop_private() {
	local dir bindir pid stopped=0
	shopt -s nullglob
	for dir in "$LOCAL_DIR"/postgres-*; do
		[[ -f $dir/data/postmaster.pid ]] || continue
		dir=$(readlink -f "$dir")
		bindir=$(pg_bindir)
		[[ -n $bindir ]] || die "cannot stop $dir: pg_ctl not found"
		log "stopping private PostgreSQL in $dir"
		run_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
		stopped=1
	done
	for dir in "$LOCAL_DIR"/redis-*; do
		[[ -f $dir/redis.pid ]] || continue
		pid=$(<"$dir/redis.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]]; then
			log "stopping private Redis in $dir (pid $pid)"
			kill "$pid"
			local i
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1 # poll: wait for the daemon to exit
			done
			stopped=1
		fi
		rm -f "$dir/redis.pid"
	done
	((stopped)) || log "no private servers running under $LOCAL_DIR"
}

status() {
	local rc=0
	parse_url "$DATABASE_URL" || die "DATABASE_URL is not a URL"
	pg_host=${url_host:-127.0.0.1} pg_port=${url_port:-5432}
	if pg_reachable; then log "PostgreSQL $pg_host:$pg_port: answers"; else
		log "PostgreSQL $pg_host:$pg_port: DOWN"
		rc=1
	fi
	parse_url "$REDIS_URL" || die "REDIS_URL is not a URL"
	redis_host=${url_host:-127.0.0.1} redis_port=${url_port:-6379}
	if [[ $url_scheme == unix ]]; then
		log "Redis: unix socket URL (not checked)"
	elif redis_reachable; then log "Redis $redis_host:$redis_port: answers"; else
		log "Redis $redis_host:$redis_port: DOWN"
		rc=1
	fi
	local d
	shopt -s nullglob
	for d in "$LOCAL_DIR"/postgres-*/data/postmaster.pid "$LOCAL_DIR"/redis-*/redis.pid; do
		log "private server: ${d%/*}"
	done
	return $rc
}

case ${1:-ensure} in
ensure)
	ensure_postgres
	ensure_redis
	;;
stop) stop_private ;;
status) status ;;
path)
	# PATH with the PostgreSQL server binaries first (tests start private servers with initdb).
	bindir=$(pg_bindir)
	echo "${bindir:+$bindir:}$PATH"
	;;
*) die "usage: $0 [ensure|stop|status|path]" ;;
esac
