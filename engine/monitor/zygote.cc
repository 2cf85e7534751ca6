#include "engine/monitor/zygote.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/monitor/protocol.h"
#include "engine/runtime/spawn.h"

namespace berth::monitor {

namespace {

[[noreturn]] void zygote_loop(int sock) {
    // Exit with the monitor: a zygote outliving it could only make orphans.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGCHLD, SIG_DFL);
    for (;;) {
        std::vector<unique_fd> fds;
        auto pkt = recv_packet(sock, &fds);
        if (!pkt || pkt->empty()) ::_exit(0);
        auto m = decode(*pkt);
        message reply{msg::started, {}, {}};
        std::vector<int> out_fds;
        runtime::spawned sp;
        if (!m) {
            reply.header["code"] = "internal";
            reply.header["message"] = m.err().message;
        } else {
            auto spec = runtime::launch_spec_from_json(boost::json::value_to<std::string>(m->header["spec"]));
            bool has_stdin = m->header["has_stdin"].as_bool();
            runtime::child_stdio stdio;
            std::size_t i = 0;
            if (has_stdin && fds.size() > i) stdio.in = fds[i++].get();
            if (fds.size() > i) stdio.out = fds[i++].get();
            if (fds.size() > i) stdio.err = fds[i++].get();
            if (!spec) {
                reply.header["code"] = errc_name(spec.err().code);
                reply.header["message"] = spec.err().message;
            } else {
                auto r = runtime::spawn_container(*spec, stdio, CLONE_PARENT);
                if (!r) {
                    reply.header["code"] = errc_name(r.err().code);
                    reply.header["message"] = r.err().message;
                } else {
                    sp = std::move(*r);
                    reply.header["pid"] = sp.pid;
                    out_fds = {sp.pidfd.get(), sp.exec_status.get()};
                }
            }
        }
        if (!send_packet(sock, encode(reply), out_fds)) ::_exit(1);
    }
}

}  // namespace

zygote_handle start_zygote() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        int keep = sv[1];
        ::close(sv[0]);
        // The zygote's fd table is what every clone copies: keep it tiny.
        if (keep != 3) {
            ::dup3(keep, 3, O_CLOEXEC);
            keep = 3;
        }
        ::close_range(4, ~0U, 0);
        ::close(0);
        zygote_loop(keep);
    }
    ::close(sv[1]);
    return {unique_fd(sv[0]), pid};
}

}  // namespace berth::monitor
