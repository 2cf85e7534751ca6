#include "engine/runtime/timens.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <charconv>

#include "base/fd.h"

namespace berth::runtime {
namespace {

constexpr std::int64_t k_ns_per_sec = 1'000'000'000;

// Floor division: -1.5 s is "-2 500000000", as the kernel reads it.
void split_ns(std::int64_t ns, std::int64_t& sec, std::int64_t& nsec) {
    sec = ns / k_ns_per_sec;
    nsec = ns % k_ns_per_sec;
    if (nsec < 0) {
        sec -= 1;
        nsec += k_ns_per_sec;
    }
}

std::string seconds_text(std::int64_t ns) {
    std::int64_t sec = 0, nsec = 0;
    split_ns(ns, sec, nsec);
    if (nsec == 0) return std::to_string(sec);
    // -1.5 s: sec -2, nsec 5e8 -> "-1.500000000", trailing zeros dropped.
    bool negative = ns < 0;
    std::uint64_t abs_ns = negative ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
    std::string frac = std::to_string(abs_ns % k_ns_per_sec);
    frac.insert(0, 9 - frac.size(), '0');
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return (negative ? "-" : "") + std::to_string(abs_ns / k_ns_per_sec) + "." + frac;
}

}  // namespace

std::string timens_offsets_text(const time_offset_spec& offsets) {
    std::string out;
    for (auto [name, ns] : {std::pair{"monotonic", offsets.monotonic_ns}, std::pair{"boottime", offsets.boottime_ns}}) {
        std::int64_t sec = 0, nsec = 0;
        split_ns(ns, sec, nsec);
        out += std::string(name) + " " + std::to_string(sec) + " " + std::to_string(nsec) + "\n";
    }
    return out;
}

status check_time_namespace_support(std::string_view release) {
    int major = 0, minor = 0;
    const char* p = release.data();
    const char* end = p + release.size();
    auto [after_major, ec1] = std::from_chars(p, end, major);
    bool parsed = ec1 == std::errc() && after_major < end && *after_major == '.';
    if (parsed) parsed = std::from_chars(after_major + 1, end, minor).ec == std::errc();
    if (!parsed)
        return make_error(errc::invalid_argument,
                          "--time-offset: cannot read the kernel's version from \"" + std::string(release) + "\"");
    if (major < 6 || (major == 6 && minor < 1))
        return make_error(errc::invalid_argument, "--time-offset needs Linux 6.1 or later (execve entering the time "
                                                  "namespace); this kernel is " + std::string(release));
    return ok();
}

status check_time_namespace_support() {
    struct utsname u {};
    if (::uname(&u) != 0) return sys_error("uname");
    BERTH_TRY(check_time_namespace_support(u.release));
    if (::access("/proc/self/timens_offsets", F_OK) != 0)
        return make_error(errc::invalid_argument,
                          "--time-offset: this kernel has no time namespaces (no /proc/self/timens_offsets; "
                          "CONFIG_TIME_NS is off)");
    return ok();
}

status check_time_offset(std::string_view clock, std::int64_t offset_ns, std::int64_t now_ns) {
    const std::string what = "time offset " + std::string(clock) + "=" + seconds_text(offset_ns);
    // Both fit in an int64 of nanoseconds: |offset| < 2^63 ns, now < 2^62 ns.
    if (offset_ns < 0 && now_ns + offset_ns < 0)
        return make_error(errc::invalid_argument, what + ": the container's " + std::string(clock) +
                                                      " clock would be negative (the host's reads " +
                                                      seconds_text(now_ns) + " s)");
    if (offset_ns > 0 && offset_ns > k_timens_clock_max_sec * k_ns_per_sec + (k_ns_per_sec - 1) - now_ns)
        return make_error(errc::invalid_argument, what + ": the container's " + std::string(clock) +
                                                      " clock would pass the kernel's limit of " +
                                                      std::to_string(k_timens_clock_max_sec) + " s");
    return ok();
}

status check_time_offset(std::string_view clock, std::int64_t offset_ns) {
    clockid_t id;
    if (clock == "monotonic") id = CLOCK_MONOTONIC;
    else if (clock == "boottime") id = CLOCK_BOOTTIME;
    else return make_error(errc::invalid_argument, "time offset: unknown clock \"" + std::string(clock) + "\"");
    timespec ts{};
    if (::clock_gettime(id, &ts) != 0) return sys_error("read the " + std::string(clock) + " clock");
    return check_time_offset(clock, offset_ns, ts.tv_sec * k_ns_per_sec + ts.tv_nsec);
}

status unshare_time_namespace(const time_offset_spec& offsets) {
    if (::unshare(CLONE_NEWTIME) != 0) return sys_error("create the time namespace (unshare CLONE_NEWTIME)");
    // /proc/self/timens_offsets names the caller's time_for_children: the
    // namespace just made, which nothing has entered yet.
    unique_fd fd(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
    if (!fd) return sys_error("open /proc/self/timens_offsets");
    const std::string text = timens_offsets_text(offsets);
    ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n == static_cast<ssize_t>(text.size())) return ok();
    int err = n < 0 ? errno : EIO;
    if (err == ERANGE)
        return make_error(errc::invalid_argument,
                          "set the time namespace's offsets (monotonic " + seconds_text(offsets.monotonic_ns) +
                              " s, boottime " + seconds_text(offsets.boottime_ns) +
                              " s): the kernel refuses them, a clock would be negative or past " +
                              std::to_string(k_timens_clock_max_sec) + " s");
    return sys_error("set the time namespace's offsets: write /proc/self/timens_offsets", err);
}

}  // namespace berth::runtime
