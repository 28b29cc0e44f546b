#!/bin/bash
# The system test's checks, run as root inside a booted Debian bookworm container (t.service):
# what an operator does with the package, in order, from `apt-get install` to `dpkg -P`.
# Writes one line per check to /share/results.txt ("PASS name: detail" or "FAIL name: detail")
# and the container's journal to /share/journal.txt. Later checks run even when earlier ones
# fail, so that one run shows everything that works.
set -u

share=/share
results=$share/results.txt
sock=/run/dlad/dlad.sock
firmware=/usr/share/dlad/firmware-models
# The package under test and the newer build that the upgrade check installs over it.
deb=$(cat "$share/deb")
upgrade_deb=$(cat "$share/upgrade-deb")
: >"$results"

log() { echo "system-test: $*" >&2; }

# check NAME FUNCTION: runs FUNCTION; its output, on one line, is the detail; exit status 0 passes.
check() {
  local name=$1 out status
  shift
  log "check: $name"
  out=$("$@" 2>&1)
  status=$?
  out=$(printf '%s' "$out" | tr '\n' ' ' | tr -s ' ' | cut -c1-600)
  if [ $status -eq 0 ]; then
    echo "PASS $name: $out" >>"$results"
  else
    echo "FAIL $name: $out" >>"$results"
  fi
}

# api [curl options] PATH: prints the HTTP status; the body is in /tmp/body.
api() {
  local path=${*: -1}
  curl -sS --max-time "$(limit 30)" --unix-socket "$sock" -o /tmp/body -w '%{http_code}' "${@:1:$#-1}" "http://localhost$path"
}

# as USER COMMAND...: runs a command as USER with USER's groups (initgroups).
as() { local user=$1; shift; runuser -u "$user" -- "$@"; }

# api_as USER [curl options] PATH: api as USER. curl writes the body to its stdout, which this
# (root's) shell puts in /tmp/body: USER could not write over root's /tmp/body.
api_as() {
  local user=$1 path=${*: -1} out status
  shift
  out=$(as "$user" curl -sS --max-time "$(limit 30)" --unix-socket "$sock" -w '\n%{http_code}' "${@:1:$#-1}" "http://localhost$path")
  status=$?
  printf '%s' "${out%$'\n'*}" >/tmp/body
  [ $status -eq 0 ] && echo "${out##*$'\n'}" || echo "000 (curl exit $status)"
}

prop() { systemctl show -p "$2" --value "$1"; }

# Set once dlad.service has been seen running: until then the waits below are cut to 5 s, so
# that a daemon that never becomes ready fails every check quickly instead of timing out the run.
ever_running=0

# limit SECONDS: SECONDS, or 5 while dlad.service has never been seen running.
limit() { if [ $ever_running = 1 ] || [ "$1" -le 5 ]; then echo "$1"; else echo 5; fi; }

# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
  local seconds
  seconds=$(limit "$1")
  local deadline=$(( $(date +%s) + seconds ))
  shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# restarted OLD_PID: dlad.service runs again, under a new main pid.
restarted() { local pid; pid=$(prop dlad.service MainPID); [ "$pid" != "$1" ] && [ "$pid" != 0 ] && running; }

# restart_and_wait SECONDS: restarts dlad.service without blocking on its start job (a daemon
# that never sends READY=1 would hold it for TimeoutStartSec) and waits for the new process.
restart_and_wait() {
  local old
  old=$(prop dlad.service MainPID)
  systemctl restart --no-block dlad.service
  wait_for "$1" restarted "$old"
}

running() { [ "$(prop dlad.service ActiveState)" = active ] && [ "$(prop dlad.service SubState)" = running ]; }

# npy_row FILE ROW COUNT: row ROW (COUNT float32 values) of a .npy file as a JSON array (the
# header's length is in bytes 8–9).
npy_row() {
  local file=$1 row=$2 count=$3 header
  header=$(od -A n -t u2 -j 8 -N 2 "$file" | tr -d ' ')
  od -A n -v -t f4 -j $(( 10 + header + row * count * 4 )) -N $(( count * 4 )) "$file" |
    tr -s ' \n' '\n' | grep -v '^$' | paste -sd, | sed 's/^/[/; s/$/]/'
}

# argmax: the index of the largest value of a JSON array on stdin.
argmax() { tr -d '[]' | tr ',' '\n' | awk 'NR == 1 || $1 > max { max = $1; index_ = NR - 1 } END { print index_ }'; }

# The model names in a /v1/models body (/tmp/body): objects are {"activeVersion", "name", "versions"}.
model_names() { grep -o '"name" *: *"[^"]*" *, *"versions"' /tmp/body | cut -d'"' -f4 | sort | paste -sd,; }

# history_count: the number of history rows (up to 1,000).
history_count() {
  [ "$(api '/v1/inferences?limit=1000')" = 200 ] || return 1
  grep -o '"id"' /tmp/body | wc -l
}

check_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$share/$deb" >/tmp/apt.log 2>&1 || { tail -n 5 /tmp/apt.log; return 1; }
  echo "installed $(dpkg-query -W -f='${Package} ${Version} ${Status}' dlad) with no network and no package lists"
  dpkg-query -W -f='${Status}' dlad | grep -q 'install ok installed'
}

check_contents() {
  local missing="" path
  for path in /usr/bin/dlad /usr/bin/dlactl /lib/systemd/system/dlad.service /lib/systemd/system/dlad.socket \
    /usr/lib/sysusers.d/dlad.conf /usr/lib/tmpfiles.d/dlad.conf /etc/dlad/dlad.toml \
    $firmware/manifest.json /usr/share/man/man8/dlad.8.gz /usr/share/man/man1/dlactl.1.gz \
    /usr/share/bash-completion/completions/dlactl /usr/share/doc/dlad/copyright /usr/share/doc/dlad/changelog.gz; do
    [ -e "$path" ] || missing="$missing $path"
  done
  dpkg-query -W -f='${Conffiles}' dlad | grep -q '/etc/dlad/dlad.toml' || missing="$missing conffile:/etc/dlad/dlad.toml"
  echo "$(ls $firmware/*.dla | wc -l) firmware models;${missing:+ missing:$missing}"
  [ -z "$missing" ]
}

check_users() {
  local user groups
  user=$(getent passwd dlad) && groups=$(getent group dlad dlad-admin | cut -d: -f1 | paste -sd,) || { echo "no dlad user or groups"; return 1; }
  echo "$user; groups $groups"
  [ "$groups" = dlad,dlad-admin ]
}

check_enabled() {
  local state
  state="$(systemctl is-enabled dlad.service) $(systemctl is-enabled dlad.socket)"
  echo "dlad.service, dlad.socket: $state"
  [ "$state" = "enabled enabled" ]
}

check_ready() {
  ever_running=1
  wait_for 60 running || ever_running=0
  echo "ActiveState=$(prop dlad.service ActiveState) SubState=$(prop dlad.service SubState) Type=$(prop dlad.service Type)" \
    "NRestarts=$(prop dlad.service NRestarts) Status=\"$(prop dlad.service StatusText)\" Result=$(prop dlad.service Result)"
  running && [ "$(prop dlad.service Type)" = notify ] && [ "$(prop dlad.service NRestarts)" = 0 ]
}

check_socket() {
  local mode
  mode=$(stat -c '%a %U:%G %F' "$sock" 2>&1)
  echo "$sock: $mode"
  [ "$mode" = "660 dlad:dlad socket" ]
}

check_health() {
  local code
  code=$(api /v1/health)
  echo "GET /v1/health: $code $(head -c 300 /tmp/body)"
  [ "$code" = 200 ] && grep -q '"status" *: *"ok"' /tmp/body
}

check_models() {
  local code name missing=""
  code=$(api /v1/models)
  for name in $(grep -o '"name" *: *"[^"]*"' $firmware/manifest.json | cut -d'"' -f4); do
    grep -q "\"$name\"" /tmp/body || missing="$missing $name"
  done
  echo "GET /v1/models: $code ${missing:+missing:$missing }$(head -c 300 /tmp/body)"
  [ "$code" = 200 ] && [ -z "$missing" ]
}

check_dlactl() {
  local out
  out=$(as member dlactl models 2>&1)
  local status=$?
  echo "dlactl models as a member of dlad: exit $status: $out"
  [ $status -eq 0 ] && grep -q lenet-5 <<<"$out"
}

# A sample of the shipped LeNet-300-100 inputs and the class its expected outputs give.
sample_body() { printf '{"inputs": [%s]}' "$(npy_row $firmware/samples/lenet-300-100/inputs.npy 0 784)"; }
expected_class() { npy_row $firmware/samples/lenet-300-100/int8.expected.npy 0 10 | argmax; }

check_member_infers() {
  local code expected
  expected=$(expected_class)
  code=$(api_as member -H 'Content-Type: application/json' --data-binary @/tmp/sample.json /v1/models/lenet-300-100/infer)
  echo "POST /v1/models/lenet-300-100/infer as member: $code, expected top1 $expected: $(head -c 300 /tmp/body)"
  [ "$code" = 200 ] && grep -Eq "\"top1\" *: *\[ *(\{ *\"index\" *: *)?$expected\b" /tmp/body
}

check_member_push_forbidden() {
  local code
  code=$(api_as member -H 'Content-Type: application/octet-stream' --data-binary @$firmware/lenet-5-int8.dla /v1/models/pushed/versions)
  echo "POST /v1/models/pushed/versions as member: $code $(head -c 300 /tmp/body)"
  [ "$code" = 403 ] && ! grep -q '"pushed"' <<<"$(api /v1/models; cat /tmp/body)"
}

# curl says only "Couldn't connect" (exit 7) for EACCES; a member's identical connect getting
# through (any other exit) shows that the socket's permissions are what stops the outsider.
check_outsider_refused() {
  local out status member_status
  out=$(as outsider curl -sS --max-time 5 --unix-socket "$sock" http://localhost/v1/health 2>&1)
  status=$?
  as member curl -sS --max-time 5 --unix-socket "$sock" -o /dev/null http://localhost/v1/health 2>/dev/null
  member_status=$?
  echo "curl as a user outside dlad: exit $status ($out); as a member: exit $member_status;" \
    "dlactl health as the outsider: $(as outsider dlactl health 2>&1 | head -n 2)"
  [ $status -eq 7 ] && [ $member_status -ne 7 ]
}

check_root_pushes() {
  local code
  code=$(api -H 'Content-Type: application/octet-stream' --data-binary @$firmware/lenet-5-int8.dla '/v1/models/pushed/versions?activate=true')
  echo "POST /v1/models/pushed/versions?activate=true as root: $code $(head -c 300 /tmp/body)"
  [ "$code" = 201 ] || return 1
  code=$(api /v1/models/pushed)
  echo "; GET /v1/models/pushed: $code $(head -c 200 /tmp/body)"
  [ "$code" = 200 ] && grep -q '"activeVersion" *: *1' /tmp/body
}

check_admin_pushes() {
  local code
  code=$(api_as admin -H 'Content-Type: application/octet-stream' --data-binary @$firmware/lenet-5-fp8e4m3.dla /v1/models/pushed/versions)
  echo "POST /v1/models/pushed/versions as a member of dlad-admin: $code $(head -c 300 /tmp/body)"
  [ "$code" = 201 ]
}

check_history() {
  local code count
  code=$(api -H 'Content-Type: application/json' --data-binary @/tmp/sample.json /v1/models/lenet-300-100/infer)
  code=$(api '/v1/inferences?model=lenet-300-100&limit=100')
  count=$(grep -o '"id"' /tmp/body | wc -l)
  echo "GET /v1/inferences?model=lenet-300-100: $code, $count rows: $(head -c 300 /tmp/body)"
  # The member's inference and root's, each with its client's uid.
  [ "$code" = 200 ] && [ "$count" -ge 2 ] && grep -Eq "\"clientUid\" *: *$(id -u member)\b" /tmp/body &&
    grep -Eq '"clientUid" *: *0\b' /tmp/body
}

check_kill9() {
  local pid new restarts
  pid=$(prop dlad.service MainPID)
  restarts=$(prop dlad.service NRestarts)
  [ "$pid" -gt 0 ] || { echo "dlad is not running (MainPID 0)"; return 1; }
  kill -9 "$pid"
  wait_for 30 restarted "$pid"
  new=$(prop dlad.service MainPID)
  echo "killed $pid; now MainPID=$new NRestarts=$(prop dlad.service NRestarts) (was $restarts), health $(api /v1/health)"
  running && [ "$new" != "$pid" ] && [ "$(prop dlad.service NRestarts)" -gt "$restarts" ] && [ "$(api /v1/health)" = 200 ]
}

# The shipped WatchdogSec is 30 s; a drop-in shortens it for this check so that the test stays
# short (the mechanism is the same), and is removed afterwards.
check_watchdog() {
  local pid new since
  mkdir -p /etc/systemd/system/dlad.service.d
  printf '[Service]\nWatchdogSec=4s\n' >/etc/systemd/system/dlad.service.d/system-test.conf
  systemctl daemon-reload
  restart_and_wait 30 || { echo "not running after restart with WatchdogSec=4s"; return 1; }
  pid=$(prop dlad.service MainPID)
  since=$(date '+%Y-%m-%d %H:%M:%S')
  [ "$pid" -gt 0 ] || { echo "MainPID 0"; return 1; }
  kill -STOP "$pid"
  wait_for 30 sh -c "journalctl -q -u dlad.service --since '$since' | grep -q 'Watchdog timeout'"
  wait_for 30 restarted "$pid"
  new=$(prop dlad.service MainPID)
  echo "SIGSTOP $pid; now MainPID=$new, journal: $(journalctl -q -u dlad.service --since "$since" | grep -m1 -o 'Watchdog timeout.*')"
  local ok=0
  journalctl -q -u dlad.service --since "$since" | grep -q 'Watchdog timeout' && running && [ "$new" != "$pid" ] || ok=1
  rm -f /etc/systemd/system/dlad.service.d/system-test.conf
  rmdir /etc/systemd/system/dlad.service.d
  systemctl daemon-reload
  restart_and_wait 30
  return $ok
}

check_journal_fields() {
  local fields missing="" field
  fields=$(journalctl -u dlad.service -o verbose --output-fields=SYSLOG_IDENTIFIER,PRIORITY,CODE_FILE,CODE_LINE,CODE_FUNC,MODEL,MODEL_VERSION,REQUEST_ID,CLIENT_UID | grep -o '^ *[A-Z_]*=' | tr -d ' =' | sort -u | paste -sd' ')
  for field in SYSLOG_IDENTIFIER PRIORITY CODE_FILE CODE_LINE CODE_FUNC MODEL REQUEST_ID CLIENT_UID; do
    grep -qw "$field" <<<"$fields" || missing="$missing $field"
  done
  echo "fields in dlad's journal: $fields${missing:+; missing:$missing}"
  [ -z "$missing" ]
}

check_reload() {
  local pid
  pid=$(prop dlad.service MainPID)
  systemctl reload dlad.service || { echo "systemctl reload failed"; return 1; }
  wait_for 30 running
  echo "reload: MainPID $pid -> $(prop dlad.service MainPID), $(prop dlad.service ActiveState), health $(api /v1/health)"
  running && [ "$(prop dlad.service MainPID)" = "$pid" ] && [ "$(api /v1/health)" = 200 ]
}

check_upgrade() {
  local before_rows after_rows pid before_models after_models
  before_rows=$(history_count) || before_rows=unknown
  api /v1/models >/dev/null
  before_models=$(model_names)
  pid=$(prop dlad.service MainPID)
  echo "# edited by the operator" >>/etc/dlad/dlad.toml
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$share/$upgrade_deb" >/tmp/apt.log 2>&1 || { tail -n 5 /tmp/apt.log; return 1; }
  wait_for 60 running
  after_rows=$(history_count) || after_rows=unknown
  api /v1/models >/dev/null
  after_models=$(model_names)
  echo "now $(dpkg-query -W -f='${Version}' dlad); MainPID $pid -> $(prop dlad.service MainPID); history rows $before_rows -> $after_rows;" \
    "models $before_models -> $after_models; conffile edit $(grep -q '^# edited by the operator' /etc/dlad/dlad.toml && echo kept || echo lost)"
  running && [ "$(prop dlad.service MainPID)" != "$pid" ] && [ "$before_rows" != unknown ] && [ "$after_rows" != unknown ] &&
    [ "$before_rows" -gt 0 ] && [ "$after_rows" -eq "$before_rows" ] && [ -n "$before_models" ] &&
    [ "$after_models" = "$before_models" ] && grep -q ',pushed' <<<"$after_models" &&
    grep -q '^# edited by the operator' /etc/dlad/dlad.toml
}

check_remove() {
  dpkg -r dlad >/tmp/dpkg.log 2>&1 || { tail -n 5 /tmp/dpkg.log; return 1; }
  local service socket
  service=$(systemctl is-active dlad.service)
  socket=$(systemctl is-active dlad.socket)
  echo "after dpkg -r: dlad.service $service, dlad.socket $socket, socket file $([ -e $sock ] && echo present || echo gone)," \
    "state $([ -n "$(ls -A /var/lib/dlad 2>/dev/null)" ] && echo kept || echo lost), config $([ -f /etc/dlad/dlad.toml ] && echo kept || echo lost)"
  [ "$service" != active ] && [ "$socket" != active ] && [ ! -e $sock ] && [ -n "$(ls -A /var/lib/dlad 2>/dev/null)" ] && [ -f /etc/dlad/dlad.toml ]
}

check_purge() {
  dpkg-query -W -f='${Status}' dlad 2>/dev/null | grep -q 'config-files' || { echo "dlad was not in the removed-but-configured state"; return 1; }
  dpkg -P dlad >/tmp/dpkg.log 2>&1 || { tail -n 5 /tmp/dpkg.log; return 1; }
  local left
  left=$(ls -d /var/lib/dlad /etc/dlad /run/dlad /lib/systemd/system/dlad.* /etc/systemd/system/*/dlad.* 2>/dev/null | paste -sd' ')
  echo "after dpkg -P: $(dpkg-query -W -f='${Status}' dlad 2>&1); left behind: ${left:-nothing}"
  [ -z "$left" ] && ! dpkg-query -W -f='${Status}' dlad 2>/dev/null | grep -q installed
}

useradd --no-create-home --shell /usr/sbin/nologin outsider
check install check_install
check "package contents" check_contents
check "dlad user and groups (sysusers)" check_users
useradd --no-create-home --shell /usr/sbin/nologin --groups dlad member
useradd --no-create-home --shell /usr/sbin/nologin --groups dlad,dlad-admin admin
sample_body >/tmp/sample.json
check "units enabled" check_enabled
check "service active after READY" check_ready
check "socket /run/dlad/dlad.sock 0660 dlad:dlad" check_socket
check "health ok" check_health
check "firmware models listed" check_models
check "dlactl models as a member" check_dlactl
check "member of dlad infers" check_member_infers
check "member of dlad cannot push (403)" check_member_push_forbidden
check "non-member cannot connect" check_outsider_refused
check "root pushes" check_root_pushes
check "member of dlad-admin pushes" check_admin_pushes
check "history returns the rows" check_history
check "kill -9 of the main pid: restarted" check_kill9
check "SIGSTOP: watchdog restart, \"Watchdog timeout\" in the journal" check_watchdog
check "structured journal fields" check_journal_fields
check "reload (SIGHUP) keeps serving" check_reload
check "upgrade keeps registry, history and an edited conffile" check_upgrade
check "dpkg -r stops it and keeps state" check_remove
check "dpkg -P purges" check_purge

journalctl -b --no-pager -o short-precise >"$share/journal.txt" 2>&1
echo "DONE" >>"$results"
