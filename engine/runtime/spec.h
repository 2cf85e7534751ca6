// What the runtime needs to turn a prepared rootfs into a running container.
//
// The daemon fills a launch_spec, the monitor hands it to its zygote, the
// zygote clone3()s the container child, and the child applies it in two
// halves with a sync point between them:
//   sandbox setup  — cgroup namespace, private mount tree, overlay rootfs,
//                    /proc /dev /sys …, masked and read-only paths, pivot_root,
//                    lo up in a new network namespace;
//   process setup  — hostname, rlimits, user and groups, capabilities, exec.
// A warm pool (later) prepares the first half ahead of time, so nothing in
// the sandbox half may depend on the command, user or environment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

// A compiled seccomp program (struct sock_filter[]), shared rather than
// copied: the zygote keeps each program file it read and every spec that
// names it refers to that copy. A copy per start was about 20 KiB that the
// zygote wrote and freed again after its clone3, every page of it a
// copy-on-write fault (with the child still sharing it), which cost 50 us a
// page where page faults trap to the hypervisor.
class bpf_program {
public:
    bpf_program() = default;
    explicit bpf_program(std::string bytes)
        : _bytes(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
    explicit bpf_program(std::shared_ptr<const std::string> shared) : _bytes(std::move(shared)) {}
    bool empty() const noexcept { return !_bytes || _bytes->empty(); }
    // (No function-local static here: each child would run its guard, a
    // page written in every container's start.)
    const std::string& bytes() const noexcept { return _bytes ? *_bytes : none(); }
    friend bool operator==(const bpf_program& a, const bpf_program& b) { return a.bytes() == b.bytes(); }

private:
    static const std::string& none() noexcept;
    std::shared_ptr<const std::string> _bytes;
};

struct rlimit_spec {
    int resource = 0;
    std::uint64_t soft = 0, hard = 0;
};

struct tmpfs_mount {
    std::string target;        // absolute, inside the container
    unsigned long flags = 0;   // MS_*
    std::string data;          // "size=64m,mode=1777"
};

// A bind of a host path (-v, --mount type=bind): cloned from the host
// before pivot_root, attached at target inside the container's root after.
struct bind_mount {
    std::string source;            // absolute host path
    std::string target;            // absolute, inside the container
    bool readonly = false;
    bool create_source = false;    // -v: a missing host directory is made (Docker does)
    std::string propagation = "rprivate";  // [r]private, [r]shared, [r]slave
    bool populate = false;         // a named volume: filled from the image's target while empty
    std::string volume;            // the named volume's name (messages); empty for a host bind
    // A volume with local driver options: its own filesystem, mounted per
    // container instead of a bind of source (type "none" with o=bind|rbind:
    // a bind of fs_device). Empty fs_type and fs_device: a plain bind.
    std::string fs_type, fs_device, fs_options;
};

// --time-offset (a berth extension): the offsets of a new time namespace,
// in nanoseconds. The container's init unshares it and writes them before
// its execve enters it; an exec joins it (runtime/timens.h).
struct time_offset_spec {
    std::int64_t monotonic_ns = 0;
    std::int64_t boottime_ns = 0;
    bool operator==(const time_offset_spec&) const = default;
};

// One line of /proc/PID/uid_map or gid_map: ids inside..inside+count-1 of
// the container's user namespace are outside..outside+count-1 on the host.
struct id_range {
    std::uint32_t inside = 0, outside = 0, count = 0;
    bool operator==(const id_range&) const = default;
};

// A device node made in the container (--device, --privileged): the host
// node's type, numbers, permission bits and owner (runc's mknod).
struct device_node {
    std::string path;          // absolute, inside the container
    char type = 'c';           // 'c', 'b' or 'p' (a fifo)
    std::uint32_t major = 0, minor = 0;
    std::uint32_t mode = 0;    // permission bits
    std::uint32_t uid = 0, gid = 0;
};

struct launch_spec {
    std::string id;  // container id (64 hex)

    // --userns-remap (runtime/userns.h): both non-empty, the container gets
    // a user namespace with these maps (written by the zygote before the
    // release), its image and init layers are idmapped to it, the overlay is
    // built by the zygote (init-ns root, so trusted.overlay.* works) and
    // attached by the child; an exec joins the container's user namespace.
    // Empty: no user namespace, nothing done.
    std::vector<id_range> uid_map, gid_map;
    // Without idmapped layers (engine/userns_copy.h): lower_dirs are copies
    // already in the host's ids, overlaid as they are.
    bool userns_copy = false;
    // Zygote-only, never serialized: the detached overlay the zygote built
    // for the child (inherited across the clone), -1 when none.
    int rootfs_mount_fd = -1;

    // Sandbox half.
    std::vector<std::string> lower_dirs;  // overlay lowerdirs, topmost first (init layer first)
    std::string upper_dir, work_dir;
    std::string rootfs_dir;               // empty directory the overlay is mounted on (in the child's mount ns)
    bool new_network = true;              // false: the host's network namespace (--network host)
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    // --init: a static init on the host, bind-mounted read-only at
    // /sbin/docker-init (args then start with it).
    std::string init_binary;
    bool readonly_rootfs = false;           // --read-only: the overlay's root mount read-only
    std::vector<tmpfs_mount> tmpfs;         // --tmpfs, mounted after pivot_root
    std::vector<bind_mount> binds;          // -v, --mount type=bind, mounted after pivot_root
    std::uint64_t shm_size = 64ull << 20;   // /dev/shm size in bytes (--shm-size)
    std::vector<std::pair<std::string, std::string>> sysctls;  // checked keys (runtime/confinement.h)
    // Made after /dev is mounted, replacing a default node of the same path
    // (/dev/ptmx stays the devpts symlink, as runc keeps it).
    std::vector<device_node> devices;
    bool writable_sys = false;              // --privileged: /sys (and a cgroup2 there) read-write
    // A warm pool's sandbox (spawn_parked): the hostname is set and the
    // seccomp program loaded before the child parks, so that a claim pays
    // for neither; the claim then carries neither.
    bool seccomp_preloaded = false;
    // A warm pool's sandbox that waits in the zygote's network namespace,
    // not its own, and enters its own at the claim (to the host's
    // per-process network monitors it is then no process in a namespace of
    // its own; engine/pool.cc). The preloaded program lets setns through;
    // this one, loaded right after that setns, refuses it again as the
    // container's profile does (empty: the profile lets it through).
    bool parks_outside_netns = false;
    bpf_program seccomp_after_netns;

    // Cgroups the zygote places the child in before releasing it.
    std::string cgroup2_dir;                  // used with CLONE_INTO_CGROUP; empty: none
    std::vector<std::string> cgroup_v1_procs; // v1 "cgroup.procs" files to write the pid into
    // The v1 memory controller's among them ("" without one). A container's
    // child that makes its own overlay joins it itself, once the overlay is
    // made (joins_memory_cgroup_itself, runtime/spawn.h).
    std::string cgroup_v1_memory_procs;

    // Process half.
    std::string hostname;
    std::vector<std::string> args;  // argv; args[0] is resolved through PATH of env
    // args[0] as that search would resolve it, when the daemon knows it
    // already (a warm pool's pristine rootfs: engine/command_path.h); empty:
    // the child searches.
    std::string exe;
    std::vector<std::string> env;   // KEY=VALUE
    std::string cwd = "/";
    std::string user;               // "", "name", "uid", "name:group", "uid:gid" (resolved in the rootfs)
    // The rootfs's /etc/passwd and /etc/group (nullopt: missing) when the
    // daemon read them from a pristine container's image already
    // (engine::told_accounts); accounts_told false: the child reads them.
    bool accounts_told = false;
    std::optional<std::string> passwd, group;
    std::vector<std::string> capabilities;  // "CAP_CHOWN", …: bounding, permitted and effective
    bool no_new_privs = false;
    // A compiled seccomp program (struct sock_filter[]), loaded right before
    // execve; empty: unconfined.
    bpf_program seccomp_program;
    // The file the daemon saved that program in (<data-root>/seccomp/<key>.bpf,
    // written once, atomically, never changed): when set, the JSON names the
    // file instead of carrying the program (about 13 KiB of base64 that the
    // daemon encoded, the monitor copied and the zygote decoded at every
    // start), and the zygote reads each file once. Never for a parked child,
    // which cannot see the host's files.
    std::string seccomp_file;
    std::vector<std::string> group_add;  // --group-add: names (the image's /etc/group) or gids
    std::vector<rlimit_spec> rlimits;
    // Set: a container's init gets a new time namespace with these offsets
    // (unshared and written just before the process half); an exec joins
    // the container's. Unset: the monitor's time namespace, nothing done.
    std::optional<time_offset_spec> time_offsets;
};

// Whether a container's child joins its v1 memory cgroup itself, once it
// has made its overlay, instead of being placed there by the zygote before
// its release (runtime/spawn.cc says why). Only a child that makes the
// overlay, and never in a user namespace (it could not write the host's
// cgroupfs); an exec'd process is always placed by the zygote.
inline bool joins_memory_cgroup_itself(const launch_spec& s) {
    return !s.cgroup_v1_memory_procs.empty() && s.rootfs_mount_fd < 0 && s.uid_map.empty();
}

// Docker's defaults (moby oci/defaults.go): capabilities, masked paths,
// read-only paths.
std::vector<std::string> default_capabilities();
std::vector<std::string> default_masked_paths();
std::vector<std::string> default_readonly_paths();
std::vector<std::string> all_capabilities();  // every capability the kernel knows, "CAP_…"
// --privileged: every capability of this process's bounding set (moby's
// GetAllCapabilities: those available in the current environment; a root
// without CAP_SYS_RESOURCE cannot give it).
std::vector<std::string> privileged_capabilities();

// Applies --cap-add / --cap-drop ("ALL" allowed, with or without "CAP_",
// case-insensitive) to the defaults. Unknown names are an invalid_argument.
result<std::vector<std::string>> effective_capabilities(const std::vector<std::string>& add,
                                                        const std::vector<std::string>& drop);

// The PATH a container's command is searched along: the first PATH= of
// env, or Docker's default when there is none (which the child then sets).
inline constexpr std::string_view default_search_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
std::string search_path_of(const std::vector<std::string>& env);

std::string to_json(const launch_spec& spec);
result<launch_spec> launch_spec_from_json(std::string_view json);
// A saved seccomp program (launch_spec::seccomp_file), read once per file by
// this process and kept.
result<bpf_program> seccomp_program_file(const std::string& path);

}  // namespace berth::runtime
