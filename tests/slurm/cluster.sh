#!/usr/bin/env bash
# Throwaway single-node Slurm cluster for the sgdagan Slurm tests.
#
#   tests/slurm/cluster.sh up       install Debian's Slurm packages if missing, write
#                                   /etc/slurm/{slurm,gres}.conf, start munged, slurmctld
#                                   and slurmd, and wait until a GPU job runs.
#   tests/slurm/cluster.sh down     cancel all jobs, stop the daemons this script started
#                                   (and any job processes left behind), remove the configs.
#                                   Safe to call twice, or without a prior `up`.
#   tests/slurm/cluster.sh status   show the daemons, sinfo and squeue.
#
# Needs root and apt (Debian/Ubuntu); no systemd needed. Everything except the two config
# files lives in $SGDAGAN_SLURM_STATE (default /tmp/sgdagan-slurm): pid files, spool and
# state directories, the munge socket and all daemon logs (logs are kept after `down`).
#
# Why the config looks the way it does (all measured on a 2-core VM, Slurm 22.05):
#  * It must be /etc/slurm/slurm.conf: the snakemake slurm plugin's job step clears the
#    SLURM_* variables, so a SLURM_CONF pointing elsewhere makes every job step fail.
#  * DefMemPerCPU: without it a job that gives no --mem gets the whole node's memory and
#    jobs run one at a time.
#  * SlurmdParameters=config_overrides: the node may declare more CPUs, memory and GPUs
#    than it has, so several jobs run at once on few real cores.
#  * Gres=gpu:<type>:N backed by /dev/null look-alikes: a GPU request (--gpus) on a node
#    without GRES is refused by sbatch. With this the profile's real GPU request is exercised
#    unchanged; a job sees CUDA_VISIBLE_DEVICES=<index> but there is no CUDA device, so
#    the code must fall back to the CPU.
#  * No slurmdbd: accounting is off, so `sacct` fails. The plugin must then use
#    `squeue` for status checks, which shows finished jobs only for MinJobAge seconds;
#    the plugin itself falls back to sacct when MinJobAge < 3 x its init seconds, hence
#    MinJobAge=300 (covers the default 40 s init and the plugin's 180 s max poll gap).
set -euo pipefail

STATE=${SGDAGAN_SLURM_STATE:-/tmp/sgdagan-slurm}
CLUSTER=sgdagan-test                           # also SLURM_CLUSTER_NAME of every job
PARTITION=${SGDAGAN_SLURM_PARTITION:-debug}
NCPUS=${SGDAGAN_SLURM_CPUS:-8}                 # declared, not real (config_overrides)
NGPUS=${SGDAGAN_SLURM_GPUS:-4}                 # fake GPUs: at most this many GPU jobs at once
GPU_TYPE=${SGDAGAN_SLURM_GPU_TYPE:-fakegpu}    # so `gpu_model` requests can be tested
MEM_MB=${SGDAGAN_SLURM_MEM_MB:-32000}          # declared, not enforced (no cgroups)
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
MARKER="# Written by sgdagan tests/slurm/cluster.sh; removed by 'cluster.sh down'."
NODE=$(hostname -s)
PACKAGES=(slurmctld slurmd slurm-client munge)
DAEMONS=(munged slurmctld slurmd)              # start order; stopped in reverse

# Talk to *this* cluster only: our config is at the default path.
unset SLURM_CONF

log() { printf '[cluster.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- process bookkeeping
# A pid file is trusted only if that process still carries our marker variable, so a
# recycled pid never gets a signal from us.
is_ours() {  # is_ours PID -> true if PID is alive and was started for $STATE
    local pid=$1
    [[ -n $pid && -r /proc/$pid/environ ]] || return 1
    { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SGDAGAN_SLURM_STATE=$STATE"
}

daemon_pid() {  # daemon_pid NAME -> prints the pid if that daemon of ours is alive
    local f="$STATE/pids/$1" pid
    [[ -f $f ]] || return 1
    pid=$(<"$f")
    is_ours "$pid" && echo "$pid"
}

start_daemon() {  # start_daemon NAME CMD... -> runs CMD in its own session, records pid
    local name=$1; shift
    # setsid: not in our process group, so a Ctrl-C on the caller does not hit it.
    # The marker variable lets `down` recognise it.
    SGDAGAN_SLURM_STATE="$STATE" setsid "$@" \
        </dev/null >"$STATE/log/$name.out" 2>&1 &
    echo $! >"$STATE/pids/$name"
}

stop_pid() {  # stop_pid PID NAME -> SIGTERM, up to 10 s grace, then SIGKILL
    local pid=$1 name=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        gone "$pid" && { log "stopped $name ($pid)"; return 0; }
        sleep 0.1
    done
    log "$name ($pid) ignored SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do gone "$pid" && return 0; sleep 0.1; done
}

gone() {  # gone PID -> true once the process has exited (or is a zombie)
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [[ -z $st || $st == Z || $st == X ]]
}

# Processes of ours without a pid file: job processes (they carry
# SLURM_CLUSTER_NAME=$CLUSTER) and slurmstepd (it wipes its environment for its process
# title, but keeps the slurmd log in $STATE open). Never ourselves or a parent.
stray_pids() {
    local p self_and_parents=" $$ " q=$$
    while [[ $q -gt 1 ]]; do
        q=$(awk '{print $4}' "/proc/$q/stat" 2>/dev/null || echo 1)
        self_and_parents+="$q "
    done
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $self_and_parents == *" $p "* ]] && continue
        if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null \
            | grep -qxF -e "SGDAGAN_SLURM_STATE=$STATE" -e "SLURM_CLUSTER_NAME=$CLUSTER"; then
            echo "$p"
        elif [[ $(cat "/proc/$p/comm" 2>/dev/null) == slurmstepd ]] \
            && find "/proc/$p/fd" -maxdepth 1 -lname "$STATE/*" 2>/dev/null | grep -q .; then
            echo "$p"
        fi
    done
    return 0
}

# ---------------------------------------------------------------------------- install
install_packages() {
    # Quick when installed: no apt at all.
    [[ $(command -v slurmctld slurmd sbatch munged | wc -l) -eq 4 ]] && return 0
    command -v apt-get >/dev/null || die "Slurm is not installed and apt-get is missing"
    log "installing ${PACKAGES[*]} (apt-get)"
    # Keep the packages' maintainer scripts from starting daemons we do not track.
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${PACKAGES[@]}"; } >"$STATE/log/apt.log" 2>&1 || rc=$?
    [[ $own_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc -eq 0 ]] || { tail -20 "$STATE/log/apt.log" >&2; die "apt-get failed"; }
}

# ----------------------------------------------------------------------------- config
write_config() {
    mkdir -p /etc/slurm "$STATE/dev"
    # Slurm wants a character device per GPU: make copies of /dev/null (c 1:3). Where
    # mknod is not allowed (nodev mount), fall back to /dev/null itself and one GPU.
    local gpu_files="$STATE/dev/${GPU_TYPE}[0-$((NGPUS - 1))]" i
    rm -f "$STATE/dev/${GPU_TYPE}"*
    for ((i = 0; i < NGPUS; i++)); do
        if ! mknod "$STATE/dev/${GPU_TYPE}$i" c 1 3 2>/dev/null; then
            log "mknod not possible in $STATE/dev; declaring 1 GPU backed by /dev/null"
            NGPUS=1 gpu_files=/dev/null
            break
        fi
    done
    cat >"$CONF" <<EOF
$MARKER
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
CredType=cred/munge
# Our own munged, so a system munged (or none) does not matter.
AuthInfo=socket=$STATE/munge/munge.socket
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups, no accounting: nothing to set up in a container/VM without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# A job without --mem must not take the whole node.
DefMemPerCPU=500
# squeue must still list finished jobs when the plugin polls (>= 3 x init seconds).
MinJobAge=300
# scancel: SIGKILL 2 s after SIGTERM (default 30 s).
KillWait=2
InactiveLimit=0
# Schedule batch jobs at once (default: up to 3 s later).
SchedulerParameters=batch_sched_delay=0
GresTypes=gpu
# Declare more CPUs/memory/GPUs than the machine has.
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NCPUS RealMemory=$MEM_MB Gres=gpu:$GPU_TYPE:$NGPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$GRES_CONF" <<EOF
$MARKER
AutoDetect=off
NodeName=$NODE Name=gpu Type=$GPU_TYPE File=$gpu_files
EOF
}

# ---------------------------------------------------------------------------- waiting
wait_for() {  # wait_for SECONDS DAEMON DESCRIPTION CMD... -> poll CMD every 0.1 s
    local secs=$1 daemon=$2 what=$3 i; shift 3
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        # (not daemon_pid: until the fork has exec'd, /proc/PID/environ does not
        # show the marker yet; the pid was recorded a moment ago, so it cannot be reused)
        if gone "$(<"$STATE/pids/$daemon")"; then
            log "$daemon exited while waiting for $what"
            return 1
        fi
        sleep 0.1
    done
    log "timed out after ${secs}s waiting for $what"
    return 1
}
node_idle() { [[ $(sinfo -h -n "$NODE" -o %t 2>/dev/null) == idle ]]; }
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_up() { munge -n -S "$STATE/munge/munge.socket" | unmunge -S "$STATE/munge/munge.socket"; }

show_logs() {
    local f
    for f in "$STATE"/log/*.log "$STATE"/log/*.out; do
        [[ -f $f ]] || continue
        log "---- tail $f"; tail -15 "$f" >&2
    done
}

# A batch job that asks for a GPU and runs a job step, like the plugin's jobs do. (Polled
# with squeue rather than `sbatch --wait`, whose own polling adds several seconds.)
check_job() {
    local out="$STATE/log/check-job.out" id state i
    rm -f "$out"
    # shellcheck disable=SC2016  # $CUDA_VISIBLE_DEVICES is for the job's shell
    id=$(sbatch --parsable --job-name=cluster-check --gpus=1 --time=1 --output="$out" \
        --wrap='srun -n1 true && echo "ok CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"') \
        || { log "sbatch refused the check job"; return 1; }
    for ((i = 0; i < 300; i++)); do
        state=$(squeue -h --states=all -j "$id" -o %T 2>/dev/null || true)
        case $state in
            COMPLETED) break ;;
            PENDING | CONFIGURING | RUNNING | COMPLETING | "") sleep 0.1 ;;
            *) log "check job $id ended $state"; cat "$out" >&2 2>/dev/null; return 1 ;;
        esac
    done
    [[ $state == COMPLETED ]] || { log "check job $id still $state after 30s"; return 1; }
    grep -q '^ok CUDA_VISIBLE_DEVICES=[0-9]' "$out" \
        || { log "check job output unexpected:"; cat "$out" >&2; return 1; }
}

# ------------------------------------------------------------------------- commands
all_up() { local d; for d in "${DAEMONS[@]}"; do daemon_pid "$d" >/dev/null || return 1; done; }

cmd_up() {
    local t0=$SECONDS
    [[ $(id -u) -eq 0 ]] || die "must run as root (it writes /etc/slurm and starts daemons)"
    mkdir -p "$STATE/log" "$STATE/pids"
    if all_up; then
        log "already up (state in $STATE)"
        node_idle || wait_for 10 slurmd "node $NODE idle" node_idle || die "node not idle"
        return 0
    fi
    cmd_down 2>/dev/null || true       # clear a half-started cluster of ours
    install_packages
    if [[ -e $CONF ]] && ! grep -qxF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to replace it"
    fi
    local other
    # (zombies do not count: some container inits reap exited daemons only after seconds)
    other=$(for p in $(pgrep -x slurmctld; pgrep -x slurmd); do gone "$p" || echo "$p"; done)
    [[ -z $other ]] || die "other Slurm daemons are running (pids: $other); refusing to start"

    # Fresh state and logs every time (job ids restart at 1).
    rm -rf "$STATE/slurmctld" "$STATE/slurmd" "$STATE/run" "$STATE/munge" \
        "$STATE"/log/slurm*.log "$STATE"/log/*.out
    mkdir -p "$STATE/slurmctld" "$STATE/slurmd" "$STATE/run" "$STATE/munge"
    # munged wants its socket directory owned by it and traversable by all.
    chown munge:munge "$STATE/munge"; chmod 755 "$STATE/munge"
    write_config
    [[ -s /etc/munge/munge.key ]] || die "/etc/munge/munge.key missing (munge package broken?)"

    # munged refuses to run as root with a munge-owned key: run it as the munge user.
    # setpriv execs (no extra process), so the recorded pid is munged's own.
    start_daemon munged setpriv --reuid=munge --regid=munge --clear-groups \
        munged --foreground --socket="$STATE/munge/munge.socket" \
        --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
        --seed-file="$STATE/munge/munged.seed"
    wait_for 10 munged munged munge_up || { show_logs; cmd_down; die "munged did not start"; }

    start_daemon slurmctld slurmctld -D -c      # -c: do not recover old job state
    wait_for 15 slurmctld slurmctld ctld_up || { show_logs; cmd_down; die "slurmctld did not start"; }

    start_daemon slurmd slurmd -D -N "$NODE"
    wait_for 20 slurmd "node $NODE idle" node_idle || { sinfo >&2 || true; show_logs; cmd_down; die "node did not become idle"; }

    check_job || { show_logs; cmd_down; die "a trivial GPU batch job did not run"; }
    log "up in $((SECONDS - t0))s: partition '$PARTITION', node $NODE with $NCPUS CPUs," \
        "${MEM_MB} MB, $NGPUS x gpu:$GPU_TYPE; state and logs in $STATE"
}

cmd_down() {
    local d pid i f
    local -a strays
    # 1. Cancel every job while slurmctld/slurmd still run, so slurmstepd ends them
    #    cleanly, and give them a few seconds (KillWait=2).
    if daemon_pid slurmctld >/dev/null; then
        squeue -h -o %i 2>/dev/null | xargs -r scancel --quiet 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ -z $(squeue -h -t PD,R,CG,S -o %i 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
    # 2. Stop the daemons we started, newest first.
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        d=${DAEMONS[i]}
        if pid=$(daemon_pid "$d"); then stop_pid "$pid" "$d"; fi
        rm -f "$STATE/pids/$d"
    done
    # 3. Anything of ours left (slurmstepd, job processes): TERM, then KILL.
    mapfile -t strays < <(stray_pids)
    if [[ ${#strays[@]} -gt 0 ]]; then
        log "stopping leftover processes: ${strays[*]}"
        kill -TERM "${strays[@]}" 2>/dev/null || true
        sleep 1
        mapfile -t strays < <(stray_pids)
        [[ ${#strays[@]} -eq 0 ]] || kill -KILL "${strays[@]}" 2>/dev/null || true
    fi
    # 4. Our configs go; logs stay in $STATE for post-mortems.
    for f in "$CONF" "$GRES_CONF"; do
        [[ -f $f ]] && grep -qxF "$MARKER" "$f" && rm -f "$f"
    done
    log "down"
}

cmd_status() {
    local d pid rc=0
    for d in "${DAEMONS[@]}"; do
        if pid=$(daemon_pid "$d"); then echo "$d: running (pid $pid)"; else echo "$d: stopped"; rc=3; fi
    done
    if [[ $rc -eq 0 ]]; then
        sinfo -N -o '%N %t %c %m %G' || true
        squeue --states=all -o '%.6i %.12j %.10T %.10M %b' || true
    fi
    return $rc
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status   (state dir: \$SGDAGAN_SLURM_STATE, default /tmp/sgdagan-slurm)" >&2; exit 2 ;;
esac
