#!/usr/bin/env bash
# A private exim 4.96 (GnuTLS) on a loopback address, for integration tests (needs root).
#
#   scripts/peers/exim.sh start DIR IP PORT_STARTTLS PORT_IMPLICIT CERTDIR [PRIORITY]
#   scripts/peers/exim.sh stop DIR
#
# PRIORITY is a GnuTLS priority string (default NORMAL). Examples:
#   NORMAL:-VERS-ALL:+VERS-TLS1.2                                   TLS 1.2 only
#   NONE:+VERS-TLS1.0:+VERS-TLS1.2:+RSA:+ECDHE-RSA:+3DES-CBC:+ARCFOUR-128:+AES-128-CBC:+SHA1:+COMP-NULL:+SIGN-ALL:+CURVE-ALL
#                                                                   RC4 and 3DES, static RSA and ECDHE
# It is written to DIR/priority and read by exim per connection, so rewriting that file changes
# the server's TLS policy without a restart.
# Exim isn't apt-installed (MTAs conflict with postfix): exim4-daemon-light and exim4-base are
# fetched with `apt-get download` and unpacked with `dpkg -x` into $EXIM_CACHE (default
# /var/cache/mxscan/exim) once; later starts reuse it. The compiled-in user Debian-exim is created
# when missing. Certificates: KEY, CERT, CHAIN from the environment, else CERTDIR/leaf.key,
# CERTDIR/leaf.crt, CERTDIR/int.crt (CHAIN= sends the leaf alone); they are copied into DIR,
# readable by Debian-exim (exim drops privileges before TLS). EXIM_HOSTNAME sets
# primary_hostname (default mx1.example.test).
# The daemon runs in the foreground (-bdf), detached with setsid; its pid is in DIR/exim.pid.
# start returns once the STARTTLS port shows a 220 banner and the implicit port handshakes and
# shows 220 (bounded retries).
set -euo pipefail

die() { echo "exim.sh: error: $*" >&2; exit 1; }
usage() {
  echo "usage: exim.sh start DIR IP PORT_STARTTLS PORT_IMPLICIT CERTDIR [PRIORITY]" >&2
  echo "       exim.sh stop DIR" >&2
  exit 2
}

running() {  # PID exists and is not a zombie
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}
pid_alive() {  # ... and its command name is exim4 (guards against pid reuse)
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = exim4 ] && running "$1"
}

# port_busy IP PORT: something already accepts connections there.
# shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# smtp_banner IP PORT: print the first line the server sends on a plain TCP connection.
# shellcheck disable=SC2016  # expanded by the inner bash
smtp_banner() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf "QUIT\r\n" >&3
    printf "%s\n" "${line%$'"'"'\r'"'"'}"' "$1" "$2" 2>/dev/null
}

# tls_banner IP PORT: TLS handshake (implicit TLS), print the first line of the SMTP dialogue.
tls_banner() {
  local fd psub line=""
  exec {fd}< <(exec timeout 5 openssl s_client -connect "$1:$2" -quiet -ign_eof </dev/null 2>/dev/null)
  psub=$!
  IFS= read -r -t 4 -u "$fd" line || true
  exec {fd}<&-
  kill "$psub" 2>/dev/null || true
  printf '%s\n' "${line%$'\r'}"
}

CACHE=${EXIM_CACHE:-/var/cache/mxscan/exim}
EXIM=$CACHE/root/usr/sbin/exim4

ensure_exim() {
  [ -x "$EXIM" ] && [ -f "$CACHE/.complete" ] && return 0
  mkdir -p "$CACHE" 2>/dev/null || die "cannot create $CACHE"
  (
    flock -w 120 9 || die "timeout waiting for lock $CACHE/.lock"
    [ -x "$EXIM" ] && [ -f "$CACHE/.complete" ] && exit 0
    echo "exim.sh: fetching exim4-daemon-light exim4-base into $CACHE" >&2
    rm -rf "$CACHE/dl" "$CACHE/root"
    mkdir -p "$CACHE/dl"
    # apt-get download as root warns that _apt can't write the directory; harmless.
    if ! (cd "$CACHE/dl" && apt-get download exim4-daemon-light exim4-base) >"$CACHE/download.log" 2>&1; then
      # Package lists may be missing (e.g. a slimmed image): refresh them once and retry.
      echo "exim.sh: apt-get download failed, running apt-get update and retrying" >&2
      apt-get update -qq >>"$CACHE/download.log" 2>&1 || true
      (cd "$CACHE/dl" && apt-get download exim4-daemon-light exim4-base) >>"$CACHE/download.log" 2>&1 \
        || die "apt-get download exim4-daemon-light exim4-base failed:
$(tail -n 5 "$CACHE/download.log")"
    fi
    for deb in "$CACHE"/dl/*.deb; do dpkg -x "$deb" "$CACHE/root" || die "dpkg -x $deb failed"; done
    [ -x "$EXIM" ] || die "no usr/sbin/exim4 in the downloaded packages"
    rm -rf "$CACHE/dl"
    touch "$CACHE/.complete"
  ) 9>"$CACHE/.lock"
  [ -x "$EXIM" ] || exit 1
  local missing
  missing=$(ldd "$EXIM" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
  [ -z "$missing" ] || die "exim4 needs missing libraries: $missing(scripts/deps.sh --with-peers installs libidn12)"
}

ensure_user() {
  getent passwd Debian-exim >/dev/null && return 0
  echo "exim.sh: creating system user Debian-exim" >&2
  adduser --system --group --no-create-home --home /nonexistent --quiet --allow-bad-names Debian-exim \
    || die "could not create user Debian-exim"
}

cmd_start() {
  [ $# -eq 5 ] || [ $# -eq 6 ] || usage
  local dir=$1 ip=$2 ps=$3 pi=$4 certdir=$5 prio=${6:-NORMAL}
  local host=${EXIM_HOSTNAME:-mx1.example.test}
  [ "$(id -u)" = 0 ] || die "must run as root (exim -C with a private config, privilege drop)"
  [[ "$ip" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "IP must be in 127.0.0.0/8, got '$ip'"
  [[ "$ps" =~ ^[0-9]+$ && "$pi" =~ ^[0-9]+$ && "$ps" != "$pi" ]] || die "bad ports '$ps' '$pi'"
  [[ "$host" =~ ^[A-Za-z0-9.-]+$ ]] || die "bad EXIM_HOSTNAME '$host'"
  case "$prio" in *$'\n'*|"") die "bad PRIORITY" ;; esac

  local key=${KEY:-$certdir/leaf.key} cert=${CERT:-$certdir/leaf.crt} chain=${CHAIN-$certdir/int.crt} f
  for f in "$key" "$cert" ${chain:+"$chain"}; do
    [ -r "$f" ] || die "certificate file '$f' not readable"
  done

  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd)
  case "$dir" in *[[:space:]:\;]*) die "DIR must not contain spaces, ':' or ';': '$dir'" ;; esac
  if [ -f "$dir/exim.pid" ] && pid_alive "$(cat "$dir/exim.pid")"; then
    die "exim already running for $dir (pid $(cat "$dir/exim.pid")); run: exim.sh stop $dir"
  fi
  rm -f "$dir/exim.pid"

  for f in "$ps" "$pi"; do
    ! port_busy "$ip" "$f" || die "$ip:$f is already in use by another process"
  done
  ensure_exim
  ensure_user

  mkdir -p "$dir/spool" "$dir/log"
  chmod 755 "$dir"
  chown Debian-exim:Debian-exim "$dir/spool" "$dir/log"
  runuser -u Debian-exim -- test -w "$dir/log" 2>/dev/null \
    || die "user Debian-exim cannot reach $dir (every parent directory needs o+x, e.g. chmod 755 on a mktemp -d dir)"
  cat "$cert" ${chain:+"$chain"} > "$dir/leaf-chain.crt"
  cp "$key" "$dir/leaf.key"
  chown root:Debian-exim "$dir/leaf-chain.crt" "$dir/leaf.key"
  chmod 640 "$dir/leaf-chain.crt" "$dir/leaf.key"
  printf '%s\n' "$prio" > "$dir/priority"
  chmod 644 "$dir/priority"

  cat > "$dir/exim.conf" <<EOF
# generated by scripts/peers/exim.sh
exim_path = $EXIM
keep_environment =
primary_hostname = $host
spool_directory = $dir/spool
log_file_path = $dir/log/%slog
pid_file_path = $dir/exim-self.pid
local_interfaces = <; $ip.$ps ; $ip.$pi
daemon_smtp_ports = $ps : $pi
tls_on_connect_ports = $pi
smtp_banner = \$primary_hostname ESMTP probe
# scanners open many connections: default 20 gives "too many connections"
smtp_accept_max = 500
smtp_connect_backlog = 128
smtp_max_synprot_errors = 100
# fail at once if a port is taken (default: 9 retries 30 s apart)
daemon_startup_retries = 0
tls_advertise_hosts = *
tls_certificate = $dir/leaf-chain.crt
tls_privatekey = $dir/leaf.key
# GnuTLS priority string, re-read per connection
tls_require_ciphers = \${if exists{$dir/priority}{\${readfile{$dir/priority}{}}}{NORMAL}}
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  deny message = no relay in probe
begin routers
begin transports
EOF

  "$EXIM" -C "$dir/exim.conf" -bV >"$dir/check.out" 2>&1 \
    || die "exim rejected its config:
$(grep -v -E '^(Exim version|Copyright|Berkeley|Support|Lookups|Authenticators|Routers|Transports|Malware|Fixed|Configure owner|Size of|Compiler|Library)' "$dir/check.out" | head -n 10)"

  : > "$dir/exim.out"
  setsid "$EXIM" -C "$dir/exim.conf" -bdf </dev/null >"$dir/exim.out" 2>&1 &
  local pid=$! tries=0 b
  echo "$pid" > "$dir/exim.pid"
  fail() {
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$dir/exim.pid"
    die "$1
--- $dir/exim.out:
$(tail -n 10 "$dir/exim.out")
--- $dir/log/paniclog / mainlog:
$(tail -n 10 "$dir/log/paniclog" 2>/dev/null; tail -n 10 "$dir/log/mainlog" 2>/dev/null)"
  }
  while :; do
    running "$pid" || fail "exim exited during start-up"
    b=$(smtp_banner "$ip" "$ps" || true)
    case "$b" in 220\ *) break ;; esac
    tries=$((tries + 1))
    [ $tries -lt 100 ] || fail "no 220 banner on $ip:$ps after $tries tries"
    sleep 0.05
  done
  tries=0
  while :; do
    b=$(tls_banner "$ip" "$pi" || true)
    case "$b" in 220\ *) break ;; esac
    tries=$((tries + 1))
    [ $tries -lt 10 ] || fail "no TLS handshake + 220 banner on $ip:$pi (check the priority string and $dir/log/mainlog)"
    sleep 0.1
  done
  echo "exim.sh: exim pid $pid on $ip:$ps (STARTTLS) $ip:$pi (implicit), priority $prio" >&2
}

# group_members PGID: live (non-zombie) exim4 processes whose process group is PGID.
group_members() {
  awk -v pg="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " ")
                    c = $0; sub(/^[^(]*\(/, "", c); sub(/\) [^)]*$/, "", c)
                    if (a[3] == pg && a[1] != "Z" && c == "exim4") { split(FILENAME, f, "/"); print f[3] } }' \
      /proc/[0-9]*/stat 2>/dev/null || true
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid
  [ -f "$dir/exim.pid" ] || { echo "exim.sh: no $dir/exim.pid, nothing to stop" >&2; return 0; }
  pid=$(cat "$dir/exim.pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || die "bad pid file $dir/exim.pid"
  # The daemon was started with setsid, so it leads its own process group, and the children
  # still serving SMTP sessions are in that group: signal the group, or they keep writing to DIR.
  if pid_alive "$pid" || [ -n "$(group_members "$pid")" ]; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -n "$(group_members "$pid")" ] || break
      sleep 0.05
    done
    if [ -n "$(group_members "$pid")" ]; then
      echo "exim.sh: exim group $pid ignored SIGTERM for 5 s, sending SIGKILL" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do [ -n "$(group_members "$pid")" ] || break; sleep 0.05; done
      [ -z "$(group_members "$pid")" ] || die "exim processes still running: $(group_members "$pid" | tr '\n' ' ')"
    fi
  fi
  rm -f "$dir/exim.pid"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
