#include "base/sha256.h"

#include <openssl/evp.h>

#include "base/util.h"

namespace berth {

struct sha256::impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~impl() { EVP_MD_CTX_free(ctx); }
};

sha256::sha256() : _p(std::make_unique<impl>()) { EVP_DigestInit_ex(_p->ctx, EVP_sha256(), nullptr); }
sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(const void* data, std::size_t n) { EVP_DigestUpdate(_p->ctx, data, n); }

std::string sha256::digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(_p->ctx, md, &len);
    return "sha256:" + hex(md, len);
}

std::string sha256::of(std::string_view s) {
    sha256 h;
    h.update(s);
    return h.digest();
}

}  // namespace berth
