// The heap of a child that shares the zygote's memory (runtime::child_heap,
// engine/runtime/spawn.h). Linked into berth-zygote only, whose link wraps
// the C library's allocator (-Wl,--wrap=malloc and the rest: CMakeLists.txt),
// so that every allocation in the program, the C library's own included,
// comes through here.
//
// A container's init is cloned with CLONE_VM | CLONE_VFORK: until its
// execve it runs in the zygote's address space while the zygote waits. Its
// allocations must not touch the zygote's heap (they would outlive the
// execve, a leak per start, and a free of the zygote's objects would be
// theirs gone), so the child takes them from a scratch arena, bump by bump,
// and frees nothing; once the clone returns, the zygote empties the arena
// for the next child. The pages the first children touched are the zygote's
// and stay mapped: later children write no new ones.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "engine/monitor/zygote.h"
#include "engine/runtime/spawn.h"

extern "C" {
void* __real_malloc(std::size_t size);
void __real_free(void* p);
void* __real_calloc(std::size_t n, std::size_t size);
void* __real_realloc(void* p, std::size_t size);
void* __real_aligned_alloc(std::size_t align, std::size_t size);
void* __real_memalign(std::size_t align, std::size_t size);
int __real_posix_memalign(void** out, std::size_t align, std::size_t size);
std::size_t __real_malloc_usable_size(void* p);
}

namespace {

// Address space only (MAP_NORESERVE): a child writes a few dozen KiB. The
// cap is the account files (4 MiB each, read whole) with room to spare.
constexpr std::size_t k_arena_size = std::size_t{64} << 20;
constexpr std::size_t k_align = 16;

// Written by the child (its switch) and the zygote (the reset), never at
// once: the zygote is stopped in the clone while the child runs.
char* g_arena = nullptr;
std::size_t g_used = 0;
bool g_in_child = false;

struct chunk_header {
    std::size_t size;
    std::size_t unused;  // keeps the payload 16-byte aligned
};
static_assert(sizeof(chunk_header) == k_align);

bool in_arena(const void* p) {
    auto* c = static_cast<const char*>(p);
    return g_arena && c >= g_arena && c < g_arena + k_arena_size;
}

void* arena_alloc(std::size_t size, std::size_t align) {
    if (align < k_align) align = k_align;
    if ((align & (align - 1)) != 0) {
        errno = EINVAL;
        return nullptr;
    }
    const auto base = reinterpret_cast<std::uintptr_t>(g_arena);
    std::uintptr_t payload = base + g_used + sizeof(chunk_header);
    payload = (payload + align - 1) & ~(std::uintptr_t{align} - 1);
    if (size > k_arena_size || payload - base > k_arena_size - size) {
        errno = ENOMEM;
        return nullptr;
    }
    reinterpret_cast<chunk_header*>(payload - sizeof(chunk_header))->size = size;
    g_used = payload - base + size;
    return reinterpret_cast<void*>(payload);
}

std::size_t arena_size_of(const void* p) {
    return reinterpret_cast<const chunk_header*>(static_cast<const char*>(p) - sizeof(chunk_header))->size;
}

std::size_t usable_size(void* p) {
    if (!p) return 0;
    return in_arena(p) ? arena_size_of(p) : __real_malloc_usable_size(p);
}

// A copy of p's bytes in a new block from `alloc` (p itself is left alone:
// the zygote's, or the arena's).
template <class Alloc>
void* moved(void* p, std::size_t size, Alloc&& alloc) {
    void* out = alloc(size);
    if (out && p) {
        const std::size_t old = usable_size(p);
        ::memcpy(out, p, old < size ? old : size);
    }
    return out;
}

void enter_child() { g_in_child = true; }

void leave_child() {
    g_in_child = false;
    g_used = 0;
}

const berth::runtime::child_heap k_heap{enter_child, leave_child};

}  // namespace

extern "C" {

void* __wrap_malloc(std::size_t size) { return g_in_child ? arena_alloc(size, k_align) : __real_malloc(size); }

void __wrap_free(void* p) {
    // A child's frees are ignored (the arena is emptied at once after it),
    // but for the last block, which goes back: a directory walk's buffers
    // and paths come and go in that order. An arena block the zygote meets
    // later (a child wrote it into memory the zygote keeps) was never the
    // C library's.
    if (g_in_child) {
        auto* c = static_cast<char*>(p);
        if (in_arena(p) && c + arena_size_of(p) == g_arena + g_used)
            g_used = static_cast<std::size_t>(c - sizeof(chunk_header) - g_arena);
        return;
    }
    if (in_arena(p)) return;
    __real_free(p);
}

void* __wrap_calloc(std::size_t n, std::size_t size) {
    if (!g_in_child) return __real_calloc(n, size);
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return nullptr;
    }
    void* p = arena_alloc(n * size, k_align);
    if (p) ::memset(p, 0, n * size);  // the arena's pages are reused
    return p;
}

void* __wrap_realloc(void* p, std::size_t size) {
    if (g_in_child) return moved(p, size, [](std::size_t n) { return arena_alloc(n, k_align); });
    if (in_arena(p)) return moved(p, size, [](std::size_t n) { return __real_malloc(n); });
    return __real_realloc(p, size);
}

void* __wrap_aligned_alloc(std::size_t align, std::size_t size) {
    return g_in_child ? arena_alloc(size, align) : __real_aligned_alloc(align, size);
}

void* __wrap_memalign(std::size_t align, std::size_t size) {
    return g_in_child ? arena_alloc(size, align) : __real_memalign(align, size);
}

int __wrap_posix_memalign(void** out, std::size_t align, std::size_t size) {
    if (!g_in_child) return __real_posix_memalign(out, align, size);
    if (align % sizeof(void*) != 0) return EINVAL;
    void* p = arena_alloc(size, align);
    if (!p) return errno;
    *out = p;
    return 0;
}

std::size_t __wrap_malloc_usable_size(void* p) { return usable_size(p); }

}  // extern "C"

namespace berth::monitor {

void install_child_heap() {
    void* arena = ::mmap(nullptr, k_arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
    if (arena == MAP_FAILED) return;  // children are forked as before
    g_arena = static_cast<char*>(arena);
    runtime::set_child_heap(&k_heap);
}

}  // namespace berth::monitor
