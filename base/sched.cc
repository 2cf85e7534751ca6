#include "base/sched.h"

#include <sched.h>

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

}  // namespace berth
