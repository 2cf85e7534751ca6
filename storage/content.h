// The content store: immutable blobs (configs, manifests, layer archives)
// addressed by their sha256 digest.
//
// Layout under its root (<storage root>/content):
//   blobs/sha256/<hex>   a verified blob; its name is the digest of its bytes
//   ingest/<random>      a blob being written
//
// A write streams into ingest/ while hashing, is fsynced, compared with the
// expected digest (when the caller knows it) and only then renamed into
// blobs/: a blob that is visible is complete and correct. A mismatch leaves
// nothing behind. Writes of the same blob may race; the renames replace one
// complete copy with another.
//
// Everything here blocks: call it from the worker pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::storage {

// "sha256:" followed by 64 lowercase hex digits.
bool is_digest(std::string_view s);
// The hex part of a digest ("sha256:ab12…" -> "ab12…").
std::string_view digest_hex(std::string_view digest);

struct blob_info {
    std::string digest;  // "sha256:<hex>"
    std::uint64_t size = 0;
    bool created = false;  // false when the store already held the blob
};

// Streams a file through sha256: its digest and size.
result<blob_info> digest_file(const std::string& path);

class content_store {
public:
    explicit content_store(std::string root);

    // Creates blobs/sha256 and ingest; removes leftovers in ingest (call only
    // while no write is in progress, i.e. at daemon start).
    status init();

    std::string blob_path(std::string_view digest) const;
    bool has(std::string_view digest) const;

    // Copies the file at src into the store. `expected` (may be empty) is the
    // digest the bytes must have: "blob sha256:…: digest mismatch (got sha256:…)".
    result<blob_info> write_file(const std::string& src, std::string_view expected = {});
    result<blob_info> write_bytes(std::string_view data, std::string_view expected = {});

    result<std::string> read(std::string_view digest) const;
    status remove(std::string_view digest);
    // Digests of every blob in the store.
    result<std::vector<std::string>> list() const;

    const std::string& root() const { return _root; }

private:
    std::string _root;
};

}  // namespace berth::storage
