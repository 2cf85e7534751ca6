#include "engine/cgroup/device_filter.h"

// g++ 12 at -O2 misreads vector growth of bpf_insn (a struct with 4-bit
// fields) as a one-byte overflow (GCC bug 106199 family): a false positive.
#pragma GCC diagnostic ignored "-Wstringop-overflow"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "base/util.h"

namespace berth::cgroup {
namespace {

constexpr unsigned k_acc_all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

constexpr bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

// dst = *(u32 *)(src + off)
constexpr bpf_insn load_u32(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
    return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
constexpr bpf_insn alu_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
    return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
// 32-bit compares (BPF_JMP32, Linux 5.1): ctx fields are u32, so a major
// or minor above 2^31 must not be sign-extended as a 64-bit immediate would.
constexpr bpf_insn jne_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) {
    return insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn jset_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) {
    return insn(BPF_JMP32 | BPF_JSET | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// Registers: r2 device type, r3 requested access, r4 major, r5 minor.
std::vector<bpf_insn> build_program(const std::vector<device_rule>& rules) {
    std::vector<bpf_insn> p;
    p.push_back(load_u32(2, 1, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(alu_imm(BPF_AND, 2, 0xffff));
    p.push_back(load_u32(3, 1, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(alu_imm(BPF_RSH, 3, 16));
    p.push_back(load_u32(4, 1, offsetof(bpf_cgroup_dev_ctx, major)));
    p.push_back(load_u32(5, 1, offsetof(bpf_cgroup_dev_ctx, minor)));
    for (const auto& r : rules) {
        // Each check jumps past the rule's final "return 1" when it fails;
        // offsets are filled once the rule's length is known.
        std::vector<bpf_insn> body;
        std::vector<size_t> jumps;
        if (r.type != 'a') {
            jumps.push_back(body.size());
            body.push_back(jne_imm(2, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
        }
        if ((r.access & k_acc_all) != k_acc_all) {
            jumps.push_back(body.size());
            body.push_back(jset_imm(3, static_cast<std::int32_t>(~r.access & k_acc_all), 0));
        }
        if (r.major >= 0) {
            jumps.push_back(body.size());
            body.push_back(jne_imm(4, static_cast<std::int32_t>(r.major), 0));
        }
        if (r.minor >= 0) {
            jumps.push_back(body.size());
            body.push_back(jne_imm(5, static_cast<std::int32_t>(r.minor), 0));
        }
        body.push_back(alu_imm(BPF_MOV, 0, 1));
        body.push_back(exit_insn());
        for (size_t j : jumps) body[j].off = static_cast<std::int16_t>(body.size() - j - 1);
        p.insert(p.end(), body.begin(), body.end());
    }
    p.push_back(alu_imm(BPF_MOV, 0, 0));
    p.push_back(exit_insn());
    return p;
}

}  // namespace

std::vector<device_rule> default_device_rules() {
    constexpr unsigned m = BPF_DEVCG_ACC_MKNOD;
    return {
        {'c', -1, -1, m},        {'b', -1, -1, m},
        {'c', 1, 3, k_acc_all},  // null
        {'c', 1, 5, k_acc_all},  // zero
        {'c', 1, 7, k_acc_all},  // full
        {'c', 1, 8, k_acc_all},  // random
        {'c', 1, 9, k_acc_all},  // urandom
        {'c', 5, 0, k_acc_all},  // tty
        {'c', 5, 1, k_acc_all},  // console
        {'c', 5, 2, k_acc_all},  // ptmx
        {'c', 136, -1, k_acc_all},  // /dev/pts/*
        {'c', 10, 200, k_acc_all},  // net/tun
    };
}

result<unique_fd> load_device_program(const std::vector<device_rule>& rules) {
    for (const auto& r : rules)
        if ((r.type != 'a' && r.type != 'b' && r.type != 'c') || r.major > 0xffffffffLL || r.minor > 0xffffffffLL ||
            r.major < -1 || r.minor < -1)
            return make_error(errc::invalid_argument, std::string("load device program: invalid rule for type '") +
                                                          r.type + "'");
    auto prog = build_program(rules);
    static const char license[] = "GPL";
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<std::uintptr_t>(prog.data());
    attr.insn_cnt = static_cast<std::uint32_t>(prog.size());
    attr.license = reinterpret_cast<std::uintptr_t>(license);
    long fd = bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) return unique_fd(static_cast<int>(fd));

    // Loaded again with the verifier's log only on failure: a log costs time,
    // and one too small for it fails the load with ENOSPC.
    int err = errno;
    std::string log(64 * 1024, '\0');
    attr.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
    attr.log_size = static_cast<std::uint32_t>(log.size());
    attr.log_level = 1;
    fd = bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) return unique_fd(static_cast<int>(fd));
    error e = sys_error("load device program", err);
    log.resize(std::strlen(log.c_str()));
    if (auto t = trim(log); !t.empty()) e.message += ": " + t;
    return e;
}

status attach_device_program(int program_fd, int cgroup_dir_fd) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<std::uint32_t>(cgroup_dir_fd);
    attr.attach_bpf_fd = static_cast<std::uint32_t>(program_fd);
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, &attr) != 0) return sys_error("attach device program to cgroup");
    return ok();
}

}  // namespace berth::cgroup
