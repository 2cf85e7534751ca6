// Incremental SHA-256 over OpenSSL's EVP interface (hardware accelerated).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace berth {

class sha256 {
public:
    sha256();
    ~sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;
    void update(const void* data, std::size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // "sha256:<64 hex>"; the hasher is spent afterwards.
    std::string digest();

    static std::string of(std::string_view s);

private:
    struct impl;
    std::unique_ptr<impl> _p;
};

}  // namespace berth
