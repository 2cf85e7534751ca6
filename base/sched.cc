#include "base/sched.h"

#include "base/log.h"

#include <sched.h>
#include <time.h>

#include <charconv>
#include <string>

namespace berth {

status set_control_priority(pid_t tid, int priority) {
    sched_param param{};
    param.sched_priority = priority;
    const int policy = priority > 0 ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER;
    if (::sched_setscheduler(tid, policy, &param) != 0)
        return sys_error(priority > 0 ? "SCHED_FIFO priority " + std::to_string(priority) : std::string("SCHED_OTHER"));
    return ok();
}

result<int> parse_control_priority(std::string_view text) {
    int v = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < 0 || v > 99)
        return make_error(errc::invalid_argument,
                          "invalid control priority \"" + std::string(text) + "\": a SCHED_FIFO priority from 1 to 99, or 0 for none");
    return v;
}

namespace {

long long clock_ns(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

control_priority_governor::control_priority_governor(int priority, long window_ms)
    : _priority(priority), _window_ns(window_ms * 1'000'000) {
    _window_start_ns = clock_ns(CLOCK_MONOTONIC);
    _cpu_start_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (_priority > 0) set(true);
}

void control_priority_governor::set(bool rt) {
    if (auto s = set_control_priority(0, rt ? _priority : 0); !s) {
        log::warn("{}; this thread runs at normal priority", s.err().message);
        _priority = 0;  // refused: not asked again
        _rt = false;
        return;
    }
    _rt = rt;
}

void control_priority_governor::tick() {
    if (_priority <= 0) return;
    const long long now = clock_ns(CLOCK_MONOTONIC);
    const long long elapsed = now - _window_start_ns;
    if (elapsed < _window_ns) return;
    const long long cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    const long long used = cpu - _cpu_start_ns;
    _window_start_ns = now;
    _cpu_start_ns = cpu;
    if (_rt && used * 2 > elapsed) {
        log::info("control thread busy ({}% of a CPU): SCHED_OTHER until it is not", used * 100 / elapsed);
        set(false);
    } else if (!_rt && used * 4 < elapsed) {
        set(true);
    }
}

}  // namespace berth
