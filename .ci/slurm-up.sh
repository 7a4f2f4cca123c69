#!/usr/bin/env bash
# Bring up a one-node Slurm cluster (munged + slurmctld + slurmd) on this machine, for CI.
# Debian 12 (Slurm 22.05), as root, no systemd needed. Safe to run more than once.
# On success: exit 0, diagnostics on stderr, and the partition name alone on stdout's last line,
# so `PARTITION=$(.ci/slurm-up.sh)` works. On failure: non-zero, with a message and log tails.
# See .ci/slurm.md. Stop with .ci/slurm-down.sh.
set -euo pipefail

PARTITION=ci
CONF=/etc/slurm/slurm.conf
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
WAIT_S=${SLURM_UP_TIMEOUT:-60}

log() { echo "slurm-up: $*" >&2; }
die() {
  echo "slurm-up: error: $*" >&2
  for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
    if [ -s "$f" ]; then echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2 || true; fi
  done
  exit 1
}
# pid_alive PIDFILE NAME: the pidfile names a live process whose command is NAME.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

[ "$(id -u)" -eq 0 ] || die "must run as root"

# --- packages ---------------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need=()
for c in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
  command -v "${c%%:*}" >/dev/null 2>&1 || need+=("${c#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  # No daemon is started by the packages: there is no systemd, and policy-rc.d may deny it.
  apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >&2 \
    || die "apt-get install failed"
fi

# --- host name --------------------------------------------------------------------------------
NODE=$(hostname -s)
[ -n "$NODE" ] || die "hostname -s is empty"
if ! getent hosts "$NODE" >/dev/null 2>&1; then
  log "$NODE does not resolve; adding it to /etc/hosts"
  echo "127.0.0.1 $NODE" >>/etc/hosts || log "warning: could not write /etc/hosts (NodeAddr=127.0.0.1 is used anyway)"
fi

# --- munge ------------------------------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key --force >&2
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if pid_alive "$MUNGE_PID" munged && munge -n </dev/null | unmunge >/dev/null 2>&1; then
  log "munged already running (pid $(cat "$MUNGE_PID"))"
else
  log "starting munged"
  # --force: start despite a stale socket or permission warnings (containers).
  runuser -u munge -- /usr/sbin/munged --force >&2 || die "munged failed to start"
  for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null | unmunge >/dev/null 2>&1 || die "munge credential round trip fails"
fi

# --- slurm.conf -------------------------------------------------------------------------------
CPUS=$(nproc)
# RealMemory must not exceed what slurmd reports itself, or the node is marked invalid.
MEM=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
[[ ${MEM:-} =~ ^[0-9]+$ ]] || die "could not read RealMemory from 'slurmd -C'"
install -d -m 0755 /etc/slurm "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"
new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat >"$new" <<EOF
# Written by .ci/slurm-up.sh: one-node CI cluster on loopback. Do not edit by hand.
ClusterName=goodhart-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# A job whose dependency can never be met (e.g. afterok on a failed or cancelled job) is cancelled
# instead of pending forever.
DependencyParameters=kill_invalid_depend
# Finished jobs stay visible to 'scontrol show job' (state, exit code) for this long: there is no sacct.
MinJobAge=600
KillWait=5
SlurmdTimeout=60
InactiveLimit=0
MaxArraySize=100001
MaxJobCount=200000
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE OverSubscribe=NO State=UP
EOF
changed=0
if ! cmp -s "$new" "$CONF"; then
  changed=1
  cp "$new" "$CONF"
  chmod 0644 "$CONF"
  log "wrote $CONF"
fi

ctld_up=0; slurmd_up=0
pid_alive "$CTLD_PID" slurmctld && ctld_up=1
pid_alive "$SLURMD_PID" slurmd && slurmd_up=1
if [ $changed = 1 ] && { [ $ctld_up = 1 ] || [ $slurmd_up = 1 ]; }; then
  log "configuration changed: restarting the Slurm daemons"
  for pf in "$SLURMD_PID:slurmd" "$CTLD_PID:slurmctld"; do
    if pid_alive "${pf%%:*}" "${pf#*:}"; then kill "$(cat "${pf%%:*}")" || true; fi
  done
  for _ in $(seq 100); do
    pid_alive "$CTLD_PID" slurmctld || pid_alive "$SLURMD_PID" slurmd || break
    sleep 0.1
  done
  ctld_up=0; slurmd_up=0
fi

# --- daemons ----------------------------------------------------------------------------------
start=$(date +%s)
if [ $ctld_up = 1 ]; then
  log "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
  log "starting slurmctld"
  slurmctld >&2 || die "slurmctld failed to start"
fi
# slurmd registers more quickly once slurmctld answers.
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld does not answer 'scontrol ping'"
if [ $slurmd_up = 1 ]; then
  log "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
  log "starting slurmd"
  slurmd >&2 || die "slurmd failed to start"
fi

# --- wait for the node ------------------------------------------------------------------------
resumed=0
state=
while :; do
  state=$(sinfo -h -n "$NODE" -p "$PARTITION" -o %t 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc|comp) break ;;  # usable (mix/alloc: jobs from an earlier run)
    drain*|drng|down*|inval*|fail*)
      if [ $resumed = 0 ]; then
        log "node $NODE is '$state'; resuming it"
        scontrol update nodename="$NODE" state=resume >&2 || true
        resumed=1
      fi ;;
  esac
  [ $(( $(date +%s) - start )) -lt "$WAIT_S" ] || die "node $NODE not usable after ${WAIT_S}s (state '${state:-none}'); reason: $(sinfo -h -n "$NODE" -o %E 2>/dev/null || true)"
  sleep 0.5
done
sinfo >&2
log "up in $(( $(date +%s) - start ))s: node $NODE ($CPUS CPUs, ${MEM} MB), partition $PARTITION"
echo "$PARTITION"
