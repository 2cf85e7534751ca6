// Docker's container list (GET /containers/json): the `filters` parameter
// and the all/limit/before/since rules, as moby's daemon/list.go applies them.
//
// Vocabulary:
//   filter_args       the parsed `filters` parameter: key -> set of values,
//                     from either of Docker's encodings ({"k":{"v":true}} or
//                     the older {"k":["v"]}). Values within a key are
//                     alternatives (except label: all must hold); keys combine
//                     with AND.
//   container_filter  filter_args checked as Docker checks them and resolved
//                     against the state at the time of the list (image
//                     references to ids, before/since to containers).
//
// Lifecycle: make() once per request, on the loop, with the containers and
// an image resolver; then select() (or matches() per container). Pure: no
// I/O, nothing blocks.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"

namespace berth {

using filter_args = std::map<std::string, std::set<std::string>>;

// Parses Docker's `filters` query parameter; "" is no filter. Keys are not
// checked here (container_filter::make does).
result<filter_args> parse_filter_args(std::string_view text);

// Docker's State string for a container: created, restarting, running,
// paused, removing, exited or dead.
std::string container_state(const container& c);
// Docker's State.Running: true while running, paused or restarting.
bool container_running(const container& c);

struct container_list_options {
    bool all = false;
    int limit = -1;              // > 0: at most this many, stopped ones included
    std::string before, since;   // the deprecated query parameters of the same name
    filter_args filters;
};

class container_filter {
public:
    // An image reference (name[:tag], full or short id) to its image id.
    using image_resolver = std::function<result<std::string>(std::string_view ref)>;

    // Checks keys and values with Docker's messages (`Invalid filter 'foo'`,
    // `Invalid filter 'status=foo'`, `Unrecognised filter value for health:
    // foo`) and resolves before/since among `containers` (a name or an id
    // prefix; `No such container: x` otherwise).
    static result<container_filter> make(const container_list_options& o, const std::vector<container_ptr>& containers,
                                         const image_resolver& resolve_image);

    // The per-container conditions: the all rule (a stopped container is
    // listed only with all, a status filter or a limit) and every filter key.
    bool matches(const container& c) const;

    // Docker's list from the containers newest first: those before the
    // `before` container are skipped, the list stops at the `since`
    // container, then matches() and the limit.
    std::vector<container_ptr> select(const std::vector<container_ptr>& newest_first) const;

private:
    bool _all = false;
    int _limit = -1;
    filter_args _f;
    std::vector<std::regex> _names;  // the name values that compile; Docker skips the others
    std::vector<std::string> _ids;   // full ids of the unambiguous id prefixes
    std::vector<int> _exited;
    std::set<std::string> _images;   // ancestor: the ids the references resolved to
    std::optional<bool> _is_task;
    std::string _before_id, _since_id;
};

}  // namespace berth
