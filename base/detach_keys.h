// Docker's detach keys: the byte sequence on an attached terminal's stdin
// that detaches the client and leaves the container running. Used by the
// daemon (attach, exec start) and by the CLI (run -it, attach, exec -it).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth {

// "ctrl-p,ctrl-q" (the default when spec is empty): comma-separated keys,
// each "ctrl-X" (X one of a-z @ [ \ ] ^ _) or a single character.
result<std::string> parse_detach_keys(std::string_view spec);

// Finds the sequence in a byte stream. Bytes of a partial match are held
// back until the match completes (detached, and they are dropped with
// everything after them) or fails (they are forwarded).
class escape_matcher {
public:
    explicit escape_matcher(std::string sequence) : _seq(std::move(sequence)) {}
    // Returns the bytes to forward; sets `detached` once the sequence is complete.
    std::string feed(std::string_view in, bool& detached);
    const std::string& sequence() const { return _seq; }

private:
    std::string _seq;
    std::size_t _matched = 0;
};

}  // namespace berth
