# Sourced by the guest's /init (tests/vm/guest_init.sh) once the daemon
# answers: what the hybrid e2e tests check about cgroups, on a host with
# cgroup2 alone. Each check prints "CHECK <name> PASS|FAIL (<seconds>s)" and
# its notes indented with "  | "; the last line is "SUMMARY pass=N fail=M".
# Needs: DAEMON_PID, BERTH_ROOT, BERTH_SOCK, BERTH_SERVICE, start_daemon.

b() { berth -H "unix://$BERTH_SOCK" --no-autostart "$@"; }
now() { cut -d' ' -f1 /proc/uptime; }
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
# want WHAT GOT EXPECTED: a note when equal, else the mismatch and failure.
want() {
    if [ "$2" = "$3" ]; then echo "$1: $2"; return 0; fi
    echo "$1: got '$2', want '$3'"
    return 1
}
state() { b inspect -f "{{.State.$2}}" "$1"; }

pass=0
fail=0
# check NAME FUNCTION: runs FUNCTION in this shell (it may restart the
# daemon); a non-zero status fails the check.
check() {
    local name=$1 t rc
    shift
    t=$(now)
    "$@" > /tmp/check.out 2>&1
    rc=$?
    dt=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        echo "CHECK $name PASS (${dt}s)"
        pass=$((pass + 1))
    else
        echo "CHECK $name FAIL (${dt}s)"
        fail=$((fail + 1))
    fi
    sed 's/^/  | /' /tmp/check.out
}

DAEMON_LEAF=$(cg_of "$DAEMON_PID")
PARENT=/sys/fs/cgroup$(dirname "$DAEMON_LEAF")

only_cgroup2() {
    want "v1 cgroup mounts" "$(awk '$3 == "cgroup"' /proc/mounts | wc -l)" 0 || return 1
    want "cgroup2 mounts" "$(awk '$3 == "cgroup2" { print $2 }' /proc/mounts)" /sys/fs/cgroup || return 1
    want "this shell's /proc/self/cgroup" "$(cat /proc/self/cgroup)" "0::/test/shell"
}

info_says_v2() {
    b info > /tmp/info.out || return 1
    grep -i cgroup /tmp/info.out
    grep -q "Cgroup Version: 2" /tmp/info.out
}

daemon_and_monitor_in_leaves() {
    local mons mon p ppid zygotes
    case "$DAEMON_LEAF" in
    /test/berth.service/berth-*/daemon) echo "daemon: $DAEMON_LEAF" ;;
    *) echo "daemon in $DAEMON_LEAF, want /test/berth.service/berth-<hash>/daemon"; return 1 ;;
    esac
    want "daemon leaf procs" "$(cat "$PARENT/daemon/cgroup.procs")" "$DAEMON_PID" || return 1
    want "start cgroup procs (emptied by the daemon)" "$(cat "$BERTH_SERVICE/cgroup.procs")" "" || return 1
    # Every monitor (one per shard: monitor.pid, monitor-N.pid) and its
    # zygotes (one per CPU, at most 4), nothing else.
    mons=$(cat "$BERTH_ROOT"/monitor*.pid)
    [ -n "$mons" ] || { echo "no monitor pid file"; return 1; }
    for mon in $mons; do
        want "monitor $mon cgroup" "$(cg_of "$mon")" "$(dirname "$DAEMON_LEAF")/monitor" || return 1
    done
    for p in $(cat "$PARENT/monitor/cgroup.procs"); do
        ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status")
        case " $(echo $mons) " in *" $p "*|*" $ppid "*) ;; *) echo "pid $p (parent $ppid) in the monitor leaf"; return 1 ;; esac
    done
    zygotes=$(grep -c '^processor' /proc/cpuinfo)
    [ "$zygotes" -le 4 ] || zygotes=4
    want "monitor leaf procs" "$(wc -l < "$PARENT/monitor/cgroup.procs")" $(((1 + zygotes) * $(echo $mons | wc -w))) || return 1
    want "controllers of the start cgroup" "$(cat "$BERTH_SERVICE/cgroup.subtree_control")" "cpuset cpu io memory pids" || return 1
    want "controllers of berth's parent" "$(cat "$PARENT/cgroup.subtree_control")" "cpuset cpu io memory pids"
}

cgroup_namespace() {
    want "container /proc/self/cgroup" "$(b run --rm busybox cat /proc/self/cgroup)" "0::/"
}

device_program() {
    # mknod is allowed (CAP_MKNOD), opening a block device is not (the BPF device program).
    want "probe" "$(b run --rm busybox /probe mknod-block /blockdev | tr '\n' ' ')" "mknod=ok open=EPERM "
}

device_flags() {
    local out
    # Another rule set: its own program (loaded once, cached), the rule opens the node
    # (ENXIO without such a disk, never EPERM).
    out=$(b run --rm --device-cgroup-rule 'b 8:* rwm' busybox /probe mknod-block /blockdev | tr '\n' ' ')
    echo "--device-cgroup-rule 'b 8:* rwm': $out"
    case "$out" in "mknod=ok open=EPERM "*) return 1 ;; "mknod=ok open="*) ;; *) return 1 ;; esac
    want "--device /dev/null:/dev/mynull" "$(b run --rm --device /dev/null:/dev/mynull busybox sh -c \
        'stat -c %t:%T /dev/mynull && echo x > /dev/mynull && echo written' | tr '\n' ' ')" "1:3 written " || return 1
    # --privileged: no program at all, and mount works.
    out=$(b run --rm --privileged busybox sh -c 'mkdir -p /m && mount -t tmpfs none /m && /probe mknod-block /blockdev' \
        | tr '\n' ' ')
    echo "--privileged: $out"
    case "$out" in "mknod=ok open=EPERM "*) return 1 ;; "mknod=ok open="*) ;; *) return 1 ;; esac
    # The default rules still hold afterwards.
    want "default" "$(b run --rm busybox /probe mknod-block /blockdev | tr '\n' ' ')" "mknod=ok open=EPERM "
}

memory_oom() {
    local rc
    b run --name oom -m 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1
    rc=$?
    want "exit code" "$rc" 137 || return 1
    want OOMKilled "$(state oom OOMKilled)" true || return 1
    want ExitCode "$(state oom ExitCode)" 137 || return 1
    want "HostConfig.Memory" "$(b inspect -f '{{.HostConfig.Memory}}' oom)" 33554432 || return 1
    b rm oom > /dev/null
}

pids_limit() {
    local loop='i=0; while [ $i -lt 50 ]; do sleep 2 & i=$((i+1)); done; echo spawned' out rc
    want "without a limit" "$(b run --rm busybox sh -c "$loop" 2>&1)" spawned || return 1
    out=$(b run --rm --pids-limit 20 busybox sh -c "$loop" 2>&1)
    rc=$?
    echo "$out" | tail -n 2
    [ $rc -ne 0 ] || { echo "exit code 0 under --pids-limit 20"; return 1; }
    case "$out" in *spawned*) echo "all 50 forks succeeded"; return 1 ;; esac
    case "$out" in *"can't fork"*|*"Resource temporarily unavailable"*) ;; *) echo "no failed fork reported"; return 1 ;; esac
    echo "exit code $rc"
}

cpu_limits() {
    local cid dir pid thr
    cid=$(b run -d --cpus 0.5 --cpuset-cpus 0 --pids-limit 20 busybox sh -c 'while :; do :; done') || return 1
    dir=$PARENT/$cid
    want cpu.max "$(cat "$dir/cpu.max")" "50000 100000" || return 1
    want cpuset.cpus "$(cat "$dir/cpuset.cpus")" 0 || return 1
    want cpuset.cpus.effective "$(cat "$dir/cpuset.cpus.effective")" 0 || return 1
    want pids.max "$(cat "$dir/pids.max")" 20 || return 1
    pid=$(state "$cid" Pid)
    want "Cpus_allowed_list of the container's PID 1" "$(awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$pid/status")" 0 || return 1
    sleep 1.5
    # The busy loop ran into its quota: the kernel throttled it.
    thr=$(awk '$1 == "nr_throttled" { print $2 }' "$dir/cpu.stat")
    echo "nr_throttled: $thr"
    [ "${thr:-0}" -gt 0 ] || return 1
    b rm -f "$cid" > /dev/null
}

# The counter file of pause_unpause: the container's shell truncates it
# before each write, so an empty read is retried.
counter() {
    local v n=0
    while [ $n -lt 50 ]; do
        v=$(cat "$1" 2>/dev/null)
        [ -n "$v" ] && { echo "$v"; return 0; }
        sleep 0.01
        n=$((n + 1))
    done
    echo 0
}

pause_unpause() {
    local cid dir upper a c i
    cid=$(b run -d busybox sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/t; usleep 20000; done') || return 1
    dir=$PARENT/$cid
    upper=$(b inspect -f '{{.GraphDriver.Data.UpperDir}}' "$cid")
    i=0
    while [ ! -s "$upper/tmp/t" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    b pause "$cid" > /dev/null || return 1
    want cgroup.freeze "$(cat "$dir/cgroup.freeze")" 1 || return 1
    want "cgroup.events frozen" "$(awk '$1 == "frozen" { print $2 }' "$dir/cgroup.events")" 1 || return 1
    want Status "$(state "$cid" Status)" paused || return 1
    a=$(counter "$upper/tmp/t"); sleep 0.5; c=$(counter "$upper/tmp/t")
    want "counter while paused" "$c" "$a" || return 1
    b unpause "$cid" > /dev/null || return 1
    want cgroup.freeze "$(cat "$dir/cgroup.freeze")" 0 || return 1
    want "cgroup.events frozen" "$(awk '$1 == "frozen" { print $2 }' "$dir/cgroup.events")" 0 || return 1
    a=$(counter "$upper/tmp/t"); sleep 0.5; c=$(counter "$upper/tmp/t")
    [ "$c" -gt "$a" ] || { echo "counter stuck at $a after unpause"; b rm -f "$cid" > /dev/null; return 1; }
    echo "counter advances after unpause: $a -> $c"
    b rm -f "$cid" > /dev/null
}

stop_timeout() {
    local cid t dt
    cid=$(b run -d busybox sleep 60) || return 1
    t=$(now)
    b stop -t 1 "$cid" > /dev/null || return 1
    dt=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    echo "stop -t 1 took ${dt}s"
    awk -v d="$dt" 'BEGIN { exit !(d >= 0.9 && d < 10) }' || return 1
    want ExitCode "$(state "$cid" ExitCode)" 137 || return 1
    b rm "$cid" > /dev/null
}

exec_and_update_and_stats() {
    local cid dir rc mu
    cid=$(b run -d -m 32m busybox sleep 60) || return 1
    dir=$PARENT/$cid
    b exec "$cid" sh -c 'cat /proc/self/cgroup; exit 7'
    rc=$?
    want "exec exit code" "$rc" 7 || return 1
    want "memory.max" "$(cat "$dir/memory.max")" 33554432 || return 1
    b update --memory 64m --memory-swap 128m "$cid" > /dev/null || return 1
    want "memory.max after update" "$(cat "$dir/memory.max")" 67108864 || return 1
    want "HostConfig.Memory after update" "$(b inspect -f '{{.HostConfig.Memory}}' "$cid")" 67108864 || return 1
    mu=$(b stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' "$cid") || return 1
    echo "stats: $mu"
    case "$mu" in ""|0B*) echo "no memory usage"; return 1 ;; esac
    case "$mu" in *"/ 64MiB|1") ;; *) echo "want the 64MiB limit and 1 pid"; return 1 ;; esac
    b top "$cid" | grep -q "sleep 60" || { echo "top does not show sleep 60"; return 1; }
    b rm -f "$cid" > /dev/null
}

restart_on_failure() {
    local cid i
    cid=$(b run -d --restart on-failure:2 busybox sh -c 'exit 3') || return 1
    i=0
    while [ $i -lt 150 ]; do
        [ "$(b inspect -f '{{.RestartCount}} {{.State.Status}}' "$cid")" = "2 exited" ] && break
        sleep 0.2
        i=$((i + 1))
    done
    want "RestartCount Status" "$(b inspect -f '{{.RestartCount}} {{.State.Status}}' "$cid")" "2 exited" || return 1
    want ExitCode "$(state "$cid" ExitCode)" 3 || return 1
    b rm "$cid" > /dev/null
}

run_init() {
    local out rc
    out=$(b run --rm --init busybox sh -c "tr '\\0' ' ' < /proc/1/cmdline; exit 3")
    rc=$?
    echo "PID 1: $out"
    want "exit code" "$rc" 3 || return 1
    case "$out" in "/sbin/docker-init -- sh -c"*) ;; *) return 1 ;; esac
}

cgroups_removed() {
    # Every container above was removed: only berth's own leaves are left.
    want "berth's parent holds" "$(cd "$PARENT" && ls -d */ | tr -d / | tr '\n' ' ')" "daemon monitor "
}

daemon_restart_keeps_layout() {
    local cid pid old_leaf=$DAEMON_LEAF
    cid=$(b run -d busybox sleep 300) || return 1
    pid=$(state "$cid" Pid)
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID"
    # The daemon's leaf empties; the monitor, and the container, live on.
    want "daemon leaf procs after exit" "$(cat "$PARENT/daemon/cgroup.procs")" "" || return 1
    kill -0 "$pid" || { echo "container pid $pid died with the daemon"; return 1; }
    # berth.service enables controllers now: the kernel refuses it processes.
    if echo 0 > "$BERTH_SERVICE/cgroup.procs"; then echo "berth.service took a process"; return 1; fi
    # A restart goes where the daemon was (what systemd's DelegateSubgroup= does).
    start_daemon "$PARENT/daemon" || return 1
    want "new daemon's cgroup" "$(cg_of "$DAEMON_PID")" "$old_leaf" || return 1
    want "start cgroup procs" "$(cat "$BERTH_SERVICE/cgroup.procs")" "" || return 1
    want "container after restart" "$(state "$cid" Status) $(state "$cid" Pid)" "running $pid" || return 1
    b rm -f "$cid" > /dev/null || return 1
    [ ! -e "$PARENT/$cid" ] || { echo "$PARENT/$cid left behind"; return 1; }
}

shared_start_cgroup_degrades() {
    # A daemon started in a cgroup that holds other processes (this shell's)
    # cannot enable controllers below it: containers run, limits are
    # discarded with Docker's warning, and the shell is left where it was.
    local sock=/run/berth2.sock root=/var/lib/berth2 pid mon out rc
    mkdir -p $root
    berth daemon -H unix://$sock --data-root $root >> /tmp/daemon2.log 2>&1 &
    pid=$!
    i=0
    until berth -H unix://$sock --no-autostart version > /dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 600 ] && kill -0 $pid 2>/dev/null || { echo "second daemon did not answer"; cat /tmp/daemon2.log; return 1; }
        sleep 0.1
    done
    berth -H unix://$sock --no-autostart import /busybox.tar busybox:latest > /dev/null || return 1
    out=$(berth -H unix://$sock --no-autostart run --rm -m 32m busybox echo ran 2>&1)
    rc=$?
    echo "$out"
    mon=$(cat $root/monitor*.pid)
    kill -TERM $pid; wait $pid
    kill -KILL $mon
    want "exit code" "$rc" 0 || return 1
    case "$out" in *"WARNING: Your kernel does not support memory limit capabilities"*ran*) ;; *) return 1 ;; esac
    want "this shell's cgroup" "$(cat /proc/self/cgroup)" "0::/test/shell"
}

check only_cgroup2 only_cgroup2
check info_cgroup_version info_says_v2
check daemon_monitor_leaves daemon_and_monitor_in_leaves
check cgroup_namespace cgroup_namespace
check device_program device_program
check device_flags device_flags
check memory_oom memory_oom
check pids_limit pids_limit
check cpu_cpuset_pids_knobs cpu_limits
check pause_unpause pause_unpause
check stop_timeout stop_timeout
check exec_update_stats_top exec_and_update_and_stats
check restart_on_failure restart_on_failure
check run_init run_init
check cgroups_removed cgroups_removed
check daemon_restart daemon_restart_keeps_layout
check shared_start_cgroup shared_start_cgroup_degrades
echo "SUMMARY pass=$pass fail=$fail"
