// Docker's device allowlist as a BPF_CGROUP_DEVICE program, loaded with the
// raw bpf() syscall (no libbpf for one small program) and attached to a
// container's cgroup2 directory before any process enters it.
#pragma once

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth::cgroup {

struct device_rule {
    char type;                 // 'c', 'b' or 'a' (all)
    std::int64_t major, minor; // -1: any
    unsigned access;           // bit 1 mknod, 2 read, 4 write (BPF_DEVCG_ACC_*)
};

// Docker's default: mknod of any device; rwm on null, zero, full, random,
// urandom, tty, console, ptmx, /dev/pts/*, tun.
std::vector<device_rule> default_device_rules();

// Loads the program once; the fd can be attached to many cgroups.
result<unique_fd> load_device_program(const std::vector<device_rule>& rules);

// BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) to an open cgroup2 directory.
status attach_device_program(int program_fd, int cgroup_dir_fd);

}  // namespace berth::cgroup
