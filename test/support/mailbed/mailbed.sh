#!/usr/bin/env bash
# mailbed.sh — loopback-only mail-server testbed for Yubin's tests, no systemd.
# Driven by test/support/mailbed.ts (startMailbed/testMailbed); usable by hand too.
# Adapted from the project's shared testbed for parallel test files: per-user passwd files so
# a user added while Dovecot runs works at once, restart-dovecot, an ECDSA certificate and a
# KILL stop (both faster), Dovecot's stdio detached, fail-fast when a daemon dies during
# start, and parallel first starts may race to create the mail OS user.
#
#   Dovecot 2.3 (POP3/IMAP, plain + STARTTLS + implicit TLS), Postfix's smtp-sink (fast SMTP
#   sink, no TLS, fake AUTH) and submit_sink.py (aiosmtpd: STARTTLS/TLS + real AUTH, stores
#   each message), all on 127.0.0.1, high ports, pidfiles in DIR.
#
#   mailbed.sh start DIR               build config under DIR, start daemons, wait for ports
#   mailbed.sh stop  DIR               stop exactly the PIDs recorded in DIR (and their children)
#   mailbed.sh restart-dovecot DIR     kill Dovecot (KILL, like a crash) and start it again
#   mailbed.sh status DIR              show recorded PIDs and whether they are alive
#   mailbed.sh fill  DIR USER N SIZE   append N distinct RFC 5322 messages (~SIZE bytes each) to
#                                      DIR/mail/USER/Maildir/new (works while running)
#   mailbed.sh clear DIR USER          empty USER's Maildir (mail and Dovecot index files)
#   mailbed.sh env   DIR               print shell exports (ports, users, CA file) for tests
#
# Ports = MAILBED_PORT_BASE (default 11000) + well-known port: POP3 11110, POP3S 11995,
# IMAP 11143, IMAPS 11993, SMTP (smtp-sink) 11025, SUBMIT (STARTTLS) 11587, SMTPS 11465.
# Each can also be set alone (MAILBED_POP3_PORT=...).  Users: alice/alice-pw, bob/bob-pw,
# carol/carol-pw, plaintext so that APOP and CRAM-MD5 work, one passwd-file line per user in
# DIR/users/NAME (read by Dovecot) and all of them in DIR/passwd (read by submit_sink.py).
# To add a user while running, write DIR/users/NAME (0644) and append the line to DIR/passwd:
# both are picked up at the next login, no restart.
# Other env: MAILBED_SINK_DUMP=1 (smtp-sink writes each message to DIR/sink/),
# MAILBED_SUBMIT_AUTH_REQUIRED=1, MAILBED_NO_SUBMIT=1, MAILBED_OS_USER (default mailbed),
# MAILBED_OAUTH2_INTROSPECTION_URL=http://127.0.0.1:PORT/introspect (POP3/IMAP also accept
# AUTH XOAUTH2 / OAUTHBEARER, each token checked by an RFC 7662 introspection POST to that
# URL whose answer must say {"active": true, "username": "<the login user>"}).
#
# Needs: dovecot-core dovecot-imapd dovecot-pop3d postfix (smtp-sink only) openssl python3,
# optional python3-aiosmtpd.  As root: mail is owned by a system user "mailbed" (created on
# first start) because Dovecot refuses mail access as UID 0; login/auth processes use the
# package's dovenull/dovecot users.  Non-root: everything runs as the invoking user.
set -euo pipefail

BASE=${MAILBED_PORT_BASE:-11000}            # ports are BASE + the well-known port number
POP3_PORT=${MAILBED_POP3_PORT:-$((BASE+110))}
POP3S_PORT=${MAILBED_POP3S_PORT:-$((BASE+995))}
IMAP_PORT=${MAILBED_IMAP_PORT:-$((BASE+143))}
IMAPS_PORT=${MAILBED_IMAPS_PORT:-$((BASE+993))}
SMTP_PORT=${MAILBED_SMTP_PORT:-$((BASE+25))}       # Postfix smtp-sink: fast, no TLS, fake AUTH
SUBMIT_PORT=${MAILBED_SUBMIT_PORT:-$((BASE+587))}  # aiosmtpd: STARTTLS + real AUTH
SMTPS_PORT=${MAILBED_SMTPS_PORT:-$((BASE+465))}    # aiosmtpd: implicit TLS + real AUTH
MAIL_USER=${MAILBED_OS_USER:-mailbed}       # OS account owning the mail (root mode only)
USERS="alice:alice-pw bob:bob-pw carol:carol-pw"
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# Debian's python (python3-aiosmtpd lives there); a pyenv shim may shadow python3 in PATH
PY=${MAILBED_PYTHON:-/usr/bin/python3}; [ -x "$PY" ] || PY=python3
has_submit() { [ "${MAILBED_NO_SUBMIT:-0}" != 1 ] && "$PY" -c 'import aiosmtpd' 2>/dev/null; }

die() { echo "mailbed: $*" >&2; exit 1; }
absdir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

# --- identity -------------------------------------------------------------------------------
resolve_ids() {
  if [ "$(id -u)" -eq 0 ]; then
    # parallel first starts race on /etc/passwd's lock: retry, and accept the other's useradd
    local try=0
    until id -u "$MAIL_USER" >/dev/null 2>&1; do
      useradd --system --no-create-home --home-dir /nonexistent \
              --shell /usr/sbin/nologin "$MAIL_USER" >/dev/null 2>&1 && break
      try=$((try+1)); [ $try -lt 50 ] || die "cannot create OS user $MAIL_USER"
      sleep 0.1
    done
    MUID=$(id -u "$MAIL_USER"); MGID=$(id -g "$MAIL_USER")
    # Dovecot's own unprivileged users (created by the Debian package); fall back to ours.
    INTERNAL_USER=dovecot; LOGIN_USER=dovenull; INTERNAL_GROUP=dovecot
    id -u dovecot  >/dev/null 2>&1 || { INTERNAL_USER=$MAIL_USER; INTERNAL_GROUP=$(id -gn "$MAIL_USER"); }
    id -u dovenull >/dev/null 2>&1 || LOGIN_USER=$MAIL_USER
    ROOTLESS=0
  else
    MUID=$(id -u); MGID=$(id -g); MAIL_USER=$(id -un)
    INTERNAL_USER=$MAIL_USER; LOGIN_USER=$MAIL_USER; INTERNAL_GROUP=$(id -gn)
    ROOTLESS=1
  fi
}

# --- helpers ---------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ports() {
  local deadline=$((SECONDS + 15)) p f
  for p in "$@"; do
    until port_open "$p"; do
      [ $SECONDS -lt $deadline ] || die "port $p did not open within 15s (see $D/dovecot.log, $D/smtp-sink.log)"
      # a daemon that died (e.g. "Address already in use") will never open its port: fail now
      for f in dovecot smtp-sink submit-sink; do
        if [ -s "$D/$f.pid" ] && ! alive "$(head -n1 "$D/$f.pid")"; then
          cat "$D/$f.log" >&2 2>/dev/null || true
          die "$f exited during start (see $D/$f.log)"
        fi
      done
      sleep 0.05
    done
  done
}

# pid_is PIDFILE STRING : print the recorded pid if it is alive and its command line contains STRING
pid_is() {
  local pid; [ -s "$1" ] || return 1
  pid=$(head -n1 "$1"); [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

# alive PID : running and not a zombie. (Our daemons are re-parented to PID 1 once this script
# exits; in some sandboxes PID 1 reaps only every ~2 s, so kill -0 would see the zombie.)
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }

descendants() {  # all descendant pids of $1 (depth-first), via /proc
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$c"; descendants "$c"
  done
}

# --- start -------------------------------------------------------------------------------------
write_config() {
  local dh=""
  [ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
  local chroot_line=""
  [ "$ROOTLESS" -eq 1 ] && chroot_line="chroot ="
  local mechs="plain login cram-md5 apop" oauth2_passdb=""
  if [ -n "${MAILBED_OAUTH2_INTROSPECTION_URL:-}" ]; then
    # Dovecot 2.3 oauth2 passdb: the token is the "password" of the XOAUTH2/OAUTHBEARER login;
    # force_introspection because there is no tokeninfo URL to ask first
    mechs="$mechs xoauth2 oauthbearer"
    printf '%s\n' "introspection_mode = post" "introspection_url = $MAILBED_OAUTH2_INTROSPECTION_URL" \
      "force_introspection = yes" "username_attribute = username" "active_attribute = active" \
      "active_value = true" >"$D/dovecot-oauth2.conf.ext"
    chmod 0644 "$D/dovecot-oauth2.conf.ext"
    oauth2_passdb="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $D/dovecot-oauth2.conf.ext
}"
  fi
  cat >"$D/dovecot.conf" <<EOF
# Generated by test/support/mailbed/mailbed.sh — self-contained, loopback only. Do not edit; edit mailbed.sh.
instance_name = mailbed-$(basename "$D")
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
protocols = imap pop3
listen = 127.0.0.1
login_greeting = mailbed Dovecot ready.

default_internal_user = $INTERNAL_USER
default_login_user = $LOGIN_USER
default_internal_group = $INTERNAL_GROUP
first_valid_uid = $MUID
last_valid_uid = $MUID
first_valid_gid = 0

ssl = yes
ssl_cert = <$D/ssl/cert.pem
ssl_key = <$D/ssl/key.pem
$dh
ssl_min_protocol = TLSv1.2

# plaintext auth allowed without TLS (it is a testbed); fail fast on bad passwords
disable_plaintext_auth = no
auth_mechanisms = $mechs
auth_failure_delay = 0
auth_verbose = yes
# One passwd-file per user (DIR/users/NAME): Dovecot re-reads a changed passwd-file at most
# once a second per auth process, so a user appended to one shared file may stay unknown for
# up to a second; a new per-user file is opened on its first lookup. A missing file = unknown.
$oauth2_passdb
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users/%u
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users/%u
  default_fields = uid=$MUID gid=$MGID home=$D/mail/%u
}

mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 200
pop3_uidl_format = %08Xu%08Xv
pop3_client_workarounds =
imap_client_workarounds =

# login processes: "high-performance" mode (one process serves many connections)
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  $chroot_line
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  $chroot_line
}
service imap {
  process_limit = 512
}
# Disable the per-IP auth penalty (after a failed login Dovecot otherwise delays the next
# auth from 127.0.0.1 by 4,8..15 s, so negative-auth tests would slow every later test).
# mode = 0 means the socket is not created; auth then sees ENOENT and skips penalties.
# login_trusted_networks does NOT exempt from it in 2.3.19 (measured).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
  $chroot_line
}
service pop3 {
  process_limit = 512
}
EOF
}

cmd_start() {
  [ $# -eq 1 ] || die "usage: start DIR"
  D=$(absdir "$1")
  [ ${#D} -le 70 ] || die "DIR path too long for unix sockets (keep it <= 70 chars): $D"
  resolve_ids
  if pid_is "$D/dovecot.pid" "dovecot -c $D/dovecot.conf" >/dev/null || pid_is "$D/smtp-sink.pid" "smtp-sink -h mailbed.test" >/dev/null \
     || pid_is "$D/submit-sink.pid" "--passwd $D/passwd" >/dev/null; then
    die "already running in $D (run: $0 stop $D)"
  fi
  command -v "$DOVECOT" >/dev/null || die "dovecot not installed"
  command -v "$SMTP_SINK" >/dev/null || die "smtp-sink not installed (apt-get install postfix)"
  local p
  for p in "$POP3_PORT" "$POP3S_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT" "$SUBMIT_PORT" "$SMTPS_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use"
  done

  # from here on, a failed start stops whatever it had started
  trap 'rc=$?; if [ $rc -ne 0 ]; then echo "mailbed: start failed; stopping what was started" >&2; cmd_stop "$D" >/dev/null 2>&1; fi' EXIT

  chmod 0755 "$D"        # auth (dovecot user) and mail (mailbed user) processes must traverse it
  mkdir -p "$D/state" "$D/ssl" "$D/mail" "$D/sink"

  # self-signed cert with SANs, also usable as its own CA file (ca.pem) by clients.
  # ECDSA P-256: generated in milliseconds, where RSA-2048 takes 0.1-1 s (test start-up time)
  if [ ! -s "$D/ssl/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -sha256 \
      -subj "/CN=localhost/O=mailbed" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$D/ssl/key.pem" -out "$D/ssl/cert.pem" 2>/dev/null
    cp "$D/ssl/cert.pem" "$D/ssl/ca.pem"
    chmod 0600 "$D/ssl/key.pem"
  fi

  # passwd-file: user:{PLAIN}password:uid:gid::home::   (plaintext => APOP/CRAM-MD5 possible)
  # DIR/users/NAME for Dovecot (see write_config), all of them in DIR/passwd for submit_sink.py
  : >"$D/passwd"
  mkdir -p "$D/users"
  local u name pw
  for u in $USERS; do
    name=${u%%:*}; pw=${u#*:}
    echo "$name:{PLAIN}$pw:$MUID:$MGID::$D/mail/$name::" >"$D/users/$name"
    cat "$D/users/$name" >>"$D/passwd"
    mkdir -p "$D/mail/$name/Maildir/"{new,cur,tmp}
  done
  # read by the auth process (runs as $INTERNAL_USER) and submit_sink.py; testbed only
  chmod 0644 "$D/passwd" "$D/users/"*
  [ "$ROOTLESS" -eq 1 ] || chown -R "$MUID:$MGID" "$D/mail" "$D/sink"

  write_config
  write_env
  "$DOVECOT" -c "$D/dovecot.conf" -n >/dev/null 2>"$D/dovecot.check" \
    || { cat "$D/dovecot.check" >&2; die "dovecot config check failed"; }
  rm -f "$D/dovecot.check"

  start_dovecot

  # smtp-sink: foreground program, backgrounded here. -u is mandatory when run as root.
  local sink_args=(-h mailbed.test)
  [ "$ROOTLESS" -eq 1 ] || sink_args+=(-u "$MAIL_USER")
  [ "${MAILBED_SINK_DUMP:-0}" = 1 ] && sink_args+=(-d "$D/sink/%Y%m%d%H%M%S.")
  # shellcheck disable=SC2086
  nohup "$SMTP_SINK" "${sink_args[@]}" ${MAILBED_SINK_OPTS:-} "127.0.0.1:$SMTP_PORT" 256 \
    >"$D/smtp-sink.log" 2>&1 </dev/null &
  echo $! >"$D/smtp-sink.pid"

  local ports=("$POP3_PORT" "$POP3S_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT") extra=""
  if has_submit; then
    local sargs=(--port "$SUBMIT_PORT" --tls-port "$SMTPS_PORT" --cert "$D/ssl/cert.pem"
                 --key "$D/ssl/key.pem" --passwd "$D/passwd" --outdir "$D/smtp-out")
    [ "$ROOTLESS" -eq 1 ] || sargs+=(--user "$MAIL_USER")
    [ "${MAILBED_SUBMIT_AUTH_REQUIRED:-0}" = 1 ] && sargs+=(--auth-required)
    nohup "$PY" "$HERE/submit_sink.py" "${sargs[@]}" >"$D/submit-sink.log" 2>&1 </dev/null &
    echo $! >"$D/submit-sink.pid"
    ports+=("$SUBMIT_PORT" "$SMTPS_PORT")
    extra=", submit-sink pid $(cat "$D/submit-sink.pid")"
  else
    echo "mailbed: python3-aiosmtpd not found: no AUTH/TLS SMTP on $SUBMIT_PORT/$SMTPS_PORT" >&2
  fi
  wait_ports "${ports[@]}"
  trap - EXIT
  echo "mailbed started in $D (dovecot pid $(cat "$D/dovecot.pid"), smtp-sink pid $(cat "$D/smtp-sink.pid")$extra)"
}

# --- stop --------------------------------------------------------------------------------------
stop_pid() {  # stop_pid PID [KILL] : TERM, wait, then KILL the pid and any descendants left behind
  local pid=$1 kids i c alive_kids=""
  kids=$(descendants "$pid" | tr '\n' ' ')
  if [ "${2:-TERM}" = KILL ]; then
    # all at once: Dovecot's log process lingers ~1 s after a TERM to flush, too slow for tests
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for i in $(seq 1 200); do alive "$pid" || break; sleep 0.025; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  # dovecot's children exit by themselves once the master is gone; give them a moment
  for i in $(seq 1 80); do
    alive_kids=""
    for c in $kids; do alive "$c" && alive_kids="$alive_kids $c"; done
    [ -z "$alive_kids" ] && break
    sleep 0.025
  done
  for c in $alive_kids; do kill -KILL "$c" 2>/dev/null || true; done
  # wait until the killed ones are really gone (they hold the listening sockets)
  for i in $(seq 1 200); do
    alive_kids=""
    for c in $pid $kids; do alive "$c" && alive_kids="$alive_kids $c"; done
    [ -z "$alive_kids" ] && break
    sleep 0.025
  done
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: stop DIR"
  [ -d "$1" ] || die "no such dir: $1"
  D=$(cd "$1" && pwd -P)
  local pid rc=0
  # KILL: nothing to flush in a testbed, and Dovecot's TERM takes a second (see stop_pid)
  if pid=$(pid_is "$D/dovecot.pid" "dovecot -c $D/dovecot.conf"); then stop_pid "$pid" KILL; echo "stopped dovecot $pid"
  else echo "dovecot not running"; fi
  if pid=$(pid_is "$D/smtp-sink.pid" "smtp-sink -h mailbed.test"); then stop_pid "$pid"; echo "stopped smtp-sink $pid"
  else echo "smtp-sink not running"; fi
  if pid=$(pid_is "$D/submit-sink.pid" "--passwd $D/passwd"); then stop_pid "$pid"; echo "stopped submit-sink $pid"; fi
  rm -f "$D/dovecot.pid" "$D/smtp-sink.pid" "$D/submit-sink.pid"
  return $rc
}

start_dovecot() {  # start the master, record its pid (config must exist)
  # base_dir must start empty: a stale run/anvil-auth-penalty socket from an earlier start makes
  # the auth process retry it for 5 s (first login stalls) and re-enables the penalty below.
  rm -rf "$D/run"; mkdir -p "$D/run"
  # Dovecot daemonizes itself and writes base_dir/master.pid. Its stdio must not be ours: a
  # caller that reads our output to EOF (Node's execFile, $(...)) would wait for Dovecot's exit.
  "$DOVECOT" -c "$D/dovecot.conf" </dev/null >/dev/null 2>"$D/dovecot.err" \
    || { cat "$D/dovecot.err" >&2; die "dovecot did not start"; }
  local i=0
  until [ -s "$D/run/master.pid" ]; do
    i=$((i+1)); [ $i -lt 200 ] || die "dovecot did not write $D/run/master.pid (see $D/dovecot.log)"
    sleep 0.05
  done
  cp "$D/run/master.pid" "$D/dovecot.pid"
}

cmd_restart_dovecot() {
  [ $# -eq 1 ] || die "usage: restart-dovecot DIR"
  D=$(cd "$1" && pwd -P)
  [ -s "$D/mailbed.env" ] || die "no $D/mailbed.env (start it first)"
  # shellcheck disable=SC1091
  . "$D/mailbed.env"
  local pid
  if pid=$(pid_is "$D/dovecot.pid" "dovecot -c $D/dovecot.conf"); then stop_pid "$pid" KILL; fi
  rm -f "$D/dovecot.pid"
  start_dovecot
  wait_ports "$MAILBED_POP3_PORT" "$MAILBED_POP3S_PORT" "$MAILBED_IMAP_PORT" "$MAILBED_IMAPS_PORT"
  echo "dovecot restarted in $D (pid $(cat "$D/dovecot.pid"))"
}

cmd_status() {
  [ $# -eq 1 ] || die "usage: status DIR"
  D=$(cd "$1" && pwd -P)
  local pid n=0
  if pid=$(pid_is "$D/dovecot.pid" "dovecot -c $D/dovecot.conf"); then echo "dovecot   running pid $pid"; n=$((n+1)); else echo "dovecot   stopped"; fi
  if pid=$(pid_is "$D/smtp-sink.pid" "smtp-sink -h mailbed.test"); then echo "smtp-sink running pid $pid"; n=$((n+1)); else echo "smtp-sink stopped"; fi
  if pid=$(pid_is "$D/submit-sink.pid" "--passwd $D/passwd"); then echo "submit-sink running pid $pid"; else echo "submit-sink stopped"; fi
  [ $n -eq 2 ]
}

write_env() {
  cat >"$D/mailbed.env" <<EOF
export MAILBED_DIR=$D
export MAILBED_HOST=127.0.0.1
export MAILBED_POP3_PORT=$POP3_PORT MAILBED_POP3S_PORT=$POP3S_PORT
export MAILBED_IMAP_PORT=$IMAP_PORT MAILBED_IMAPS_PORT=$IMAPS_PORT
export MAILBED_SMTP_PORT=$SMTP_PORT MAILBED_SUBMIT_PORT=$SUBMIT_PORT MAILBED_SMTPS_PORT=$SMTPS_PORT
export MAILBED_SMTP_OUT=$D/smtp-out
export MAILBED_CA=$D/ssl/ca.pem
export MAILBED_USERS="$USERS"
EOF
}

cmd_env() {
  [ $# -eq 1 ] || die "usage: env DIR"
  [ -s "$1/mailbed.env" ] || die "no $1/mailbed.env (start it first)"
  cat "$1/mailbed.env"
}

# --- clear -------------------------------------------------------------------------------------
cmd_clear() {
  [ $# -eq 2 ] || die "usage: clear DIR USER"
  D=$(cd "$1" && pwd -P); local md="$D/mail/$2/Maildir"
  [ -d "$md" ] || die "no maildir $md"
  find "$md" -mindepth 1 -delete
  mkdir -p "$md"/{new,cur,tmp}
  resolve_ids; [ "$ROOTLESS" -eq 1 ] || chown -R "$MUID:$MGID" "$md"
}

# --- fill --------------------------------------------------------------------------------------
cmd_fill() {
  [ $# -eq 4 ] || die "usage: fill DIR USER N SIZE_BYTES"
  D=$(cd "$1" && pwd -P); local user=$2 n=$3 size=$4
  [[ $n =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]] || die "N and SIZE must be integers"
  local md="$D/mail/$user/Maildir"
  mkdir -p "$md"/{new,cur,tmp}
  resolve_ids
  "$PY" - "$md" "$user" "$n" "$size" <<'PY'
import base64, os, sys, time, email.utils, random, socket
md, user, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
newdir = os.path.join(md, "new")
host = "mailbed"
pid = os.getpid()
now = int(time.time())
rnd = random.Random(1234)
words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi aliquip ex ea commodo consequat").split()
POOL = [" ".join(rnd.choice(words) for _ in range(11))[:72] for _ in range(512)]
JP = ["日本語のテスト本文です。メールの受信を確認しています。",
      "こんにちは、世界。これは試験用のメッセージです。",
      "お問い合わせありがとうございます。添付ファイルをご確認ください。",
      "全角カタカナ、記号「」（）【】〒を含む行です。"]
JP_SJIS = JP + ["半角ｶﾀｶﾅ(JIS X 0201)は Shift_JIS でのみ使えます。"]
JPSUBJ = ["会議のお知らせ", "ご注文の確認", "【重要】パスワード変更のお願い", "週報：進捗報告"]

def ew(text, charset, codec, chunk=12):
    """RFC 2047 B-encoded words, each <= 75 chars, folded with CRLF-SP (written as LF-SP)."""
    parts = []
    for i in range(0, len(text), chunk):
        raw = text[i:i+chunk].encode(codec)  # iso2022_jp returns to ASCII at end of each chunk
        parts.append("=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode()))
    return "\n ".join(parts)

def filler(i, nbytes, prefix=""):
    out, total, k = [], 0, i * 7
    while total < nbytes:
        line = "%s%06d %s" % (prefix, i, POOL[k % len(POOL)])
        out.append(line); total += len(line) + 1; k += 1
    return out

def qp_utf8(s):
    import quopri
    return quopri.encodestring(s.encode("utf-8")).decode("ascii")

def b64lines(data):
    s = base64.b64encode(data).decode()
    return [s[j:j+76] for j in range(0, len(s), 76)]

def message(i):
    ts = now - (n - i) * 60
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ts))
    kind = i % 10
    hdr = ["Return-Path: <sender%d@example.org>" % (i % 97),
           "Received: from client.example.org (client.example.org [127.0.0.1])\n\tby mailbed.test with ESMTP id %08X; %s" % (i, date),
           "Message-ID: <%d.%d.mailbed@example.org>" % (i, now),
           "Date: " + date,
           "From: Sender %d <sender%d@example.org>" % (i % 97, i % 97),
           "To: %s <%s@mailbed.test>" % (user.capitalize(), user),
           "MIME-Version: 1.0"]
    body = []
    if kind == 0:    # ISO-2022-JP (7bit JIS), classic Japanese mail
        hdr.append("Subject: " + ew("%s No.%d" % (JPSUBJ[i % 4], i), "ISO-2022-JP", "iso2022_jp"))
        hdr.append('Content-Type: text/plain; charset="ISO-2022-JP"')
        hdr.append("Content-Transfer-Encoding: 7bit")
        hdr.append("X-Mailbed-Kind: iso-2022-jp")
        for j, l in enumerate(JP * 2):
            body.append(("%d: " % i + l).encode("iso2022_jp").decode("ascii"))
    elif kind == 1:  # Shift_JIS, 8bit body
        hdr.append("Subject: " + ew("%s 番号%d" % (JPSUBJ[(i // 10) % 4], i), "Shift_JIS", "shift_jis"))
        hdr.append('Content-Type: text/plain; charset="Shift_JIS"')
        hdr.append("Content-Transfer-Encoding: 8bit")
        hdr.append("X-Mailbed-Kind: shift_jis")
    elif kind == 2:  # multipart/mixed: alternative(text, html) + attachment
        b = "=_mailbed_%d_" % i
        hdr.append("Subject: Report %d with attachment" % i)
        hdr.append('Content-Type: multipart/mixed; boundary="%s"' % b)
        hdr.append("X-Mailbed-Kind: multipart")
        body += ["This is a multi-part message in MIME format.", "",
                 "--" + b, 'Content-Type: multipart/alternative; boundary="%salt"' % b, "",
                 "--%salt" % b, 'Content-Type: text/plain; charset="UTF-8"',
                 "Content-Transfer-Encoding: quoted-printable", "",
                 qp_utf8("添付ファイルを送ります (message %d). Grüße!" % i), "",
                 "--%salt" % b, 'Content-Type: text/html; charset="UTF-8"',
                 "Content-Transfer-Encoding: quoted-printable", "",
                 qp_utf8("<html><body><p>添付ファイルを送ります (message %d)</p></body></html>" % i), "",
                 "--%salt--" % b, "",
                 "--" + b,
                 'Content-Type: application/octet-stream; name="report-%d.bin"' % i,
                 "Content-Transfer-Encoding: base64",
                 "Content-Disposition: attachment; filename=\"report-%d.bin\";\n filename*=UTF-8''%%E8%%B3%%87%%E6%%96%%99-%d.bin" % (i, i),
                 ""]
        used = sum(len(h) + 1 for h in hdr) + sum(len(l) + 1 for l in body) + len(b) + 10
        raw_len = max(16, (size - used) * 3 // 4 * 76 // 77)
        data = (b"%08d" % i) + bytes((i * 31 + k * 7) & 0xFF for k in range(min(raw_len, 4096)))
        data = (data * (raw_len // len(data) + 1))[:raw_len]
        body += b64lines(data) + ["", "--%s--" % b, ""]
    elif kind == 3:  # UTF-8 quoted-printable with encoded-word subject
        hdr.append("Subject: " + ew("Ünïcödé ✓ 件名 %d" % i, "UTF-8", "utf-8", chunk=10))
        hdr.append('Content-Type: text/plain; charset="UTF-8"')
        hdr.append("Content-Transfer-Encoding: quoted-printable")
        hdr.append("X-Mailbed-Kind: utf-8-qp")
        body.append(qp_utf8("Grüße aus Köln — こんにちは %d" % i))
    elif kind == 5:  # dot-stuffing / mbox-escaping edge cases
        hdr.append("Subject: Dots and From lines %d" % i)
        hdr.append('Content-Type: text/plain; charset="us-ascii"')
        hdr.append("X-Mailbed-Kind: dots")
        body += [".", "..", ".leading dot", "From the start of a line", ">From quoted", ". ", ""]
    else:
        hdr.append("Subject: Test message %d of %d for %s" % (i, n, user))
        hdr.append('Content-Type: text/plain; charset="us-ascii"')
        hdr.append("Content-Transfer-Encoding: 7bit")
        hdr.append("X-Mailbed-Kind: ascii")
    head = "\n".join(hdr) + "\n\n"
    if kind == 1:
        text = "\n".join("%d: %s" % (i, l) for l in JP_SJIS * 2) + "\n"
        text_b = text.encode("shift_jis")
        remain = size - len(head.encode()) - len(text_b)
        pad = "\n".join(filler(i, max(0, remain))) + "\n" if remain > 0 else ""
        return head.encode() + text_b + pad.encode()
    btxt = "\n".join(body) + ("\n" if body else "")
    remain = size - len(head.encode()) - len(btxt.encode())
    if kind != 2 and remain > 0:
        btxt += "\n".join(filler(i, remain)) + "\n"
    return (head + btxt).encode("utf-8")

t0 = time.time()
for i in range(1, n + 1):
    data = message(i)
    vsize = len(data) + data.count(b"\n")   # size with CRLF line ends (what POP3 LIST reports)
    ts = now - (n - i) * 60
    # Dovecot assigns UIDs in filename order: time prefix + zero-padded counter keep i order
    name = "%d.M%07dP%dQ%d.%s,S=%d,W=%d" % (ts, i, pid, i, host, len(data), vsize)
    path = os.path.join(newdir, name)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (ts, ts))
sys.stderr.write("mailbed: wrote %d messages to %s in %.2fs\n" % (n, newdir, time.time() - t0))
PY
  [ "$ROOTLESS" -eq 1 ] || chown -R "$MUID:$MGID" "$D/mail/$user"
}

case "${1:-}" in
  start)  shift; cmd_start "$@" ;;
  stop)   shift; cmd_stop "$@" ;;
  restart-dovecot) shift; cmd_restart_dovecot "$@" ;;
  status) shift; cmd_status "$@" ;;
  fill)   shift; cmd_fill "$@" ;;
  clear)  shift; cmd_clear "$@" ;;
  env)    shift; cmd_env "$@" ;;
  *) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
