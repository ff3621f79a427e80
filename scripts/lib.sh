# Shared helpers for the scripts in this folder. Source it; it does not run anything by itself.

log() { printf '%s: %s\n' "${SCRIPT_NAME:-scripts}" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# apt_install installs Debian packages without ever reading stdin (CI has none). Root only.
apt_updated=
apt_install() {
	if ! command -v apt-get >/dev/null; then
		die "cannot install $*: no apt-get on this machine; install them with your package manager"
	fi
	export DEBIAN_FRONTEND=noninteractive
	if [[ -z $apt_updated ]]; then
		log "apt-get update"
		apt-get update -q </dev/null >&2
		apt_updated=1
	fi
	log "apt-get install -y $*"
	apt-get install -y -q --no-install-recommends "$@" </dev/null >&2
}

# need_packages ensures each command exists, installing its Debian package when running as root.
# Arguments are command:package pairs, e.g. need_packages redis-server:redis-server.
need_packages() {
	local pair cmd pkg missing=() pkgs=()
	for pair in "$@"; do
		cmd=${pair%%:*} pkg=${pair#*:}
		if ! command -v "$cmd" >/dev/null; then
			missing+=("$cmd")
			pkgs+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	if ! is_root; then
		die "missing ${missing[*]}; install them (Debian/Ubuntu: sudo apt-get install -y ${pkgs[*]}) and run again"
	fi
	apt_install "${pkgs[@]}"
	for cmd in "${missing[@]}"; do
		command -v "$cmd" >/dev/null || die "installed ${pkgs[*]} but $cmd is still not on PATH"
	done
}

# pg_bindir prints the directory holding initdb/pg_ctl: Debian keeps them off PATH under
# /usr/lib/postgresql/<major>/bin. Prints nothing when PostgreSQL server binaries are absent.
pg_bindir() {
	local d best= bestv=0 v
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl ]] || continue
		v=${d#/usr/lib/postgresql/}
		v=${v%%/*}
		[[ $v =~ ^[0-9]+$ ]] || continue
		if ((v > bestv)); then
			best=$d bestv=$v
		fi
	done
	if [[ -n $best ]]; then
		echo "$best"
	elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"
	fi
}
