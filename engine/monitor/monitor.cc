// berth monitor: the parent and reaper of every container of one shard of a
// data root (one shard, shard 0, unless there are more containers than one
// process has descriptors for: see protocol.h).
//
// Single-threaded, epoll-driven and small on purpose: it must outlive daemon
// restarts and crashes. It is the only reader of containers' stdout/stderr
// (it writes the json-file logs and forwards each entry to a connected
// daemon), and it writes a record of every exit (exits/shard-K.journal,
// durable against a process kill: exit_journal.h) before reporting it, so a
// daemon that was away learns every exit when it reconnects.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sched.h>
#include <linux/close_range.h>

#include <algorithm>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "base/closer.h"
#include "base/fd_passing.h"
#include "base/log.h"
#include "base/sched.h"
#include "base/sys.h"
#include "base/util.h"
#include "daemon/main.h"
#include "engine/cgroup/manager.h"
#include "engine/monitor/exit_journal.h"
#include "engine/monitor/json_log.h"
#include "engine/monitor/protocol.h"
#include "engine/monitor/zygote.h"
#include "engine/runtime/child.h"

namespace berth {

namespace {

using monitor::message;
using monitor::msg;

struct stream_state {
    unique_fd fd;
    bool eof = false;
};

// One process the monitor parents: a container's init, or an exec'd
// process in a running container (is_exec: its output goes to the daemon
// only, never to the log, and its exit is not recorded on disk).
// A zygote per CPU, at most 4 (BERTH_ZYGOTES: 1 to 8): each serves one
// start at a time, from its clone to the child's execve.
std::size_t zygote_count() {
    if (const char* v = std::getenv("BERTH_ZYGOTES"); v && std::atoi(v) >= 1 && std::atoi(v) <= 8)
        return std::size_t(std::atoi(v));
    return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
}

std::int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct box {
    std::string id;
    bool is_exec = false;
    bool tty = false;
    bool open_stdin = false;
    unique_fd tty_sock;    // until the child has sent the pty master
    unique_fd tty_master;  // kept for resizes
    // No pidfd is kept: the monitor is the parent and reaps the process
    // itself, so the pid cannot be reused until on_reaped() reaps it (and
    // marks the box exited). kill(pid) is safe until then; exec opens a
    // pidfd for the time of its clone.
    pid_t pid = -1;
    unique_fd exec_status;
    // A warm pool's sandbox (engine/pool.cc) until its claim: the sandbox
    // half is done and the child waits on `control` for its process half.
    bool parked = false;
    unique_fd control;
    // Claimed: `control` is kept for the child's answer byte, read when its
    // exec status ends (on_exec_status).
    bool claim_sent = false;
    // A parked sandbox's mount and network namespaces, opened once it has
    // parked. When the claim says its container is removed at exit
    // (`hold_namespaces`: --rm, a batch's removal), they go to
    // monitor_process::_held after the exit so that their teardown waits
    // for a moment without starts; otherwise they are closed at the claim
    // (a later start of the container mounts the same upper directory).
    unique_fd mnt_ns, net_ns;
    bool exec_reported = false, start_failed = false;
    // A start (or exec) the zygote has not answered yet: no pid. A signal
    // the daemon sends meanwhile waits for it (SIGKILL over any other).
    bool zygote_pending = false;
    int pending_signal = 0;
    std::string exec_error;
    stream_state out, err;
    unique_fd in;
    std::string stdin_pending;
    bool stdin_close_requested = false;
    json_log::writer log;  // not open for execs and --log-driver none
    // The json-file log: log_path "" for execs and --log-driver none. `log`
    // is open only while the box is in the monitor's open-log cache
    // (monitor_process::_open_logs); log_offset is its offset after the
    // last entry written.
    std::string log_path;
    json_log::rotation log_rot;
    std::uint64_t log_offset = 0;
    bool log_listed = false;
    std::list<box*>::iterator log_pos;
    bool exited = false;
    int exit_code = 0;
    std::int64_t finished_ns = 0;
    // The container cgroup's oom_kill counter (the start's "oom_file"),
    // read for its exit record: the daemon then records the exit without
    // a hand-off to a worker of its own to read it.
    std::string oom_file;
    std::int64_t drain_deadline_ns = 0;
    bool finishing = false;
};

class monitor_process {
public:
    monitor_process(std::string root, int shard, std::size_t nofile, int control_priority)
        : _root(std::move(root)), _shard(shard), _governor(control_priority, 100), _nofile(nofile) {
        if (const char* v = std::getenv("BERTH_MONITOR_OPEN_LOGS"); v && std::atoi(v) > 0)
            _max_open_logs = std::size_t(std::atoi(v));
    }

    int run();

private:
    enum tag : std::uint64_t { t_listen = 1, t_client, t_signal, t_out, t_err, t_exec, t_stdin, t_tty, t_parked, t_zygote };
    // epoll data: fd in the low 32 bits, tag in the high bits; the fd finds the box.
    static std::uint64_t key(tag t, int fd) { return (std::uint64_t(t) << 32) | std::uint32_t(fd); }

    void watch(int fd, tag t, std::uint32_t events = EPOLLIN) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = key(t, fd);
        ::epoll_ctl(_ep.get(), EPOLL_CTL_ADD, fd, &ev);
    }
    void unwatch(int fd) { ::epoll_ctl(_ep.get(), EPOLL_CTL_DEL, fd, nullptr); }

    // Never blocks: a stalled or stopped daemon must not stall the monitor
    // (and with it every container's output and every reap). Packets the
    // socket cannot take yet wait in a queue; when the queue is long, output
    // entries are dropped from the live stream (they are in the log file).
    void send(const message& m) {
        if (!_client) return;
        bool droppable = m.type == msg::output;
        if (droppable && _outq_bytes > max_backlog) return;
        std::string pkt = monitor::encode(m);
        if (_outq.empty()) {
            ssize_t n = ::send(_client.get(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0) return;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return drop_client();
            set_client_events(EPOLLIN | EPOLLOUT);
        }
        _outq_bytes += pkt.size();
        _outq.push_back(std::move(pkt));
    }
    void flush_client() {
        while (_client && !_outq.empty()) {
            auto& pkt = _outq.front();
            ssize_t n = ::send(_client.get(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return;
                return drop_client();
            }
            _outq_bytes -= pkt.size();
            _outq.pop_front();
        }
        if (_client) set_client_events(EPOLLIN);
    }
    void set_client_events(std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = key(t_client, _client.get());
        ::epoll_ctl(_ep.get(), EPOLL_CTL_MOD, _client.get(), &ev);
    }
    void drop_client() {
        if (!_client) return;
        unwatch(_client.get());
        _client.reset();
        _outq.clear();
        _outq_bytes = 0;
    }
    static constexpr std::size_t max_backlog = 8 << 20;
    std::deque<std::string> _outq;
    std::size_t _outq_bytes = 0;

    void on_accept();
    void on_client();
    void on_message(message& m);
    void on_signal();
    // Reaping. A SIGCHLD's siginfo names the child whose death raised it,
    // and waitpid() on that pid costs O(1); waitpid(-1) walks every child
    // (parked sandboxes included, thousands with a big pool), and its last,
    // empty call walks them all. But deaths while SIGCHLD is pending
    // coalesce into one siginfo: those are found by a sweep with
    // waitpid(-1), soon after the signal, so a burst of exits pays a few
    // walks, not one per exit.
    // A box whose output reached EOF is most likely dead (its pid
    // namespace went, or the exec'd process and all it started): it is
    // reaped by pid then, or, not a zombie yet, at the next SIGCHLD; what
    // is left then goes to the sweep.
    // The sweep runs once signals have stopped for k_sweep_quiet_ns, or
    // k_sweep_max_ns after the first one it has not seen: during a burst of
    // exits the pids and suspects catch almost every death (strace of a
    // 300-container burst: 39 sweeps at 10 ms after each first signal, all
    // empty), and a sweep walks every child, parked sandboxes included.
    static constexpr std::int64_t k_sweep_quiet_ns = 10'000'000, k_sweep_max_ns = 250'000'000;
    std::int64_t _sweep_at = 0;        // monotonic ns; 0: none due
    std::int64_t _sweep_latest = 0;    // no later than this
    std::vector<pid_t> _suspects;
    void reap(pid_t pid);
    void sweep();
    void on_reaped(pid_t pid, int wstatus);
    void on_exec_status(box& b);
    // Reads at most k_output_chunks per call (the descriptor is level-
    // triggered: the rest comes at the next turn), all with `drain`.
    void on_output(box& b, bool is_err, bool drain = false);
    void on_stdin_writable(box& b);
    void handle_start(message& m, bool is_exec);
    void handle_park(message& m);
    static bool holds(const box& b, tag t, int fd) {
        switch (t) {
        case t_out: return b.out.fd.get() == fd;
        case t_err: return b.err.fd.get() == fd;
        case t_exec: return b.exec_status.get() == fd;
        case t_stdin: return b.in.get() == fd;
        case t_tty: return b.tty_sock.get() == fd;
        case t_parked: return b.control.get() == fd;
        default: return false;
        }
    }
    void on_parked(box& b);
    // The zygotes are asked without waiting for their answers. A park's
    // clone3 and cgroup placement kept the monitor from every claim and exit
    // for 0.7 ms at the median, 2.2 ms at the 90th percentile, and a pool
    // refilling under an open loop showed in its p99; a cold start's child
    // shares its zygote's memory and the zygote answers at its execve,
    // about 4 ms on the PVM guest. Meanwhile the monitor serves everything
    // else, and another zygote the next start: two starts' children set up
    // side by side, as two workers of the kernel probe do. Each zygote
    // answers in order; a park's `kill`: killed as soon as it is known.
    struct pending_ask {
        std::string id;
        bool park = false;  // else a start or an exec, whose box exists (zygote_pending)
        bool kill = false;
    };
    struct zygote_slot {
        monitor::zygote_handle z;
        std::deque<pending_ask> pending;
        bool gone = false;  // a send failed: dead, not reaped yet (then replaced)
    };
    using zygote_answer = result<std::pair<pid_t, std::vector<unique_fd>>>;
    std::vector<zygote_slot> _zygotes;
    std::size_t asks_pending(bool parks_only = false) const {
        std::size_t n = 0;
        for (const auto& s : _zygotes)
            for (const auto& p : s.pending) n += !parks_only || p.park;
        return n;
    }
    bool park_pending(const std::string& id) const {
        for (const auto& s : _zygotes)
            for (const auto& p : s.pending)
                if (p.park && p.id == id) return true;
        return false;
    }
    // Sends a request to the zygote with the fewest asks in flight (the
    // first of those), or to the next one if that one has just died; the
    // caller notes the ask in the zygote's `pending`.
    result<zygote_slot*> send_to_zygote(const message& req, const std::vector<int>& fds);
    // Children reaped before the zygote's answer named them (a sandbox or
    // a container that died at once): its box, when the answer comes,
    // takes the exit.
    // An orphan's entry (a process adopted as subreaper) would wait for an
    // answer that never comes: entries go once no ask is pending, or after
    // k_reaped_early_ns (an answer follows its child's death within the
    // zygote's one start; a pid reused later must not find a stale exit).
    struct early_exit {
        int wstatus;
        std::int64_t at;  // monotonic ns
    };
    static constexpr std::int64_t k_reaped_early_ns = 10'000'000'000;
    std::map<pid_t, early_exit> _reaped_early;
    zygote_answer zygote_reply(zygote_slot& s);
    void on_zygote_readable(int fd);
    void park_answered(const pending_ask& p, zygote_answer r);
    void start_answered(const pending_ask& p, zygote_answer r);
    void answer_oldest(zygote_slot& s, zygote_answer r) {
        pending_ask p = std::move(s.pending.front());
        s.pending.pop_front();
        // The last answer: any other pid reaped early was an orphan's.
        const std::int64_t stale = monotonic_ns() - k_reaped_early_ns;
        const bool last = asks_pending() == 0;
        std::erase_if(_reaped_early, [&](const auto& kv) {
            return (!r || kv.first != r->first) && (last || kv.second.at < stale);
        });
        if (p.park) park_answered(p, std::move(r));
        else start_answered(p, std::move(r));
    }
    void use_zygote(zygote_slot& s, monitor::zygote_handle z);
    void on_tty_master(box& b);
    void write_entry(box& b, bool is_err, std::string_view text);
    void maybe_finish(box& b);
    void finish(box& b);
    void resend_exit_records();

    // At most _max_open_logs json-file logs are open at once, the most
    // recently written ones (256; BERTH_MONITOR_OPEN_LOGS for tests): an
    // idle container costs the monitor no log fd. A log reopened later goes
    // on at the same offset (json_log::writer::open).
    std::size_t _max_open_logs = 256;
    std::list<box*> _open_logs;  // most recently written first
    bool open_log(box& b);
    void close_log(box& b);
    std::uint64_t append_log(box& b, std::string_view line);

    std::string _root;
    int _shard = 0;
    // This thread's scheduling (base/sched.h); its priority is each
    // zygote's too (0 once the kernel refused it).
    control_priority_governor _governor;
    unique_fd _ep, _listen, _client, _sigfd;
    std::unique_ptr<monitor::exit_journal> _journal;
    std::map<std::string, std::unique_ptr<box>> _boxes;
    std::deque<std::pair<std::int64_t, std::string>> _drains;  // (drain deadline, id) of reaped boxes
    std::map<int, box*> _by_fd;
    std::map<pid_t, box*> _by_pid;

    // Teardown yields to starts. A container's exit tears its namespaces
    // down in the kernel (the overlay's and /proc's superblocks, sync of
    // the upper layer, the network namespace): more than the claim of a
    // parked sandbox itself costs. So a claimed sandbox's namespaces are
    // held after its exit and released, a few per loop turn, once the
    // daemon says it is quiet (`release`, until its next start), or once
    // held for k_max_hold_ns.
    // They cost two descriptors each, within the shard's budget: never
    // more than the 3 per box the daemon counts leave free (make_room).
    struct held_ns {
        std::int64_t since;
        unique_fd mnt, net;
    };
    static constexpr std::int64_t k_max_hold_ns = 10'000'000'000;
    static constexpr std::size_t k_release_per_turn = 4;
    std::deque<held_ns> _held;
    std::size_t _ns_fds = 0;  // in boxes and in _held
    // The last close of a mount namespace unmounts its overlay, whose sync
    // of the upper filesystem blocked this loop for 10-60 ms per container
    // (strace of a 1,000/s open loop): namespaces are closed on the
    // closer's thread, and its pending descriptors count in the budget.
    closer _closer;
    // Closes a box's or a held pair of namespace descriptors: on the
    // closer's thread where ours may be the last reference (`teardown`),
    // inline where the process still holds them (cheaper than waking the
    // thread) or where what follows needs the mount gone.
    void drop_namespaces(unique_fd& mnt, unique_fd& net, bool teardown);
    std::size_t ns_fds() const { return _ns_fds + _closer.pending(); }
    bool _release = false;
    std::size_t _nofile = 1024;
    // The box's mount and network namespaces (`net`: the latter, when the
    // child gave it, else taken from its pid).
    void hold_namespaces(box& b, unique_fd net = unique_fd());
    void make_room(std::size_t more_boxes);
    // Releases what is due; returns the epoll timeout (ms) until the next is.
    int release_held(std::int64_t now);
};

int monitor_process::run() {
    _ep.reset(::epoll_create1(EPOLL_CLOEXEC));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    _sigfd.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    watch(_sigfd.get(), t_signal);

    _zygotes.resize(zygote_count());
    for (auto& z : _zygotes) {
        use_zygote(z, monitor::start_zygote());
        if (!z.z.sock) {
            log::error("monitor: start zygote: {}", std::strerror(errno));
            return 1;
        }
    }
    auto journal = monitor::exit_journal::open(_root + "/exits", _shard);
    if (!journal) {
        log::error("monitor: exit records: {}", journal.err().message);
        return 1;
    }
    _journal = std::move(*journal);
    if (const char* c = std::getenv("BERTH_EXIT_JOURNAL_COMPACT_BYTES"); c && *c)
        _journal->set_compact_bytes(std::strtoull(c, nullptr, 10));

    std::string path = monitor::shard_file(_root, _shard, ".sock");
    ::unlink(path.c_str());
    _listen.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::bind(_listen.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(_listen.get(), 8) != 0) {
        log::error("monitor: listen on {}: {}", path, std::strerror(errno));
        return 1;
    }
    ::chmod(path.c_str(), 0600);
    watch(_listen.get(), t_listen);
    log::info("monitor: pid {} serving {}", ::getpid(), path);

    epoll_event evs[64];
    for (;;) {
        int timeout = -1;
        std::int64_t now = monotonic_ns();
        // Deadlines are queued in the order they fall due (a fixed delay
        // after each reap): the front is the next one.
        while (!_drains.empty() && !_boxes.count(_drains.front().second)) _drains.pop_front();
        if (!_drains.empty()) {
            std::int64_t ms = (_drains.front().first - now) / 1000000 + 1;
            timeout = ms < 0 ? 0 : int(ms);
        }
        if (int held = release_held(now); held >= 0 && (timeout < 0 || held < timeout)) timeout = held;
        if (_sweep_at != 0) {
            int ms = int(std::max<std::int64_t>(0, (_sweep_at - now) / 1000000 + 1));
            if (timeout < 0 || ms < timeout) timeout = ms;
        }
        int n = ::epoll_wait(_ep.get(), evs, 64, timeout);
        if (n < 0 && errno != EINTR) return 1;
        _governor.tick();
        for (int i = 0; i < n; ++i) {
            tag t = static_cast<tag>(evs[i].data.u64 >> 32);
            int fd = static_cast<int>(evs[i].data.u64 & 0xffffffff);
            if (t == t_listen) { on_accept(); continue; }
            if (t == t_client) {
                if (evs[i].events & EPOLLOUT) flush_client();
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_client();
                continue;
            }
            if (t == t_signal) { on_signal(); continue; }
            if (t == t_zygote) { on_zygote_readable(fd); continue; }
            auto it = _by_fd.find(fd);
            if (it == _by_fd.end()) continue;
            box& b = *it->second;
            // An event of this batch may name an fd that an earlier one
            // closed and a new box reused for another role: act only when
            // the fd still is what the tag says.
            if (!holds(b, t, fd)) continue;
            if (t == t_out) on_output(b, false);
            else if (t == t_err) on_output(b, true);
            else if (t == t_exec) on_exec_status(b);
            else if (t == t_stdin) on_stdin_writable(b);
            else if (t == t_tty) on_tty_master(b);
            else if (t == t_parked) on_parked(b);
        }
        now = monotonic_ns();
        if (_sweep_at != 0 && _sweep_at <= now) sweep();
        while (!_drains.empty() && _drains.front().first <= now) {
            auto it = _boxes.find(_drains.front().second);
            _drains.pop_front();
            if (it != _boxes.end() && it->second->exited) finish(*it->second);
        }
    }
}

void monitor_process::on_accept() {
    unique_fd c(::accept4(_listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    // One daemon at a time: a new connection replaces a stale one.
    drop_client();
    _client = std::move(c);
    watch(_client.get(), t_client);
}

void monitor_process::resend_exit_records() {
    for (auto& rec : _journal->unacknowledged()) send({msg::exited, std::move(rec), {}});
}

void monitor_process::on_client() {
    if (!_client) return;
    auto pkt = monitor::recv_packet(_client.get());
    if (!pkt || pkt->empty()) {
        drop_client();
        return;
    }
    auto m = monitor::decode(*pkt);
    if (!m) return;
    // A daemon of another version may send what we do not expect: the
    // monitor outlives daemons and must never die of a message.
    try {
        on_message(*m);
    } catch (const std::exception& e) {
        log::error("monitor: message type {}: {}", int(m->type), e.what());
    }
}

void monitor_process::on_message(message& msg_in) {
    auto* m = &msg_in;
    auto id = [&]() -> std::string {
        auto* v = m->header.if_contains("id");
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    switch (m->type) {
    case msg::hello: {
        // Parked sandboxes belong to the pools of the daemon that asked for
        // them; a new daemon has none. Their deaths come back as start_failed.
        for (auto& [bid, b] : _boxes)
            if (b->parked && !b->exited) ::kill(b->pid, SIGKILL);
        for (auto& z : _zygotes)
            for (auto& p : z.pending)
                if (p.park) p.kill = true;
        // Held namespaces were the last daemon's to release, and it may
        // have claimed for them: this one knows nothing of them.
        for (auto& h : _held) drop_namespaces(h.mnt, h.net, true);
        _held.clear();
        for (auto& [bid, b] : _boxes) drop_namespaces(b->mnt_ns, b->net_ns, true);
        _release = false;
        // In parts of at most 1,000: one seqpacket message must fit the
        // socket buffer (about 200 KiB), and thousands of containers do not.
        boost::json::array running;
        for (auto& [bid, b] : _boxes) {
            if (b->is_exec || b->exited || !b->exec_reported || b->start_failed) continue;
            running.push_back(boost::json::object{{"id", bid}, {"pid", b->pid}});
            if (running.size() == 1000) {
                send({msg::state, {{"running", running}, {"last", false}}, {}});
                running.clear();
            }
        }
        send({msg::state, {{"running", running}, {"last", true}}, {}});
        resend_exit_records();
        break;
    }
    case msg::start:
        _release = false;  // the daemon is busy again
        make_room(1 + asks_pending(true));  // the pending parks' boxes come first (a start's is made)
        handle_start(*m, false);
        break;
    case msg::exec:
        make_room(1 + asks_pending(true));
        handle_start(*m, true);
        break;
    case msg::park:
        make_room(1 + asks_pending(true));
        handle_park(*m);
        break;
    case msg::release: _release = !_held.empty(); break;
    case msg::resize: {
        auto it = _boxes.find(id());
        if (it == _boxes.end() || !it->second->tty_master) break;
        winsize ws{};
        ws.ws_row = static_cast<unsigned short>(m->header["rows"].to_number<int>());
        ws.ws_col = static_cast<unsigned short>(m->header["cols"].to_number<int>());
        ::ioctl(it->second->tty_master.get(), TIOCSWINSZ, &ws);
        break;
    }
    case msg::signal: {
        const int sig = int(m->header["signal"].as_int64());
        // A sandbox the zygote is still making: a discard (SIGKILL).
        if (sig == SIGKILL)
            for (auto& z : _zygotes)
                for (auto& p : z.pending)
                    if (p.park && p.id == id()) p.kill = true;
        auto it = _boxes.find(id());
        if (it == _boxes.end()) break;
        box& b = *it->second;
        // A start the zygote has not answered: the signal waits for its pid.
        if (b.zygote_pending) {
            if (sig == SIGKILL || b.pending_signal == 0) b.pending_signal = sig;
            break;
        }
        // Not reaped yet (exited is set when it is): the pid is still ours.
        if (!b.exited && b.pid > 0) ::kill(b.pid, sig);
        break;
    }
    case msg::stdin_data: {
        auto it = _boxes.find(id());
        if (it == _boxes.end() || !it->second->in) break;
        // Bounded: a container that never reads its stdin must not make the
        // monitor grow without limit (Docker blocks the client instead).
        if (it->second->stdin_pending.size() > (64u << 20)) break;
        it->second->stdin_pending += m->payload;
        on_stdin_writable(*it->second);
        break;
    }
    case msg::stdin_close: {
        auto it = _boxes.find(id());
        if (it == _boxes.end()) break;
        it->second->stdin_close_requested = true;
        on_stdin_writable(*it->second);
        break;
    }
    case msg::ack_exit: {
        // The record is identified by its finish time too: a late ack of one
        // run must not drop the record of the next.
        auto* fin = m->header.if_contains("finished");
        if (fin && fin->is_number()) _journal->ack(id(), fin->to_number<std::int64_t>());
        break;
    }
    default: break;
    }
}

monitor_process::zygote_answer monitor_process::zygote_reply(zygote_slot& z) {
    std::vector<unique_fd> got;
    auto pkt = monitor::recv_packet(z.z.sock.get(), &got);
    if (!pkt || pkt->empty()) return make_error(errc::unavailable, "zygote is gone");
    auto rep = monitor::decode(*pkt);
    if (!rep) return rep.err();
    if (rep->header.contains("code"))
        return make_error(monitor::errc_from_name(rep->header["code"].as_string()),
                          std::string(rep->header["message"].as_string()));
    return std::pair<pid_t, std::vector<unique_fd>>(pid_t(rep->header["pid"].as_int64()), std::move(got));
}

result<monitor_process::zygote_slot*> monitor_process::send_to_zygote(const message& req,
                                                                      const std::vector<int>& fds) {
    const std::string pkt = monitor::encode(req);
    error last = make_error(errc::unavailable, "no zygote");
    for (;;) {
        zygote_slot* best = nullptr;
        for (auto& z : _zygotes)
            if (z.z.sock && !z.gone && (!best || z.pending.size() < best->pending.size())) best = &z;
        if (!best) return last;
        auto sent = monitor::send_packet(best->z.sock.get(), pkt, fds);
        if (sent) return best;
        last = sent.err().wrap("send to zygote");
        // Dead (its end closed): the next one. Anything else (no buffer
        // space, a message too large) is this ask's failure alone.
        if (last.sys_errno != EPIPE && last.sys_errno != ECONNRESET) return last;
        best->gone = true;
    }
}

void monitor_process::on_zygote_readable(int fd) {
    auto z = std::find_if(_zygotes.begin(), _zygotes.end(), [&](const auto& s) { return s.z.sock.get() == fd; });
    if (z == _zygotes.end()) return;
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return;
    if (n == 0) {
        // Its EOF: it died (SIGCHLD makes a new one). Not watched until then.
        ::epoll_ctl(_ep.get(), EPOLL_CTL_DEL, fd, nullptr);
        return;
    }
    if (z->pending.empty()) {
        (void)zygote_reply(*z);  // nothing was asked: never the case
        return;
    }
    answer_oldest(*z, zygote_reply(*z));
}

void monitor_process::use_zygote(zygote_slot& z, monitor::zygote_handle fresh) {
    // The answers the old one sent before it died name children that exist.
    char c;
    while (!z.pending.empty() && z.z.sock && ::recv(z.z.sock.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
        answer_oldest(z, zygote_reply(z));
    // Asks the old one never answered fail (the daemon prepares other
    // sandboxes; a start fails as any start the zygote refuses).
    while (!z.pending.empty()) answer_oldest(z, make_error(errc::unavailable, "zygote is gone"));
    z.z = std::move(fresh);
    z.gone = false;
    // Set from here: the fork reset it (SCHED_RESET_ON_FORK), and the
    // zygote's children, the containers, are reset in turn.
    if (_governor.priority() > 0 && z.z.pid > 0)
        if (auto s = set_control_priority(z.z.pid, _governor.priority()); !s)
            log::warn("monitor: zygote {}: {}", z.z.pid, s.err().message);
    if (z.z.sock) watch(z.z.sock.get(), t_zygote);
}

void monitor_process::handle_park(message& m) {
    std::string id(m.header["id"].as_string());
    if (_boxes.count(id) || park_pending(id)) {
        send({msg::start_failed, {{"id", id}, {"code", monitor::errc_name(errc::conflict)},
                                  {"message", "container " + id + " is already running"}}, {}});
        return;
    }
    auto z = send_to_zygote({msg::start, {{"spec", m.header["spec"]}, {"park", true}}, {}}, {});
    if (!z) {
        send({msg::start_failed, {{"id", id}, {"code", monitor::errc_name(z.err().code)}, {"message", z.err().message}}, {}});
        return;
    }
    (*z)->pending.push_back({std::move(id), true, false});
}

void monitor_process::park_answered(const pending_ask& p, zygote_answer r) {
    const std::string& id = p.id;
    auto fail = [&](const error& e) {
        send({msg::start_failed, {{"id", id}, {"code", monitor::errc_name(e.code)}, {"message", e.message}}, {}});
    };
    if (!r) return fail(r.err());
    if (r->second.size() != 2) return fail(make_error(errc::internal, "zygote reply without descriptors"));
    if (_boxes.count(id)) {
        // Never overwrite a box (only a daemon that asked twice would).
        if (!_reaped_early.erase(r->first)) ::kill(r->first, SIGKILL);
        return fail(make_error(errc::conflict, "container " + id + " is already running"));
    }
    auto b = std::make_unique<box>();
    b->id = id;
    b->parked = true;
    b->out.eof = b->err.eof = true;  // no output until a claim gives it stdio
    b->pid = r->first;
    b->exec_status = std::move(r->second[0]);
    b->control = std::move(r->second[1]);
    // Never a blocking read: a parked child holds its end open until its exec.
    ::fcntl(b->exec_status.get(), F_SETFL, O_NONBLOCK);
    box* bp = b.get();
    _by_fd[bp->exec_status.get()] = bp;
    _by_fd[bp->control.get()] = bp;
    _by_pid[bp->pid] = bp;
    watch(bp->exec_status.get(), t_exec);
    watch(bp->control.get(), t_parked);
    _boxes[id] = std::move(b);
    if (auto e = _reaped_early.find(bp->pid); e != _reaped_early.end()) {
        // It died before this answer was read: its exit, now that the
        // pid names its box (the error it wrote is in exec_status).
        const int wstatus = e->second.wstatus;
        _reaped_early.erase(e);
        on_reaped(bp->pid, wstatus);
        return;
    }
    // Discarded (or a new daemon said hello) while the zygote made it: its
    // death comes back as start_failed.
    if (p.kill) ::kill(bp->pid, SIGKILL);
}

void monitor_process::hold_namespaces(box& b, unique_fd net) {
    // Within the budget the daemon leaves (3 descriptors per box, 512 spare).
    if (3 * _boxes.size() + ns_fds() + 2 + 512 > _nofile) return;
    // Not reaped (it just answered): the pid is still the sandbox's.
    unique_fd mnt;
    const bool given = static_cast<bool>(net);  // a parked child's, which waits outside it
    if (unique_fd pidfd(sys::pidfd_open(b.pid)); pidfd) {
        mnt.reset(sys::pidfd_namespace(pidfd.get(), sys::pidfd_ns::mnt));
        if (!given) net.reset(sys::pidfd_namespace(pidfd.get(), sys::pidfd_ns::net));
    }
    if (!mnt || !net) {  // before Linux 6.11
        std::string dir = "/proc/" + std::to_string(b.pid) + "/ns/";
        mnt.reset(::open((dir + "mnt").c_str(), O_RDONLY | O_CLOEXEC));
        if (!given) net.reset(::open((dir + "net").c_str(), O_RDONLY | O_CLOEXEC));
    }
    // A child that waits outside its own network namespace and whose
    // descriptor did not come is in ours: nothing of it to hold.
    if (!given && net) {
        static const struct stat ours = [] {
            struct stat st {};
            (void)::stat("/proc/self/ns/net", &st);
            return st;
        }();
        struct stat theirs {};
        if (::fstat(net.get(), &theirs) == 0 && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) return;
    }
    if (!mnt || !net) return;
    b.mnt_ns = std::move(mnt);
    b.net_ns = std::move(net);
    _ns_fds += 2;
}

void monitor_process::make_room(std::size_t more_boxes) {
    auto used = [&] { return 3 * (_boxes.size() + more_boxes) + _ns_fds + 512; };
    while (used() > _nofile && !_held.empty()) {
        drop_namespaces(_held.front().mnt, _held.front().net, true);
        _held.pop_front();
    }
    for (auto it = _boxes.begin(); used() > _nofile && it != _boxes.end(); ++it)
        drop_namespaces(it->second->mnt_ns, it->second->net_ns, true);
    // What was dropped counts until the closer has closed it.
    if (used() + _closer.pending() > _nofile) _closer.wait_until_pending_at_most(_nofile > used() ? _nofile - used() : 0);
}

void monitor_process::drop_namespaces(unique_fd& mnt, unique_fd& net, bool teardown) {
    if (!mnt) return;
    if (teardown) {
        _closer.close(std::move(net));
        _closer.close(std::move(mnt));
    } else {
        net.reset();
        mnt.reset();
    }
    _ns_fds -= 2;
}

int monitor_process::release_held(std::int64_t now) {
    for (std::size_t n = 0; !_held.empty() && n < k_release_per_turn; ++n) {
        if (!_release && now - _held.front().since < k_max_hold_ns) break;
        // The last reference: the kernel tears the namespace down (on the
        // closer's thread).
        drop_namespaces(_held.front().mnt, _held.front().net, true);
        _held.pop_front();
        now = monotonic_ns();
    }
    if (_held.empty()) {
        _release = false;
        return -1;
    }
    const std::int64_t due = _release ? now : _held.front().since + k_max_hold_ns;
    return due <= now ? 0 : int((due - now) / 1'000'000) + 1;
}

void monitor_process::on_parked(box& b) {
    char byte = 0;
    // With the network namespace the child waits outside of, if it does.
    std::vector<unique_fd> own_net;
    auto got = recv_with_fds(b.control.get(), &byte, 1, &own_net, MSG_DONTWAIT);
    if (!got && (got.err().sys_errno == EAGAIN || got.err().sys_errno == EINTR)) return;
    unwatch(b.control.get());
    _by_fd.erase(b.control.get());
    if (got && *got == 1) {
        hold_namespaces(b, own_net.size() == 1 ? std::move(own_net[0]) : unique_fd());
        send({msg::parked, {{"id", b.id}, {"pid", b.pid}}, {}});
        return;
    }
    // The child died before parking: its exec-status pipe says why.
    b.control.reset();
}

void monitor_process::handle_start(message& m, bool is_exec) {
    std::string id(m.header["id"].as_string());
    auto fail = [&](const error& e) {
        message f{msg::start_failed, {{"id", id}, {"code", monitor::errc_name(e.code)}, {"message", e.message}}, {}};
        if (is_exec) f.header["exec"] = true;
        send(f);
    };
    auto flag = [&](const char* k) {
        auto* v = m.header.if_contains(k);
        return v && v->is_bool() && v->as_bool();
    };
    // A claim: the box exists, parked; the start goes to its child.
    box* parked = nullptr;
    if (!is_exec && flag("claim")) {
        auto it = _boxes.find(id);
        if (it == _boxes.end() || !it->second->parked || it->second->exited || !it->second->control)
            return fail(make_error(errc::unavailable, "the prepared sandbox of container " + id + " is gone"));
        parked = it->second.get();
    } else if (_boxes.count(id) || park_pending(id)) {
        return fail(make_error(errc::conflict, "container " + id + " is already running"));
    }
    // A claim that fails consumes the sandbox: its child is killed, and its
    // death reports nothing more (this start_failed is its only report).
    auto fail_claim = [&](const error& e) {
        parked->start_failed = true;
        parked->exec_reported = true;
        unwatch(parked->exec_status.get());
        _by_fd.erase(parked->exec_status.get());
        parked->exec_status.reset();
        if (_by_fd.erase(parked->control.get())) unwatch(parked->control.get());
        parked->control.reset();
        ::kill(parked->pid, SIGKILL);
        fail(e);
    };
    box* target = nullptr;
    if (is_exec) {
        auto it = _boxes.find(std::string(m.header["container"].as_string()));
        if (it == _boxes.end() || it->second->is_exec || it->second->exited || it->second->pid <= 0)
            return fail(make_error(errc::conflict, "container " + std::string(m.header["container"].as_string()) +
                                                       " is not running"));
        target = it->second.get();
    }
    std::unique_ptr<box> fresh;
    if (!parked) {
        fresh = std::make_unique<box>();
        fresh->id = id;
        fresh->is_exec = is_exec;
    }
    box* p = parked ? parked : fresh.get();
    p->tty = flag("tty");
    bool open_stdin = flag("open_stdin");
    p->open_stdin = open_stdin;
    if (!is_exec) {
        std::string log_path(m.header["log_path"].as_string());
        json_log::rotation rot;
        if (auto* v = m.header.if_contains("max_size"); v && v->is_number()) rot.max_size = v->to_number<std::uint64_t>();
        if (auto* v = m.header.if_contains("max_file"); v && v->is_number()) rot.max_file = v->to_number<int>();
        if (!log_path.empty()) {
            if (auto s = p->log.open(log_path, rot, flag("log_new")); !s)
                return parked ? fail_claim(s.err()) : fail(s.err());
            p->log_path = log_path;
            p->log_rot = rot;
            p->log_offset = p->log.offset();
        }
        if (auto* v = m.header.if_contains("oom_file"); v && v->is_string()) p->oom_file = v->as_string();
    }
    auto give_up = [&](const error& e) { return parked ? fail_claim(e) : fail(e); };

    // Descriptors for the zygote (or the parked child), in order:
    // [target pidfd] [stdin] [stdout stderr | tty socket].
    unique_fd out_r, out_w, err_r, err_w, in_r, in_w, tty_mine, tty_child;
    std::vector<int> fds;
    unique_fd target_pidfd;
    if (target) {
        // The target is not reaped yet (checked above): its pid is still ours.
        target_pidfd.reset(sys::pidfd_open(target->pid));
        if (!target_pidfd) return fail(sys_error("open pidfd of container " + target->id));
        fds.push_back(target_pidfd.get());
    }
    if (p->tty) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return give_up(sys_error("create tty socket"));
        tty_mine.reset(sv[0]);
        tty_child.reset(sv[1]);
        fds.push_back(tty_child.get());
    } else {
        int out[2], err[2], in[2];
        if (::pipe2(out, O_CLOEXEC) != 0) return give_up(sys_error("create stdio pipes"));
        out_r.reset(out[0]);
        out_w.reset(out[1]);
        if (::pipe2(err, O_CLOEXEC) != 0) return give_up(sys_error("create stdio pipes"));
        err_r.reset(err[0]);
        err_w.reset(err[1]);
        if (open_stdin) {
            if (::pipe2(in, O_CLOEXEC) != 0) return give_up(sys_error("create stdin pipe"));
            in_r.reset(in[0]);
            in_w.reset(in[1]);
            fds.push_back(in_r.get());
        }
        fds.push_back(out_w.get());
        fds.push_back(err_w.get());
    }
    auto number = [&](const char* k) -> unsigned short {
        auto* v = m.header.if_contains(k);
        return v && v->is_int64() ? static_cast<unsigned short>(v->as_int64()) : 0;
    };
    if (parked) {
        auto claim = runtime::encode_claim(m.header["spec"].as_string(), open_stdin, p->tty, number("rows"),
                                           number("cols"));
        if (auto sent = send_with_fds(p->control.get(), claim, fds); !sent) {
            // Its child is gone (EPIPE): the daemon starts the container cold.
            error e = sent.err().wrap("claim the prepared sandbox");
            e.code = errc::unavailable;
            return fail_claim(e);
        }
        // The child answers one byte once it has the claim, before anything
        // else: a child killed just before (still exiting, its socket still
        // open) took the message without running it, and its exec-status
        // EOF would read as a start. The answer is looked for at that EOF.
        if (_by_fd.erase(p->control.get())) unwatch(p->control.get());
        p->claim_sent = true;
        p->parked = false;
        if (!flag("hold_namespaces")) drop_namespaces(p->mnt_ns, p->net_ns, false);  // the child holds them
        p->out.eof = p->err.eof = false;
    } else {
        message req{msg::start, {{"spec", m.header["spec"]}, {"has_stdin", open_stdin}, {"tty", p->tty}, {"exec", is_exec}}, {}};
        for (auto k : {"rows", "cols"})
            if (auto* v = m.header.if_contains(k)) req.header[k] = *v;
        // Answered later (start_answered): the box waits without a pid.
        auto z = send_to_zygote(req, fds);
        if (!z) return fail(z.err());
        (*z)->pending.push_back({id, false, false});
        p->zygote_pending = true;
    }
    if (p->tty) {
        // Output and stdin flow through the pty master, which the child
        // sends once it has opened it inside the container.
        p->err.eof = true;
        p->tty_sock = std::move(tty_mine);
        _by_fd[p->tty_sock.get()] = p;
        watch(p->tty_sock.get(), t_tty);
    } else {
        ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
        ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
        p->out.fd = std::move(out_r);
        p->err.fd = std::move(err_r);
        _by_fd[p->out.fd.get()] = p;
        _by_fd[p->err.fd.get()] = p;
        watch(p->out.fd.get(), t_out);
        watch(p->err.fd.get(), t_err);
        if (open_stdin) {
            ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
            p->in = std::move(in_w);
        }
    }
    if (fresh) _boxes[id] = std::move(fresh);
    if (p->log.is_open()) open_log(*p);  // enters the open-log cache
}

void monitor_process::start_answered(const pending_ask& a, zygote_answer r) {
    auto it = _boxes.find(a.id);
    if (it == _boxes.end() || !it->second->zygote_pending) {
        // Never the case (only its answer ends a box's wait): not ours to run.
        if (r && !_reaped_early.erase(r->first)) ::kill(r->first, SIGKILL);
        return;
    }
    box& b = *it->second;
    b.zygote_pending = false;
    if (r && r->second.size() != 1) {
        if (!_reaped_early.erase(r->first)) ::kill(r->first, SIGKILL);
        r = make_error(errc::internal, "zygote reply without descriptors");
    }
    if (!r) {
        message f{msg::start_failed, {{"id", a.id}, {"code", monitor::errc_name(r.err().code)}, {"message", r.err().message}}, {}};
        if (b.is_exec) f.header["exec"] = true;
        send(f);
        // Nothing ran: the box goes without an exit of its own.
        b.start_failed = b.exec_reported = b.exited = true;
        return finish(b);
    }
    b.pid = r->first;
    b.exec_status = std::move(r->second[0]);
    ::fcntl(b.exec_status.get(), F_SETFL, O_NONBLOCK);
    _by_fd[b.exec_status.get()] = &b;
    _by_pid[b.pid] = &b;
    watch(b.exec_status.get(), t_exec);
    if (auto e = _reaped_early.find(b.pid); e != _reaped_early.end()) {
        // Dead before this answer was read (a cold start's child shares
        // the zygote's memory: the answer comes at its execve, and a short
        // command may be gone by then): its exit, now that the pid names
        // its box.
        const int wstatus = e->second.wstatus;
        _reaped_early.erase(e);
        return on_reaped(b.pid, wstatus);
    }
    if (b.pending_signal) ::kill(b.pid, b.pending_signal);
}

bool monitor_process::open_log(box& b) {
    if (b.log_path.empty()) return false;
    if (!b.log.is_open()) {
        if (auto s = b.log.open(b.log_path, b.log_rot); !s) {
            b.log = json_log::writer{};
            log::error("monitor: {}", s.err().message);
            return false;
        }
        b.log_offset = b.log.offset();
    }
    if (b.log_listed) _open_logs.erase(b.log_pos);
    _open_logs.push_front(&b);
    b.log_pos = _open_logs.begin();
    b.log_listed = true;
    while (_open_logs.size() > _max_open_logs) close_log(*_open_logs.back());
    return true;
}

void monitor_process::close_log(box& b) {
    if (b.log_listed) _open_logs.erase(b.log_pos);
    b.log_listed = false;
    b.log = json_log::writer{};
}

std::uint64_t monitor_process::append_log(box& b, std::string_view line) {
    // A log that cannot be opened keeps its offset: the entry is not in it.
    if (open_log(b)) b.log_offset = b.log.append(line);
    return b.log_offset;
}

void monitor_process::on_tty_master(box& b) {
    char byte;
    std::vector<unique_fd> got;
    auto n = recv_with_fds(b.tty_sock.get(), &byte, 1, &got, MSG_DONTWAIT);
    if (!n && n.err().sys_errno == EAGAIN) return;
    unique_fd master;
    if (n && *n == 1 && got.size() == 1) master = std::move(got[0]);
    unwatch(b.tty_sock.get());
    _by_fd.erase(b.tty_sock.get());
    b.tty_sock.reset();
    if (!master) {
        // The child failed before opening its terminal: nothing will come.
        b.out.eof = true;
        maybe_finish(b);
        return;
    }
    ::fcntl(master.get(), F_SETFL, O_NONBLOCK);
    // Separate descriptions for epoll: output (read), stdin (write), resize.
    b.tty_master.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    if (b.open_stdin) b.in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    b.out.fd = std::move(master);
    _by_fd[b.out.fd.get()] = &b;
    watch(b.out.fd.get(), t_out);
    on_stdin_writable(b);
}

void monitor_process::on_exec_status(box& b) {
    char buf[4096];
    ssize_t n = ::read(b.exec_status.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n > 0) {
        b.exec_error.append(buf, size_t(n));
        return;
    }
    unwatch(b.exec_status.get());
    _by_fd.erase(b.exec_status.get());
    b.exec_status.reset();
    b.exec_reported = true;
    // A sandbox that never ran the container's process: reported so, and
    // the daemon starts the container cold.
    auto unavailable = [&](const char* why, bool unclaimed) {
        b.start_failed = true;
        message m{msg::start_failed, {{"id", b.id}, {"code", monitor::errc_name(errc::unavailable)}, {"message", why}}, {}};
        // Not the answer to a start: the daemon must not take it for the
        // answer to a claim it has just sent (that answer follows).
        if (unclaimed) m.header["unclaimed"] = true;
        send(m);
        maybe_finish(b);
    };
    if (b.claim_sent) {
        // Written before the child did anything: there now if it took the claim.
        b.claim_sent = false;
        char taken = 0;
        const bool took = ::recv(b.control.get(), &taken, 1, MSG_DONTWAIT) == 1 && taken == 1;
        b.control.reset();
        if (!took) return unavailable("claim the prepared sandbox: its process was gone before it took the claim", false);
    }
    // A sandbox that dies unclaimed (killed, or its control socket closed).
    if (b.exec_error.empty() && b.parked) return unavailable("the prepared sandbox exited before it was claimed", true);
    if (b.exec_error.empty()) {
        message started{msg::started, {{"id", b.id}, {"pid", b.pid}}, {}};
        if (b.is_exec) started.header["exec"] = true;
        send(started);
        return;
    }
    // The child wrote its error (runtime/child.h format) and exited: report
    // the failure instead of an exit.
    b.start_failed = true;
    status st = runtime::decode_exec_status(b.exec_error);
    error e = st ? make_error(errc::internal, "container process failed before exec") : st.err();
    message failed{msg::start_failed, {{"id", b.id}, {"code", monitor::errc_name(e.code)}, {"message", e.message}}, {}};
    if (b.is_exec) failed.header["exec"] = true;
    send(failed);
    maybe_finish(b);
}

void monitor_process::write_entry(box& b, bool is_err, std::string_view text) {
    std::int64_t t = now_ns();
    if (b.is_exec) {
        send({msg::output, {{"id", b.id}, {"exec", true}, {"stream", is_err ? "stderr" : "stdout"}, {"time", t}}, std::string(text)});
        return;
    }
    boost::json::object e{{"log", text}, {"stream", is_err ? "stderr" : "stdout"}, {"time", format_rfc3339_nano(t)}};
    std::string line = boost::json::serialize(e);
    line += '\n';
    std::uint64_t offset = append_log(b, line);
    send({msg::output,
          {{"id", b.id}, {"stream", is_err ? "stderr" : "stdout"}, {"time", t}, {"offset", offset}},
          std::string(text)});
}

void monitor_process::on_output(box& b, bool is_err, bool drain) {
    // A container that writes as fast as it can kept the loop here, every
    // other container's output, start and exit waiting (and the loop's
    // control_priority_governor with them): a turn takes 256 KiB of it.
    static constexpr int k_output_chunks = 8;
    stream_state& s = is_err ? b.err : b.out;
    char buf[32 * 1024];
    for (int chunks = 0; drain || chunks < k_output_chunks; ++chunks) {
        ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
        }
        if (n <= 0) {
            s.eof = true;
            unwatch(s.fd.get());
            _by_fd.erase(s.fd.get());
            s.fd.reset();
            maybe_finish(b);
            return;
        }
        // One log entry per line, as Docker's json-file driver; a trailing
        // partial line becomes its own entry at once so attach sees prompts.
        std::string_view chunk(buf, size_t(n));
        while (!chunk.empty()) {
            auto nl = chunk.find('\n');
            std::size_t len = nl == std::string_view::npos ? chunk.size() : nl + 1;
            write_entry(b, is_err, chunk.substr(0, len));
            chunk.remove_prefix(len);
        }
    }
}

void monitor_process::on_stdin_writable(box& b) {
    while (b.in && !b.stdin_pending.empty()) {
        ssize_t n = ::write(b.in.get(), b.stdin_pending.data(), b.stdin_pending.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            if (!_by_fd.count(b.in.get())) {
                _by_fd[b.in.get()] = &b;
                watch(b.in.get(), t_stdin, EPOLLOUT);
            }
            return;
        }
        if (n < 0) {  // EPIPE: the container closed its stdin
            b.stdin_pending.clear();
            break;
        }
        b.stdin_pending.erase(0, size_t(n));
    }
    if (b.in && _by_fd.count(b.in.get())) {
        unwatch(b.in.get());
        _by_fd.erase(b.in.get());
    }
    if (b.in && b.stdin_close_requested && b.stdin_pending.empty()) b.in.reset();
}

void monitor_process::on_signal() {
    signalfd_siginfo si;
    while (::read(_sigfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD && si.ssi_pid > 0) reap(static_cast<pid_t>(si.ssi_pid));
        const std::int64_t now = monotonic_ns();
        if (_sweep_at == 0) _sweep_latest = now + k_sweep_max_ns;
        _sweep_at = std::min(now + k_sweep_quiet_ns, _sweep_latest);
    }
    for (pid_t pid : std::exchange(_suspects, {})) reap(pid);
    // Nothing starts without the zygote: its death, even one whose signal
    // merged with another's, is not left to the sweep.
    for (auto& z : _zygotes)
        if (z.z.pid > 0) reap(z.z.pid);
}

void monitor_process::reap(pid_t pid) {
    int wstatus = 0;
    // Not a child of ours, or not dead yet (a stop, or a signal raised by
    // another child): the sweep looks again.
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) on_reaped(pid, wstatus);
}

void monitor_process::sweep() {
    _sweep_at = 0;
    for (;;) {
        int wstatus = 0;
        pid_t pid = ::waitpid(-1, &wstatus, WNOHANG);
        if (pid <= 0) break;
        on_reaped(pid, wstatus);
    }
}

void monitor_process::on_reaped(pid_t pid, int wstatus) {
    for (auto& z : _zygotes) {
        if (pid != z.z.pid) continue;
        // Without a zygote nothing can start: make a new one.
        log::error("monitor: zygote exited (status {}); starting a new one", wstatus);
        use_zygote(z, monitor::start_zygote());
        return;
    }
    auto it = _by_pid.find(pid);
    if (it == _by_pid.end()) {
        // An orphan we adopted as subreaper, or a sandbox the zygote has
        // not named yet.
        if (asks_pending() > 0) _reaped_early[pid] = {wstatus, monotonic_ns()};
        return;
    }
    box& b = *it->second;
    _by_pid.erase(it);
    b.exited = true;
    b.finished_ns = now_ns();
    if (WIFEXITED(wstatus)) b.exit_code = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus)) b.exit_code = 128 + WTERMSIG(wstatus);
    // Output still in the pipes belongs before the exit; the pid
    // namespace is gone, so EOF follows quickly. Bound the wait anyway.
    b.drain_deadline_ns = monotonic_ns() + 2'000'000'000;  // monotonic: a clock step moves no deadline
    _drains.emplace_back(b.drain_deadline_ns, b.id);
    if (!b.exec_status) return maybe_finish(b);
    // Its exec status may end here, and a failure finishes the box.
    const std::string id = b.id;
    on_exec_status(b);
    if (auto again = _boxes.find(id); again != _boxes.end()) maybe_finish(*again->second);
}

void monitor_process::maybe_finish(box& b) {
    // finish() drains the pipes itself, which can come back here: once only.
    if (b.finishing) return;
    if (!b.exited && !b.parked && b.pid > 0 && b.out.eof && b.err.eof) {
        // Its output is gone: most likely dead (see _suspects).
        const pid_t pid = b.pid;
        reap(pid);  // may finish b
        if (!_by_pid.count(pid)) return;
        _suspects.push_back(pid);
        return;
    }
    if (b.exited && b.out.eof && b.err.eof && !b.exec_status) finish(b);
}

void monitor_process::finish(box& b) {
    if (b.finishing) return;
    b.finishing = true;
    std::string id = b.id;
    for (auto* s : {&b.out, &b.err})
        if (s->fd) {
            on_output(b, s == &b.err, true);
            if (s->fd) {
                unwatch(s->fd.get());
                _by_fd.erase(s->fd.get());
            }
        }
    if (b.exec_status) {
        unwatch(b.exec_status.get());
        _by_fd.erase(b.exec_status.get());
    }
    if (b.in) {
        if (_by_fd.count(b.in.get())) unwatch(b.in.get());
        _by_fd.erase(b.in.get());
    }
    if (b.tty_sock) {
        unwatch(b.tty_sock.get());
        _by_fd.erase(b.tty_sock.get());
    }
    if (b.control && _by_fd.erase(b.control.get())) unwatch(b.control.get());
    if (b.is_exec) {
        if (!b.start_failed) send({msg::exited, {{"id", id}, {"exec", true}, {"exit_code", b.exit_code}, {"finished", b.finished_ns}}, {}});
    } else if (!b.start_failed) {
        // Reported once written (exit_journal.h).
        boost::json::object rec{{"id", id}, {"exit_code", b.exit_code}, {"finished", b.finished_ns}, {"shard", _shard}};
        if (!b.oom_file.empty())
            if (auto kills = cgroup::try_read_oom_kills(b.oom_file)) rec["oom_kills"] = *kills;
        _journal->append(rec);
        send({msg::exited, std::move(rec), {}});
    }
    close_log(b);
    if (b.mnt_ns) {
        // A sandbox that never ran its container is not held: the
        // container's cold start uses the same upper directory.
        // Closed here, not on the closer's thread: that start may come
        // right after this report, and an overlay with index=on refuses an
        // upper directory another mount still holds.
        if (!b.start_failed && !b.parked) _held.push_back({monotonic_ns(), std::move(b.mnt_ns), std::move(b.net_ns)});
        else drop_namespaces(b.mnt_ns, b.net_ns, false);
    }
    _boxes.erase(id);
}

}  // namespace

int monitor_main(int argc, char** argv) {
    // Nothing inherited from the daemon belongs here (its listening socket,
    // its io_uring): the monitor outlives the daemon.
    ::close_range(3, ~0U, 0);
    std::string root = "/var/lib/berth";
    std::string cgroup_leaf, shard_arg = "0";
    int control_priority = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--data-root" && i + 1 < argc) root = argv[++i];
        else if (starts_with(a, "--data-root=")) root = a.substr(12);
        else if (a == "--cgroup" && i + 1 < argc) cgroup_leaf = argv[++i];
        else if (a == "--shard" && i + 1 < argc) shard_arg = argv[++i];
        else if (starts_with(a, "--shard=")) shard_arg = a.substr(8);
        else if (a == "--control-priority" && i + 1 < argc) {
            auto v = parse_control_priority(argv[++i]);
            if (!v) {
                log::error("monitor: {}", v.err().message);
                return 1;
            }
            control_priority = *v;
        }
    }
    int shard = -1;
    if (!shard_arg.empty() && shard_arg.size() < 6 && shard_arg.find_first_not_of("0123456789") == std::string::npos)
        shard = std::stoi(shard_arg);
    if (shard < 0) {
        log::error("monitor: invalid shard {}", shard_arg);
        return 1;
    }
    // Only one monitor per shard of a data root; the lock dies with the process.
    unique_fd lock(::open(monitor::shard_file(root, shard, ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        log::error("monitor: another monitor owns shard {} of {}", shard, root);
        return 1;
    }
    // Out of the daemon's cgroup2 leaf before the zygote is forked, so that
    // leaf empties when the daemon exits (cgroup::manager, unified layout).
    if (!cgroup_leaf.empty())
        if (auto s = cgroup::enter_leaf(cgroup_leaf); !s) log::warn("monitor: {}", s.err().message);
    ::setsid();
    // The daemon ignores SIGCHLD (it never waits for us); an ignored SIGCHLD
    // survives exec and would make the kernel reap our containers for us.
    ::signal(SIGCHLD, SIG_DFL);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // No mount namespace of its own: the monitor and its zygote mount
    // nothing, and each container's namespace is cloned from the daemon's
    // (the host's) as it is at the container's start, so a host mount made
    // after the monitor started is seen (a frozen private copy would show
    // the directory under it), and a [r]shared bind of a shared host mount
    // stays in that mount's peer group: what the container mounts under
    // it reaches the host, as with Docker. The container makes its own
    // tree private first thing (runtime/mounts.cc).
    // Every container costs the monitor a few fds (two pipes when idle; the
    // daemon puts no more containers on a shard than this limit allows,
    // engine/monitor_client.h): use the whole hard limit.
    rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    (void)make_dirs(root + "/exits", 0700);
    (void)write_file(monitor::shard_file(root, shard, ".pid"), std::to_string(::getpid()) + "\n");
    monitor_process m(root, shard, ::getrlimit(RLIMIT_NOFILE, &rl) == 0 ? std::size_t(rl.rlim_cur) : 1024,
                      control_priority);
    return m.run();
}

}  // namespace berth
