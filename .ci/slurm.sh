#!/usr/bin/env bash
# Make a one-machine Slurm cluster available for the Slurm tests; idempotent.
#
#   1. install Debian's slurm-wlm and munge when missing (apt-get);
#   2. write the munge key (when absent), slurm.conf and cgroup.conf under $SLURM_CONF_DIR
#      (rewritten only when they differ from what this script writes);
#   3. start munged, slurmctld and two slurmd (nodes n1 and n2, both on this host: `slurmd -N
#      NAME`, each with its own port, spool dir and log) when they are not running, and wait
#      until both nodes are idle.
#
# Caps are enforced by Slurm's cgroup plugins: task/cgroup with ConstrainCores (a cpuset of the
# cores allocated) and ConstrainRAMSpace + ConstrainSwapSpace with AllowedSwapSpace=0 (a memory
# limit with no swap); select/cons_tres with CR_Core_Memory hands out whole cores, never the same
# core to two jobs of one node. Partitions: `debug` (the default: n1 alone, so that probes side
# by side get disjoint cores of this host), `two` (n1 and n2, for two-node probes), `a` (n1) and
# `b` (n2): two node types to profile a heterogeneous cluster against. n1 and n2 are emulated
# nodes on the same host: each believes it has all of the host's cores, so jobs on n1 and on n2
# at the same time share physical cores. The tests that use n2 check correctness (rendezvous,
# per-node caps, one profile per node type), never speed.
#
# With CI=true every failure is fatal (the Slurm tests must run, never skip). Without it, a
# machine where the cluster cannot be started only gets a warning and the tests skip.
set -uo pipefail

cd "$(dirname "$0")/.."
CONF_DIR="${SLURM_CONF_DIR:-/etc/slurm}"
LOG_DIR="${HARNESS_SLURM_LOG_DIR:-/var/log/slurm}"
NODES=(n1 n2)
CPUS="${HARNESS_SLURM_CPUS:-$(nproc)}"
MEM_MB="${HARNESS_SLURM_MEM_MB:-$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))}"

say() { echo "slurm.sh: $*" >&2; }
fail() {
    say "$*"
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    say "(not CI: the Slurm tests will skip)"
    exit 0
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
nodes_idle() {
    local n
    n=$(sinfo -h -N -p two -t idle,mix,alloc -o '%N' 2>/dev/null | sort -u | wc -l)
    [ "$n" -ge "${#NODES[@]}" ]
}

# 1. packages
missing=()
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
command -v pgrep >/dev/null || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]} failed"
fi
say "$(slurmd -V)"

# 2. configuration
host=$(hostname -s)
as_root mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /run/munge /var/log/munge \
    || fail "cannot make Slurm's folders (needs root)"
for n in "${NODES[@]}"; do as_root mkdir -p "/var/spool/slurmd/$n"; done
if [ ! -s /etc/munge/munge.key ]; then
    as_root mkdir -p /etc/munge
    as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none \
        || fail "cannot write the munge key"
fi
as_root chown -R munge:munge /etc/munge /run/munge /var/log/munge
as_root chmod 700 /etc/munge
as_root chmod 400 /etc/munge/munge.key

node_lines=""
port=17001
for n in "${NODES[@]}"; do
    node_lines+="NodeName=$n NodeHostname=$host NodeAddr=127.0.0.1 Port=$port CPUs=$CPUS RealMemory=$MEM_MB Feature=cpu-$n State=UNKNOWN"$'\n'
    port=$((port + 1))
done
conf=$(cat <<EOF
# written by .ci/slurm.sh: a one-machine cluster, two slurmd on this host
ClusterName=harness
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd/%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd-%n.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/cgroup
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
MinJobAge=3600
KillWait=5
ReturnToService=2
SlurmdTimeout=60
MpiDefault=none
SchedulerType=sched/backfill
$node_lines
PartitionName=debug Nodes=${NODES[0]} Default=YES MaxTime=INFINITE OverSubscribe=NO State=UP
PartitionName=two Nodes=$(IFS=,; echo "${NODES[*]}") MaxTime=INFINITE OverSubscribe=NO State=UP
PartitionName=a Nodes=${NODES[0]} MaxTime=INFINITE OverSubscribe=NO State=UP
PartitionName=b Nodes=${NODES[1]} MaxTime=INFINITE OverSubscribe=NO State=UP
EOF
)
cgroup=$(cat <<EOF
# written by .ci/slurm.sh: Slurm's cgroup plugin enforces the probes' caps
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=yes
ConstrainRAMSpace=yes
AllowedRAMSpace=100
ConstrainSwapSpace=yes
AllowedSwapSpace=0
ConstrainDevices=no
EOF
)
# cgroup v2 (not this machine's; untested here): no systemd to delegate a scope, so say so
[ -f /sys/fs/cgroup/cgroup.controllers ] && cgroup="${cgroup/cgroup\/v1/cgroup\/v2}"$'\n'"IgnoreSystemd=yes"
changed=0
write_if_changed() {  # FILE TEXT
    if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
        printf '%s\n' "$2" | as_root tee "$1" >/dev/null || fail "cannot write $1"
        changed=1
    fi
}
write_if_changed "$CONF_DIR/slurm.conf" "$conf"
write_if_changed "$CONF_DIR/cgroup.conf" "$cgroup"

# 3. daemons (restarted when the configuration changed)
if [ "$changed" = 1 ] && pgrep -x slurmctld >/dev/null; then
    say "configuration changed: restarting the daemons"
    as_root scontrol shutdown >/dev/null 2>&1
    for _ in $(seq 1 40); do pgrep -x 'slurm(ctl)?d' >/dev/null || break; sleep 0.5; done
fi
if ! pgrep -x munged >/dev/null; then
    say "starting munged"
    as_root runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
fi
if ! pgrep -x slurmctld >/dev/null; then
    say "starting slurmctld (log: $LOG_DIR/slurmctld.log)"
    as_root /usr/sbin/slurmctld -f "$CONF_DIR/slurm.conf" || fail "slurmctld did not start"
fi
for n in "${NODES[@]}"; do
    if ! pgrep -f "slurmd -N $n( |$)" >/dev/null; then
        say "starting slurmd -N $n (log: $LOG_DIR/slurmd-$n.log)"
        as_root /usr/sbin/slurmd -N "$n" -f "$CONF_DIR/slurm.conf" \
            || fail "slurmd -N $n did not start; last log lines: $(tail -n 5 "$LOG_DIR/slurmd-$n.log" 2>/dev/null)"
    fi
done
for _ in $(seq 1 60); do nodes_idle && break; sleep 1; done
for n in "${NODES[@]}"; do  # a node left DOWN/DRAIN by an earlier run
    state=$(sinfo -h -n "$n" -o '%T' 2>/dev/null | head -n1)
    case "$state" in down*|drain*|fail*) as_root scontrol update nodename="$n" state=resume ;; esac
done
for _ in $(seq 1 30); do nodes_idle && break; sleep 1; done
nodes_idle || fail "the nodes did not come up: $(sinfo -N -h -o '%N %T %E' 2>&1 | tr '\n' ';') (logs in $LOG_DIR)"
say "cluster up: $(sinfo -h -o '%P %D %T %c cpus %m MB' | tr '\n' ';')"
