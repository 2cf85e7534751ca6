#include "base/detach_keys.h"

#include "base/util.h"

namespace berth {

result<std::string> parse_detach_keys(std::string_view spec) {
    if (spec.empty()) spec = "ctrl-p,ctrl-q";
    std::string out;
    for (auto key : split(spec, ',')) {
        if (key.size() == 1) {
            out += key[0];
            continue;
        }
        if (key.size() == 6 && starts_with(key, "ctrl-")) {
            char c = key[5];
            if (c >= 'a' && c <= 'z') {
                out += static_cast<char>(c - 'a' + 1);
                continue;
            }
            if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_') {
                out += static_cast<char>(c - '@');
                continue;
            }
        }
        return make_error(errc::invalid_argument, "Unknown character: '" + std::string(key) + "'");
    }
    if (out.empty()) return make_error(errc::invalid_argument, "invalid detach keys: empty sequence");
    return out;
}

std::string escape_matcher::feed(std::string_view in, bool& detached) {
    std::string out;
    for (char c : in) {
        if (c == _seq[_matched]) {
            if (++_matched == _seq.size()) {
                detached = true;
                _matched = 0;
                return out;
            }
            continue;
        }
        // A failed partial match: its bytes were ordinary input. The current
        // byte may itself begin a new match.
        out.append(_seq, 0, _matched);
        _matched = 0;
        if (c == _seq[0]) {
            if (_seq.size() == 1) {
                detached = true;
                return out;
            }
            _matched = 1;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace berth
