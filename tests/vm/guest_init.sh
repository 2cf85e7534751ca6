#!/bin/sh
# /init of the pure-cgroup2 guest (tests/vm/build_initramfs.py). Busybox only.
#
# Stage 1 (the initramfs): pivot_root(2) refuses the initial rootfs, and
# berth's containers need their mount namespace's root to be a real mount:
# copy everything into a tmpfs and switch_root into it.
# Stage 2 (the tmpfs root): mount the API filesystems and cgroup2 alone,
# give berth a delegated cgroup as a service manager would, start the daemon,
# run /checks.sh, stop the daemon and check what it leaves, power off.
# Every result is a line on the serial console: "CHECK <name> PASS|FAIL".
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin
export HOME=/root

if [ "$1" != stage2 ]; then
    mount -t tmpfs -o mode=0755 tmpfs /newroot
    for e in /*; do
        case "$e" in /newroot|/proc|/sys|/dev) ;; *) cp -a "$e" /newroot/ ;; esac
    done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/root
    exec switch_root /newroot /init stage2
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
echo "GUEST kernel $(uname -r) up $(cut -d' ' -f1 /proc/uptime)s"

while read -r ko; do
    insmod "$ko" || echo "GUEST insmod $ko failed"
done < /etc/modules.order

# The root cgroup may hold processes and still enable controllers; no other
# cgroup may (cgroup2's "no internal processes" rule). So, as systemd does:
# this shell in a leaf of its own, berth in a delegated cgroup beside it,
# both below /test (a non-root cgroup that enables controllers for them).
cg=/sys/fs/cgroup
for c in cpu cpuset io memory pids; do
    echo "+$c" > $cg/cgroup.subtree_control 2>/dev/null || echo "GUEST cannot enable $c at the root"
done
mkdir -p $cg/test/shell $cg/test/berth.service
echo $$ > $cg/test/shell/cgroup.procs
for c in $(cat $cg/test/cgroup.controllers); do
    echo "+$c" > $cg/test/cgroup.subtree_control || echo "GUEST cannot enable $c in /test"
done
echo "GUEST controllers: $(cat $cg/cgroup.subtree_control) (root), $(cat $cg/test/cgroup.subtree_control) (/test)"

export BERTH_ROOT=/var/lib/berth BERTH_SOCK=/run/berth.sock
export BERTH_SERVICE=$cg/test/berth.service
mkdir -p $BERTH_ROOT
# Starts the daemon in cgroup $1 (default: berth.service), as a service
# manager would.
start_daemon() {
    (echo 0 > "${1:-$BERTH_SERVICE}/cgroup.procs" &&
        exec berth daemon -H unix://$BERTH_SOCK --data-root $BERTH_ROOT) >> /tmp/daemon.log 2>&1 &
    DAEMON_PID=$!
    i=0
    while ! berth -H unix://$BERTH_SOCK --no-autostart version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 600 ] || ! kill -0 $DAEMON_PID 2>/dev/null; then
            echo "GUEST the daemon did not answer"
            kill -0 $DAEMON_PID 2>/dev/null || { wait $DAEMON_PID; echo "GUEST it exited with status $?"; }
            ls -la /tmp
            tail -n 20 /tmp/daemon.log
            return 1
        fi
        sleep 0.1
    done
    export DAEMON_PID
}

t0=$(cut -d' ' -f1 /proc/uptime)
if start_daemon && berth -H unix://$BERTH_SOCK --no-autostart import /busybox.tar busybox:latest >/dev/null; then
    echo "GUEST daemon pid $DAEMON_PID ready at $(cut -d' ' -f1 /proc/uptime)s (started at ${t0}s)"
    . /checks.sh
else
    echo "CHECK daemon_start FAIL"
    echo "SUMMARY pass=0 fail=1"
fi
echo "GUEST daemon log (tail):"
tail -n 40 /tmp/daemon.log | sed 's/^/  daemon| /'
[ -f $BERTH_ROOT/monitor.log ] && tail -n 20 $BERTH_ROOT/monitor.log | sed 's/^/  monitor| /'
echo "GUEST done at $(cut -d' ' -f1 /proc/uptime)s"
sync
poweroff -f
