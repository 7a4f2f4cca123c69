#!/usr/bin/env bash
# Stop the one-node CI Slurm cluster started by .ci/slurm-up.sh: cancel its jobs, stop slurmd,
# slurmctld and munged. Safe to run when nothing is running.
# --purge also removes the controller state and slurmd spool, so the next start has no old jobs
# and job ids begin again at 1.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
purge=0
[ "${1:-}" = --purge ] && purge=1

log() { echo "slurm-down: $*" >&2; }
pid_of() {  # pid_of PIDFILE NAME: print the live pid the pidfile names, if its command is NAME
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}
# stop PIDFILE NAME: TERM, wait up to 10 s, then KILL.
stop() {
  local pid
  pid=$(pid_of "$1" "$2") || { rm -f "$1"; return 0; }
  log "stopping $2 (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$2 ignored TERM; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

[ "$(id -u)" -eq 0 ] || { echo "slurm-down: error: must run as root" >&2; exit 1; }

if pid_of "$CTLD_PID" slurmctld >/dev/null && command -v scontrol >/dev/null 2>&1 \
  && scontrol ping 2>/dev/null | grep -q 'is UP'; then
  # Cancel every job so that no job step outlives the cluster.
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  log "scontrol shutdown"
  scontrol shutdown >/dev/null 2>&1 || true
  for _ in $(seq 100); do
    pid_of "$CTLD_PID" slurmctld >/dev/null || pid_of "$SLURMD_PID" slurmd >/dev/null || break
    sleep 0.1
  done
fi
stop "$SLURMD_PID" slurmd
stop "$CTLD_PID" slurmctld
stop "$MUNGE_PID" munged

if [ $purge = 1 ]; then
  log "removing $STATE_DIR and $SPOOL_DIR contents"
  rm -rf "${STATE_DIR:?}"/* "${SPOOL_DIR:?}"/*
fi
log "down"
