#include "engine/monitor/zygote.h"
#include "engine/runtime/caps.h"

#include <fcntl.h>
#include <malloc.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "engine/monitor/protocol.h"
#include "engine/runtime/spawn.h"

namespace berth::monitor {

namespace {

[[noreturn]] void zygote_loop(int sock) {
    // Exit with the monitor: a zygote outliving it could only make orphans.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGCHLD, SIG_DFL);
    runtime::prime_signal_reset();
    // No fastbins: a child's first larger allocation consolidated them, a
    // write to every free chunk left in the zygote's heap, each page of
    // them a copy-on-write fault in every container's start.
    ::mallopt(M_MXFAST, 0);
    for (;;) {
        std::vector<unique_fd> fds;
        auto pkt = recv_packet(sock, &fds);
        if (!pkt || pkt->empty()) ::_exit(0);
        auto m = decode(*pkt);
        message reply{msg::started, {}, {}};
        std::vector<int> out_fds;
        runtime::spawned sp;
        unique_fd control;
        if (!m) {
            reply.header["code"] = "internal";
            reply.header["message"] = m.err().message;
        } else {
            // Parsed where it lies in the message, not copied out first (every
            // page the zygote writes is a fault after its next clone3).
            const auto* text = m->header.if_contains("spec");
            auto spec = text && text->is_string()
                            ? runtime::launch_spec_from_json(std::string_view(text->get_string()))
                            : result<runtime::launch_spec>(make_error(errc::internal, "start request without a spec"));
            auto flag = [&](const char* k) {
                auto* v = m->header.if_contains(k);
                return v && v->is_bool() && v->as_bool();
            };
            auto number = [&](const char* k) -> unsigned short {
                auto* v = m->header.if_contains(k);
                return v && v->is_int64() ? static_cast<unsigned short>(v->as_int64()) : 0;
            };
            // Descriptors, in order: [target pidfd (exec)] [stdin] [stdout stderr | tty socket];
            // none for a pool's sandbox (park), which gets them at its claim.
            bool is_exec = flag("exec"), park = flag("park");
            std::vector<int> raw;
            for (auto& fd : fds) raw.push_back(fd.get());
            int target = -1;
            if (is_exec && !raw.empty()) {
                target = raw.front();
                raw.erase(raw.begin());
            }
            auto stdio = runtime::stdio_from_fds(raw, flag("has_stdin"), flag("tty"), number("rows"), number("cols"));
            if (!spec) {
                reply.header["code"] = errc_name(spec.err().code);
                reply.header["message"] = spec.err().message;
            } else if (is_exec && target < 0) {
                reply.header["code"] = errc_name(errc::internal);
                reply.header["message"] = "exec request without the container's pidfd";
            } else if (park) {
                // Reply: [exec status] [control].
                auto r = runtime::spawn_parked(*spec, CLONE_PARENT);
                if (!r) {
                    reply.header["code"] = errc_name(r.err().code);
                    reply.header["message"] = r.err().message;
                } else {
                    sp = std::move(r->sp);
                    control = std::move(r->control);
                    reply.header["pid"] = sp.pid;
                    out_fds = {sp.exec_status.get(), control.get()};
                }
            } else {
                auto r = is_exec ? runtime::spawn_exec(*spec, target, stdio, CLONE_PARENT)
                                 : runtime::spawn_container(*spec, stdio, CLONE_PARENT);
                if (!r) {
                    reply.header["code"] = errc_name(r.err().code);
                    reply.header["message"] = r.err().message;
                } else {
                    sp = std::move(*r);
                    reply.header["pid"] = sp.pid;
                    out_fds = {sp.exec_status.get()};
                }
            }
        }
        if (!send_packet(sock, encode(reply), out_fds)) ::_exit(1);
    }
}

}  // namespace

void run_zygote(int sock) {
    // Read once here, so that no child reads it again.
    (void)runtime::kernel_last_cap();
    zygote_loop(sock);
}

zygote_handle start_zygote() {
    // Found before the fork: the child only execs.
    std::string small;
    char self[4096];
    ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        std::string exe(self, static_cast<std::size_t>(len));
        small = exe.substr(0, exe.rfind('/') + 1) + "berth-zygote";
        if (::access(small.c_str(), X_OK) != 0) small.clear();
    }
    // Its environment: the monitor's, with glibc's rseq registration off.
    // With it, every return to user space after the scheduler moved a task
    // reads and writes its rseq area, and a child's first one (right after
    // its clone) took a page fault there; where faults trap to a hypervisor
    // that was 0.2 ms of each container's start. (Nothing in the zygote or
    // its children uses rseq; the container's own program starts with its
    // own environment and registers its own.)
    std::vector<std::string> env_text;
    std::string tunables = "GLIBC_TUNABLES=glibc.pthread.rseq=0";
    for (char** e = environ; *e; ++e) {
        std::string_view v(*e);
        if (v.starts_with("GLIBC_TUNABLES=")) tunables += ":" + std::string(v.substr(15));
        else env_text.emplace_back(v);
    }
    env_text.push_back(std::move(tunables));
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
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
        if (!small.empty()) {
            ::fcntl(keep, F_SETFD, 0);  // fd 3 across the exec
            char* argv[] = {const_cast<char*>("berth-zygote"), nullptr};
            ::execve(small.c_str(), argv, envp.data());
            ::fcntl(keep, F_SETFD, FD_CLOEXEC);
        }
        zygote_loop(keep);
    }
    ::close(sv[1]);
    return {unique_fd(sv[0]), pid};
}

}  // namespace berth::monitor
