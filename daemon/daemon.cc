// berth daemon: flags, the data-root lock, the loop, the API listener.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <optional>

#include "base/log.h"
#include "base/sched.h"
#include "base/util.h"
#include "daemon/api.h"
#include "daemon/main.h"
#include "engine/engine.h"
#include "engine/runtime/userns.h"
#include "engine/userns_remap.h"

namespace berth {

namespace {

void usage() {
    std::cerr << "Usage: berth daemon [OPTIONS]\n\n"
                 "Options:\n"
                 "  -H, --host unix:///PATH   socket to listen on (default unix:///run/berth/berth.sock, env BERTH_HOST)\n"
                 "      --data-root DIR       root of persistent state (default /var/lib/berth, env BERTH_DATA_ROOT)\n"
                 "      --pidfile FILE        pid file (default DATA_ROOT/berth.pid)\n"
                 "      --cgroup-parent NAME  parent cgroup name for containers (default berth-<hash of data root>)\n"
                 "      --userns-remap default|USER[:GROUP]\n"
                 "                            run containers in user namespaces mapped onto the subordinate ids\n"
                 "                            of USER (/etc/subuid) and GROUP (/etc/subgid); default: the berth user\n"
                 "      --control-priority N  SCHED_FIFO priority (1-99) of the daemon's loop thread, its monitors\n"
                 "                            and their zygotes, so that a start's wake-ups preempt ordinary\n"
                 "                            tasks; 0: normal scheduling (default 1; nothing they fork inherits it)\n"
                 "  -D, --debug               debug logging\n";
}

}  // namespace

int daemon_main(int argc, char** argv) {
    std::string host = ::getenv("BERTH_HOST") ? ::getenv("BERTH_HOST") : "unix:///run/berth/berth.sock";
    engine_options opts;
    if (const char* r = ::getenv("BERTH_DATA_ROOT")) opts.data_root = r;
    std::string pidfile, userns_remap;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const std::string& name) -> std::optional<std::string> {
            if (a == name) {
                if (i + 1 >= argc) return std::nullopt;
                return std::string(argv[++i]);
            }
            if (starts_with(a, name + "=")) return a.substr(name.size() + 1);
            return std::nullopt;
        };
        if (a == "-h" || a == "--help") {
            usage();
            return 0;
        }
        if (a == "-D" || a == "--debug") {
            log::set_level(log::level::debug);
            continue;
        }
        if (auto v = value("-H")) host = *v;
        else if (auto v2 = value("--host")) host = *v2;
        else if (auto v3 = value("--data-root")) opts.data_root = *v3;
        else if (auto v4 = value("--pidfile")) pidfile = *v4;
        else if (auto v5 = value("--cgroup-parent")) opts.cgroup_parent = *v5;
        else if (auto v6 = value("--userns-remap")) userns_remap = *v6;
        else if (auto v7 = value("--control-priority")) {
            auto prio = parse_control_priority(*v7);
            if (!prio) {
                std::cerr << "berth daemon: " << prio.err().message << "\n";
                return 125;
            }
            opts.control_priority = *prio;
        } else {
            std::cerr << "berth daemon: unknown flag: " << a << "\n";
            usage();
            return 125;
        }
    }
    if (!starts_with(host, "unix://")) {
        std::cerr << "berth daemon: only unix:// hosts are supported, got " << host << "\n";
        return 125;
    }
    std::string sock = host.substr(7);
    if (opts.data_root.empty() || opts.data_root[0] != '/') {
        std::cerr << "berth daemon: --data-root must be an absolute path\n";
        return 125;
    }
    while (opts.data_root.size() > 1 && opts.data_root.back() == '/') opts.data_root.pop_back();
    if (auto s = make_dirs(opts.data_root, 0711); !s) {
        std::cerr << "berth daemon: " << s.err().message << "\n";
        return 1;
    }
    // One daemon per data root: the lock lives as long as the process.
    std::string lockp = opts.data_root + "/berth.lock";
    unique_fd lock(::open(lockp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        auto pid = read_file(pidfile.empty() ? opts.data_root + "/berth.pid" : pidfile);
        std::cerr << "berth daemon: another daemon (pid " << (pid ? trim(*pid) : "?") << ") owns the data root "
                  << opts.data_root << "\n";
        return 1;
    }
    if (pidfile.empty()) pidfile = opts.data_root + "/berth.pid";
    // Still single-threaded: resolving may run useradd, probing forks.
    if (!userns_remap.empty()) {
        auto remap = resolve_userns_remap(userns_remap);
        status dirs = remap ? make_dirs(opts.data_root + "/tmp", 0700) : status(remap.err());
        // The maps must never give the container's ids the host's root, and
        // the kernel must take them (user namespaces enabled, ranges valid):
        // found now, not at the first start.
        if (dirs) {
            for (const auto* ranges : {&remap->uid_map, &remap->gid_map})
                for (const auto& r : *ranges)
                    if (r.outside == 0)
                        dirs = make_error(errc::invalid_argument, "a subordinate range contains the host's id 0");
        }
        if (dirs) {
            if (auto ns = runtime::make_user_namespace(remap->uid_map, remap->gid_map); !ns)
                dirs = ns.err().wrap("user namespaces are unavailable or refuse these ranges");
        }
        if (!dirs) {
            std::cerr << "berth daemon: --userns-remap " << userns_remap << ": " << dirs.err().message << "\n";
            return 1;
        }
        // Idmapped layers, or else one shifted copy of each layer per
        // remapping (engine/userns_copy.h); BERTH_USERNS_REMAP_COPY=1 forces
        // the copies (tests).
        const char* force_copy = ::getenv("BERTH_USERNS_REMAP_COPY");
        if (force_copy && std::string(force_copy) == "1") {
            opts.userns_copy = true;
            log::info("userns-remap: layers copied once per remapping (BERTH_USERNS_REMAP_COPY=1)");
        } else if (auto probed = runtime::probe_remapped_overlay(
                       opts.data_root + "/tmp/userns-probe-" + std::to_string(::getpid()), remap->uid_map,
                       remap->gid_map);
                   !probed) {
            opts.userns_copy = true;
            log::warn("userns-remap: no idmapped layers ({}); layers are copied once per remapping instead",
                      probed.err().message);
        }
        opts.userns_remap = remap->user + ":" + remap->group;
        opts.uid_map = std::move(remap->uid_map);
        opts.gid_map = std::move(remap->gid_map);
        // The way back, for cp and export (held for the daemon's life).
        std::vector<runtime::id_range> back_uid, back_gid;
        for (const auto& r : opts.uid_map) back_uid.push_back({r.outside, r.inside, r.count});
        for (const auto& r : opts.gid_map) back_gid.push_back({r.outside, r.inside, r.count});
        auto back = opts.userns_copy ? result<unique_fd>(unique_fd()) : runtime::make_user_namespace(back_uid, back_gid);
        if (!back) {
            std::cerr << "berth daemon: --userns-remap " << userns_remap << ": " << back.err().message << "\n";
            return 1;
        }
        opts.userns_view_fd = back->release();
        log::info("userns-remap: container root is {}:{} on the host", opts.uid_map[0].outside, opts.gid_map[0].outside);
    }
    (void)write_file(pidfile, std::to_string(::getpid()) + "\n");

    ::signal(SIGPIPE, SIG_IGN);
    // The monitor is started by us but never waited for: no zombies.
    ::signal(SIGCHLD, SIG_IGN);

    // Asio's io_uring backend asks the kernel for rings of 16384 entries
    // (contiguous pages); a host short of them answers ENOMEM here.
    std::optional<asio::io_context> loop_holder;
    try {
        loop_holder.emplace(1);
    } catch (const std::exception& e) {
        log::error("cannot create the event loop: {} (the kernel could not allocate io_uring's rings; "
                   "free memory or compact it and retry)",
                   e.what());
        ::unlink(pidfile.c_str());
        return 1;
    }
    asio::io_context& loop = *loop_holder;
    engine eng(loop, opts);
    if (auto s = eng.init(); !s) {
        log::error("init: {}", s.err().message);
        ::unlink(pidfile.c_str());
        return 1;
    }
    api_server api(loop, eng);
    if (auto s = api.listen(sock); !s) {
        log::error("{}", s.err().message);
        ::unlink(pidfile.c_str());
        return 1;
    }
    eng.start();
    api.start();
    asio::signal_set stop(loop, SIGINT, SIGTERM);
    stop.async_wait([&](auto, int sig) {
        log::info("received signal {}; shutting down (containers keep running under the monitor)", sig);
        loop.stop();
    });
    log::info("berth {} listening on {} (data root {})", BERTH_VERSION, host, opts.data_root);
    // The loop's thread only: threads made from now on (and every process)
    // start as SCHED_OTHER (base/sched.h). Looked at four times a second:
    // a loop kept busy goes back to SCHED_OTHER while it is.
    control_priority_governor governor(opts.control_priority, 250);
    if (governor.priority() > 0)
        asio::co_spawn(
            loop,
            [&governor]() -> awaitable<void> {
                while (governor.priority() > 0) {
                    co_await sleep_for(std::chrono::milliseconds(250));
                    governor.tick();
                }
            },
            asio::detached);
    loop.run();
    eng.finish_deferred();
    ::unlink(sock.c_str());
    ::unlink(pidfile.c_str());
    return 0;
}

}  // namespace berth
