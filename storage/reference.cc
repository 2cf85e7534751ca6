// Image references, normalized the way Docker's distribution/reference
// package does (ParseNormalizedNamed, then FamiliarString for display):
//
//   reference   := name [ ":" tag ] [ "@" digest ]
//   name        := [ domain "/" ] path-component [ "/" path-component ]*
//   domain      := host [ ":" port ]   (first component only, and only if it
//                  holds '.' or ':', is "localhost" or has upper case)
//   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest      := "sha256:" 64 lowercase hex digits
//
// Without a domain the name lives on docker.io, and a one-component name
// there is under library/. For display both prefixes are dropped again:
// "docker.io/library/busybox" shows as "busybox", "docker.io/fx/a" as "fx/a".
#include <string>
#include <string_view>

#include "base/util.h"
#include "storage/content.h"
#include "storage/images.h"

namespace berth::storage {

namespace {

constexpr std::string_view default_domain = "docker.io";
constexpr std::string_view legacy_default_domain = "index.docker.io";
constexpr std::string_view official_prefix = "library/";
constexpr std::size_t max_name_length = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool valid_path_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    std::size_t i = 0;
    while (i < c.size()) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-", always between alnums.
        std::size_t start = i;
        if (c[i] == '.') {
            ++i;
        } else if (c[i] == '_') {
            ++i;
            if (i < c.size() && c[i] == '_') ++i;
        } else if (c[i] == '-') {
            while (i < c.size() && c[i] == '-') ++i;
        } else {
            return false;
        }
        if (i == start || i >= c.size() || !is_lower_alnum(c[i])) return false;
    }
    return true;
}

bool valid_domain_component(std::string_view c) {
    if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
    for (char ch : c)
        if (!is_alnum(ch) && ch != '-') return false;
    return true;
}

bool valid_domain(std::string_view d) {
    std::string_view host = d;
    if (!d.empty() && d.front() == '[') {
        // An IPv6 literal: "[" hex and colons "]" then an optional port.
        std::size_t close = d.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        for (char c : d.substr(1, close - 1))
            if (!is_hex(c) && c != ':') return false;
        std::string_view rest = d.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':' || rest.size() < 2) return false;
        for (char c : rest.substr(1))
            if (!is_digit(c)) return false;
        return true;
    }
    std::size_t colon = d.find(':');
    if (colon != std::string_view::npos) {
        std::string_view port = d.substr(colon + 1);
        if (port.empty()) return false;
        for (char c : port)
            if (!is_digit(c)) return false;
        host = d.substr(0, colon);
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t dot = host.find('.', start);
        if (!valid_domain_component(host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128) return false;
    auto word = [](char c) { return is_alnum(c) || c == '_'; };
    if (!word(t.front())) return false;
    for (char c : t.substr(1))
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

error bad(std::string_view ref, std::string_view why) {
    return make_error(errc::invalid_argument, "invalid reference \"" + std::string(ref) + "\": " + std::string(why));
}

}  // namespace

result<std::string> normalize_reference(std::string_view ref) {
    if (ref.empty()) return make_error(errc::invalid_argument, "invalid reference \"\": empty");
    if (ref.size() == 64) {
        bool all_hex = true;
        for (char c : ref) all_hex = all_hex && (is_digit(c) || (c >= 'a' && c <= 'f'));
        if (all_hex) return bad(ref, "cannot specify 64-byte hexadecimal strings");
    }

    // The domain is split off before tag and digest, as Docker does: the
    // first component is a domain only if it cannot be a repository path.
    std::string_view domain = default_domain;
    std::string_view rest = ref;
    std::size_t slash = ref.find('/');
    if (slash != std::string_view::npos) {
        std::string_view first = ref.substr(0, slash);
        bool has_upper = false;
        for (char c : first) has_upper = has_upper || (c >= 'A' && c <= 'Z');
        if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper) {
            domain = first;
            rest = ref.substr(slash + 1);
        }
    }
    if (domain == legacy_default_domain) domain = default_domain;
    if (!valid_domain(domain)) return bad(ref, "invalid registry host");

    std::string_view digest;
    if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
        digest = rest.substr(at + 1);
        rest = rest.substr(0, at);
        if (!is_digest(digest)) return bad(ref, "invalid digest");
    }
    std::string_view tag;
    if (std::size_t colon = rest.find(':'); colon != std::string_view::npos) {
        tag = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (!valid_tag(tag)) return bad(ref, "invalid tag");
    }
    for (char c : rest)
        if (c >= 'A' && c <= 'Z') return bad(ref, "repository name must be lowercase");
    if (rest.empty()) return bad(ref, "empty repository name");

    std::string path(rest);
    if (domain == default_domain && path.find('/') == std::string::npos) path = std::string(official_prefix) + path;
    std::size_t start = 0;
    for (;;) {
        std::size_t s = path.find('/', start);
        std::string_view comp = std::string_view(path).substr(start, s == std::string::npos ? s : s - start);
        if (comp.empty()) return bad(ref, "empty path component");
        if (!valid_path_component(comp)) return bad(ref, "invalid repository name");
        if (s == std::string::npos) break;
        start = s + 1;
    }
    if (domain.size() + 1 + path.size() > max_name_length)
        return bad(ref, "repository name must not be more than 255 characters");

    // The familiar form: docker.io/ and docker.io/library/ are implied.
    std::string out;
    if (domain == default_domain) {
        out = path;
        if (starts_with(out, official_prefix) && out.find('/', official_prefix.size()) == std::string::npos)
            out.erase(0, official_prefix.size());
    } else {
        out = std::string(domain) + "/" + path;
    }
    if (!tag.empty()) {
        out += ':';
        out += tag;
    } else if (digest.empty()) {
        out += ":latest";
    }
    if (!digest.empty()) {
        out += '@';
        out += digest;
    }
    return out;
}

}  // namespace berth::storage
