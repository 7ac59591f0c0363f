#!/usr/bin/env bash
# A private postfix instance on a loopback address, for integration tests (needs root).
#
#   scripts/peers/postfix.sh start DIR NAME IP PORT_STARTTLS PORT_IMPLICIT CERTDIR VARIANT
#   scripts/peers/postfix.sh stop DIR
#
# NAME is the host name the instance uses (myhostname; banner "220 NAME ESMTP probe").
# VARIANT: default  TLS 1.0-1.3 as Debian's postfix/OpenSSL give them (anon DH suites included)
#          tls12    TLS 1.2 only
#          legacy   TLS 1.0/1.1 only, static-RSA AES128-SHA and CAMELLIA128-SHA, @SECLEVEL=0
# Certificate files: KEY, CERT, CHAIN from the environment, else CERTDIR/leaf.key, CERTDIR/leaf.crt,
# CERTDIR/int.crt. CHAIN= (set but empty) sends the leaf alone (missing-intermediate peer).
# DIR holds main.cf/master.cf (config_directory), queue/, data/ and maillog. start returns when
# the STARTTLS port shows a 220 banner and the implicit-TLS port completes a handshake and shows
# 220 (bounded retries). Several instances with different DIR and IP:PORT pairs run side by side.
# Only 127.0.0.0/8 addresses are accepted.
set -euo pipefail

die() { echo "postfix.sh: error: $*" >&2; exit 1; }
usage() {
  echo "usage: postfix.sh start DIR NAME IP PORT_STARTTLS PORT_IMPLICIT CERTDIR default|tls12|legacy" >&2
  echo "       postfix.sh stop DIR" >&2
  exit 2
}

pid_alive() {
  local st
  [ -e "/proc/$1" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st%% *}" != Z ]
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

wait_ready() {
  local ip=$1 ps=$2 pi=$3 dir=$4 tries=0 max=100 b
  while :; do
    b=$(smtp_banner "$ip" "$ps" || true)
    case "$b" in 220\ *) break ;; esac
    tries=$((tries + 1))
    [ $tries -lt $max ] || return 1
    sleep 0.05
  done
  tries=0
  while :; do
    b=$(tls_banner "$ip" "$pi" || true)
    case "$b" in 220\ *) return 0 ;; esac
    tries=$((tries + 1))
    [ $tries -lt 10 ] || return 1
    sleep 0.1
  done
}

master_pid() { # DIR -> pid of a running master, or nothing
  local f="$1/queue/pid/master.pid" p
  [ -r "$f" ] || return 0
  p=$(tr -d ' \n' < "$f")
  [[ "$p" =~ ^[0-9]+$ ]] && pid_alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = master ] && echo "$p"
  return 0
}

# group_members PGID: live (non-zombie) processes whose process group is PGID. The master
# calls setsid(), so it and every daemon it spawned (smtpd, qmgr, ...) share its pid as pgid.
group_members() {
  awk -v pg="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " ")
                    if (a[3] == pg && a[1] != "Z") { split(FILENAME, f, "/"); print f[3] } }' \
      /proc/[0-9]*/stat 2>/dev/null || true
}

# postfix-script warnings that are expected with a private queue directory
BENIGN='warning: (not owned by root|group or other writable):'
show_failure() { # DIR
  echo "--- postfix check:" >&2
  script -qec "postfix -c '$1' check" /dev/null 2>&1 | grep -v -E "$BENIGN" >&2 || true
  echo "--- tail of $1/maillog:" >&2
  grep -v -E "$BENIGN" "$1/maillog" 2>/dev/null | tail -n 15 >&2 || true
}

cmd_start() {
  [ $# -eq 7 ] || usage
  local dir=$1 name=$2 ip=$3 ps=$4 pi=$5 certdir=$6 variant=$7
  [ "$(id -u)" = 0 ] || die "must run as root (postfix master binds and drops privileges)"
  command -v postfix >/dev/null || die "postfix not installed (scripts/deps.sh --with-peers)"
  [[ "$ip" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "IP must be in 127.0.0.0/8, got '$ip'"
  [[ "$ps" =~ ^[0-9]+$ && "$pi" =~ ^[0-9]+$ && "$ps" != "$pi" ]] || die "bad ports '$ps' '$pi'"
  [[ "$name" =~ ^[A-Za-z0-9.-]+$ ]] || die "bad NAME '$name'"
  local extra
  case "$variant" in
    default) extra="" ;;
    tls12) extra="smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2, <=TLSv1.2" ;;
    legacy) extra="smtpd_tls_protocols = >=TLSv1, <=TLSv1.1
smtpd_tls_mandatory_protocols = >=TLSv1, <=TLSv1.1
smtpd_tls_ciphers = medium
smtpd_tls_mandatory_ciphers = medium
tls_medium_cipherlist = AES128-SHA:CAMELLIA128-SHA:@SECLEVEL=0" ;;
    *) die "VARIANT must be default, tls12 or legacy, got '$variant'" ;;
  esac

  local key=${KEY:-$certdir/leaf.key} cert=${CERT:-$certdir/leaf.crt} chain=${CHAIN-$certdir/int.crt} f
  for f in "$key" "$cert" ${chain:+"$chain"}; do
    [ -r "$f" ] || die "certificate file '$f' not readable"
  done
  abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
  key=$(abspath "$key"); cert=$(abspath "$cert"); [ -z "$chain" ] || chain=$(abspath "$chain")

  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd)
  case "$dir" in *[[:space:],]*) die "DIR must not contain spaces or commas: '$dir'" ;; esac
  [ -z "$(master_pid "$dir")" ] || die "postfix already running for $dir (pid $(master_pid "$dir")); run: postfix.sh stop $dir"

  for f in "$ps" "$pi"; do
    ! port_busy "$ip" "$f" || die "$ip:$f is already in use by another process"
  done
  mkdir -p "$dir/queue" "$dir/data"
  chown root:root "$dir" "$dir/queue"
  chmod 755 "$dir" "$dir/queue"
  chown postfix:postfix "$dir/data"
  runuser -u postfix -- test -w "$dir/data" 2>/dev/null \
    || die "user postfix cannot reach $dir (every parent directory needs o+x, e.g. chmod 755 on a mktemp -d dir)"
  rm -f "$dir/queue/pid/master.pid"

  cat > "$dir/main.cf" <<EOF
# generated by scripts/peers/postfix.sh ($variant)
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $name
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP probe
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
smtpd_tls_chain_files = $key, $cert${chain:+, $chain}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
# scanners open many connections in a burst: no per-client limits
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
$extra
EOF
  cat > "$dir/master.cf" <<EOF
# generated by scripts/peers/postfix.sh: explicit address:port binds, chroot column n
$ip:$ps inet n - n - - smtpd
$ip:$pi inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF

  # Postfix's config reader waits (in 0.3 s naps) until main.cf is at least ~2 s old, to avoid
  # reading a half-written file; that costs 2.4 s per start. The files are complete, so backdate them.
  touch -d "@$(( $(date +%s) - 10 ))" "$dir/main.cf" "$dir/master.cf"

  # postfix(1) prints fatal errors only to a tty; show them via script(1) on failure.
  if ! postfix -c "$dir" start >"$dir/start.out" 2>&1; then
    cat "$dir/start.out" >&2
    show_failure "$dir"
    die "postfix -c $dir start failed"
  fi
  if ! wait_ready "$ip" "$ps" "$pi" "$dir"; then
    show_failure "$dir"
    postfix -c "$dir" stop >/dev/null 2>&1 || true
    die "postfix on $ip:$ps/$pi did not show a 220 banner in time"
  fi
  [ -n "$(master_pid "$dir")" ] || { show_failure "$dir"; die "postfix master for $dir is not running after start"; }
  echo "postfix.sh: $variant instance $name on $ip:$ps (STARTTLS) $ip:$pi (implicit), master pid $(master_pid "$dir")" >&2
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid i
  [ -f "$dir/main.cf" ] || die "$dir/main.cf not found"
  pid=$(master_pid "$dir")
  if [ -z "$pid" ]; then
    echo "postfix.sh: no running master for $dir" >&2
    return 0
  fi
  postfix -c "$dir" stop >/dev/null 2>&1 || echo "postfix.sh: 'postfix -c $dir stop' failed, signalling master $pid" >&2
  # Wait for the master and its children (smtpd processes still in a session) to be gone.
  for i in $(seq 1 100); do
    [ -n "$(group_members "$pid")" ] || return 0
    [ "$i" -ne 60 ] || kill -TERM -- "-$pid" 2>/dev/null || true
    sleep 0.05
  done
  echo "postfix.sh: processes of master $pid still there after 5 s, sending SIGKILL" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do [ -n "$(group_members "$pid")" ] || return 0; sleep 0.05; done
  die "postfix processes still running: $(group_members "$pid" | tr '\n' ' ')"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
