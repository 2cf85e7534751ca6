#include "cli/format.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include "base/util.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

// Go's "no value" (an invalid reflect.Value) is nullopt.
using value = std::optional<json::value>;

struct operand {
    enum kind_t { field, string_lit, number, ident } kind = field;
    std::vector<std::string> path;  // field: its components; empty is the dot itself
    std::string text;               // the literal string, the identifier, or the source text
    std::int64_t num = 0;
    std::size_t pos = 0;            // byte offset in the template
};

struct command {
    std::vector<operand> ops;
    std::string text;
    std::size_t pos = 0;
};

struct node {
    bool is_text = true;
    std::string text;               // text node: the text; action: its source
    std::vector<command> pipeline;  // action
};

const std::set<std::string, std::less<>> functions = {"json",     "join", "split", "lower", "upper", "title",
                                                      "pad",      "truncate", "len", "index"};
const std::set<std::string, std::less<>> keywords = {"range", "if",    "with",     "end",   "else", "define",
                                                     "block", "template", "break", "continue", "nil"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string go_type(const value& v) {
    if (!v) return "<nil>";
    switch (v->kind()) {
    case json::kind::string: return "string";
    case json::kind::object: return "map[string]interface {}";
    case json::kind::array: return "[]interface {}";
    case json::kind::bool_: return "bool";
    case json::kind::null: return "<nil>";
    default: return "float64";
    }
}

std::string text_of(const value& v) {
    if (!v) return "<no value>";
    return go_value_text(*v);
}

std::size_t line_of(std::string_view src, std::size_t pos) {
    return 1 + static_cast<std::size_t>(std::count(src.begin(), src.begin() + std::min(pos, src.size()), '\n'));
}

// Go's ErrorContext column: the byte offset within the line, from 0.
std::size_t column_of(std::string_view src, std::size_t pos) {
    pos = std::min(pos, src.size());
    auto nl = src.rfind('\n', pos == 0 ? 0 : pos - 1);
    if (nl == std::string_view::npos || nl >= pos) return pos;
    return pos - nl - 1;
}

}  // namespace

struct go_template::impl {
    std::string src;
    std::vector<node> nodes;
    std::set<std::string, std::less<>> fields_read;  // "." when the whole dot is read

    error parse_error(std::size_t pos, const std::string& msg) const {
        return make_error(errc::invalid_argument, "template: :" + std::to_string(line_of(src, pos)) + ": " + msg);
    }
    error exec_error(std::size_t pos, std::string_view at, const std::string& msg) const {
        return make_error(errc::invalid_argument, "template: :" + std::to_string(line_of(src, pos)) + ":" +
                                                      std::to_string(column_of(src, pos)) + ": executing \"\" at <" +
                                                      std::string(at) + ">: " + msg);
    }

    status parse_action(std::size_t begin, std::size_t end, node& n);
    result<value> eval_command(const command& cmd, const template_data& data, const value* piped, bool header) const;
    result<value> eval_field(const operand& op, const template_data& data, std::string_view at) const;
    result<value> call(const command& cmd, const std::string& fn, std::vector<value> args, bool header) const;
};

status go_template::impl::parse_action(std::size_t begin, std::size_t end, node& n) {
    std::string_view s(src);
    command cur;
    bool cmd_started = false;
    auto finish_command = [&](std::size_t at) -> status {
        if (cur.ops.empty()) return parse_error(at, "missing value for command");
        cur.text = std::string(trim(s.substr(cur.pos, at - cur.pos)));
        n.pipeline.push_back(std::move(cur));
        cur = command{};
        cmd_started = false;
        return ok();
    };
    std::size_t i = begin;
    while (i < end) {
        char c = s[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        if (!cmd_started) {
            cur.pos = i;
            cmd_started = true;
        }
        operand op;
        op.pos = i;
        if (c == '|') {
            BERTH_TRY(finish_command(i));
            ++i;
            continue;
        }
        if (c == '.') {
            std::size_t j = i + 1;
            while (j < end && (is_ident_char(s[j]) || s[j] == '.')) ++j;
            op.kind = operand::field;
            op.text = std::string(s.substr(i, j - i));
            if (op.text != ".") {
                for (auto& part : split(std::string_view(op.text).substr(1), '.')) {
                    if (part.empty() || std::isdigit(static_cast<unsigned char>(part[0])))
                        return parse_error(i, "bad field " + op.text);
                    op.path.push_back(part);
                }
            }
            fields_read.insert(op.path.empty() ? std::string(".") : op.path[0]);
            i = j;
        } else if (c == '"' || c == '`') {
            std::size_t j = i + 1;
            std::string lit;
            bool closed = false;
            while (j < end) {
                char d = s[j];
                if (d == c) {
                    closed = true;
                    ++j;
                    break;
                }
                if (c == '"' && d == '\\' && j + 1 < end) {
                    char e = s[j + 1];
                    switch (e) {
                    case 'n': lit += '\n'; break;
                    case 't': lit += '\t'; break;
                    case 'r': lit += '\r'; break;
                    case '\\': lit += '\\'; break;
                    case '"': lit += '"'; break;
                    default: return parse_error(j, "invalid syntax in string " + std::string(s.substr(i, end - i)));
                    }
                    j += 2;
                    continue;
                }
                lit += d;
                ++j;
            }
            if (!closed) return parse_error(i, "unterminated quoted string");
            op.kind = operand::string_lit;
            op.text = std::move(lit);
            i = j;
        } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '-' && i + 1 < end && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
            std::size_t j = i + 1;
            while (j < end && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            auto [p, ec] = std::from_chars(s.data() + i, s.data() + j, op.num);
            if (ec != std::errc() || p != s.data() + j) return parse_error(i, "bad number syntax");
            op.kind = operand::number;
            op.text = std::string(s.substr(i, j - i));
            i = j;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t j = i;
            while (j < end && is_ident_char(s[j])) ++j;
            op.kind = operand::ident;
            op.text = std::string(s.substr(i, j - i));
            if (keywords.count(op.text))
                return parse_error(i, "unsupported action \"" + op.text +
                                          "\" (berth's templates have fields, methods, functions and pipelines)");
            if (!functions.count(op.text)) return parse_error(i, "function \"" + op.text + "\" not defined");
            i = j;
        } else {
            return parse_error(i, std::string("unexpected \"") + c + "\" in command");
        }
        if (op.kind == operand::ident && !cur.ops.empty())
            return parse_error(op.pos, "function \"" + op.text + "\" used as an argument; use a pipeline instead");
        cur.ops.push_back(std::move(op));
    }
    return finish_command(end);
}

result<value> go_template::impl::eval_field(const operand& op, const template_data& data, std::string_view at) const {
    value cur = data.dot;
    bool root = true;
    for (const auto& part : op.path) {
        if (!cur) return value{};  // a field of "no value" is no value
        const json::object* o = cur->if_object();
        if (!o) {
            if (cur->is_null()) return value{};
            return exec_error(op.pos, at, "can't evaluate field " + part + " in type " +
                                              (root && !data.type_name.empty() ? std::string("string") : go_type(cur)));
        }
        const json::value* next = o->if_contains(part);
        if (!next) {
            if (root && !data.type_name.empty())
                return exec_error(op.pos, at, "can't evaluate field " + part + " in type " + data.type_name);
            return value{};
        }
        cur = *next;
        root = false;
    }
    return cur;
}

result<value> go_template::impl::call(const command& cmd, const std::string& fn, std::vector<value> args,
                                      bool header) const {
    auto wrong_count = [&](std::size_t want) {
        return exec_error(cmd.pos, cmd.text, "wrong number of args for " + fn + ": want " + std::to_string(want) +
                                                 " got " + std::to_string(args.size()));
    };
    auto need_string = [&](std::size_t i) -> result<std::string> {
        if (!args[i] || !args[i]->is_string())
            return exec_error(cmd.pos, cmd.text, "wrong type for value; expected string; got " + go_type(args[i]));
        return std::string(args[i]->get_string());
    };
    auto need_int = [&](std::size_t i) -> result<std::int64_t> {
        if (!args[i] || !args[i]->is_number())
            return exec_error(cmd.pos, cmd.text, "wrong type for value; expected int; got " + go_type(args[i]));
        return args[i]->to_number<std::int64_t>();
    };
    static const std::map<std::string, std::size_t, std::less<>> arity = {
        {"json", 1}, {"join", 2}, {"split", 2}, {"lower", 1}, {"upper", 1},
        {"title", 1}, {"pad", 3}, {"truncate", 2}, {"len", 1}, {"index", 2}};
    if (args.size() != arity.at(fn)) return wrong_count(arity.at(fn));
    if (header) {
        // docker's HeaderFunctions: each returns its (string) first argument.
        BERTH_ASSIGN(std::string s, need_string(0));
        return value(json::value(s));
    }
    if (fn == "json") return value(json::value(args[0] ? compact_json(*args[0]) : std::string("null")));
    if (fn == "lower" || fn == "upper" || fn == "title") {
        BERTH_ASSIGN(std::string s, need_string(0));
        bool word_start = true;
        for (auto& ch : s) {
            unsigned char u = static_cast<unsigned char>(ch);
            if (fn == "lower") ch = static_cast<char>(std::tolower(u));
            else if (fn == "upper") ch = static_cast<char>(std::toupper(u));
            else {
                if (word_start && std::isalpha(u)) ch = static_cast<char>(std::toupper(u));
                word_start = !std::isalnum(u) && ch != '_' && ch != '\'';
            }
        }
        return value(json::value(s));
    }
    if (fn == "join") {
        BERTH_ASSIGN(std::string sep, need_string(1));
        if (!args[0] || !args[0]->is_array())
            return exec_error(cmd.pos, cmd.text, "wrong type for value; expected []string; got " + go_type(args[0]));
        std::string out;
        bool first = true;
        for (const auto& e : args[0]->get_array()) {
            if (!first) out += sep;
            first = false;
            out += go_value_text(e);
        }
        return value(json::value(out));
    }
    if (fn == "split") {
        BERTH_ASSIGN(std::string s, need_string(0));
        BERTH_ASSIGN(std::string sep, need_string(1));
        json::array out;
        if (sep.empty()) {
            for (char ch : s) out.emplace_back(std::string(1, ch));
        } else {
            std::size_t start = 0;
            for (;;) {
                auto p = s.find(sep, start);
                out.emplace_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
                if (p == std::string::npos) break;
                start = p + sep.size();
            }
        }
        return value(json::value(out));
    }
    if (fn == "pad") {
        BERTH_ASSIGN(std::string s, need_string(0));
        BERTH_ASSIGN(std::int64_t before, need_int(1));
        BERTH_ASSIGN(std::int64_t after, need_int(2));
        return value(json::value(std::string(std::size_t(std::max<std::int64_t>(before, 0)), ' ') + s +
                                 std::string(std::size_t(std::max<std::int64_t>(after, 0)), ' ')));
    }
    if (fn == "truncate") {
        BERTH_ASSIGN(std::string s, need_string(0));
        BERTH_ASSIGN(std::int64_t n, need_int(1));
        if (n < 0 || std::size_t(n) >= s.size()) return value(json::value(s));
        return value(json::value(s.substr(0, std::size_t(n))));
    }
    if (fn == "len") {
        if (args[0] && args[0]->is_string()) return value(json::value(std::int64_t(args[0]->get_string().size())));
        if (args[0] && args[0]->is_array()) return value(json::value(std::int64_t(args[0]->get_array().size())));
        if (args[0] && args[0]->is_object()) return value(json::value(std::int64_t(args[0]->get_object().size())));
        return exec_error(cmd.pos, cmd.text, "error calling len: len of type " + go_type(args[0]));
    }
    // index
    if (args[0] && args[0]->is_array() && args[1] && args[1]->is_number()) {
        auto i = args[1]->to_number<std::int64_t>();
        const auto& a = args[0]->get_array();
        if (i < 0 || std::size_t(i) >= a.size())
            return exec_error(cmd.pos, cmd.text, "error calling index: index out of range: " + std::to_string(i));
        return value(a[std::size_t(i)]);
    }
    if (args[0] && args[0]->is_object() && args[1] && args[1]->is_string()) {
        const json::value* v = args[0]->get_object().if_contains(args[1]->get_string());
        return v ? value(*v) : value{};
    }
    return exec_error(cmd.pos, cmd.text, "error calling index: can't index item of type " + go_type(args[0]));
}

result<value> go_template::impl::eval_command(const command& cmd, const template_data& data, const value* piped,
                                              bool header) const {
    const operand& head = cmd.ops.front();
    auto eval_arg = [&](const operand& op) -> result<value> {
        switch (op.kind) {
        case operand::field:
            if (op.path.size() == 1 && data.methods.count(op.path[0]))
                return exec_error(op.pos, op.text, "wrong number of args for " + op.path[0] + ": want 1 got 0");
            return eval_field(op, data, op.text);
        case operand::string_lit: return value(json::value(op.text));
        case operand::number: return value(json::value(op.num));
        case operand::ident: break;
        }
        return exec_error(op.pos, op.text, "function used as a value");
    };
    if (head.kind == operand::ident) {
        std::vector<value> args;
        for (std::size_t i = 1; i < cmd.ops.size(); ++i) {
            BERTH_ASSIGN(value v, eval_arg(cmd.ops[i]));
            args.push_back(std::move(v));
        }
        if (piped) args.push_back(*piped);
        return call(cmd, head.text, std::move(args), header);
    }
    bool has_args = cmd.ops.size() > 1 || piped;
    if (head.kind == operand::field && head.path.size() == 1) {
        auto m = data.methods.find(head.path[0]);
        if (m != data.methods.end()) {
            std::vector<json::value> args;
            for (std::size_t i = 1; i < cmd.ops.size(); ++i) {
                BERTH_ASSIGN(value v, eval_arg(cmd.ops[i]));
                args.push_back(v ? *v : json::value(nullptr));
            }
            if (piped) args.push_back(*piped ? **piped : json::value(nullptr));
            auto r = m->second(args);
            if (!r) return exec_error(head.pos, cmd.text, "error calling " + head.path[0] + ": " + r.err().message);
            return value(std::move(*r));
        }
    }
    if (has_args) {
        if (head.kind == operand::field && !head.path.empty())
            return exec_error(head.pos, cmd.text, head.path.back() + " is not a method but has arguments");
        return exec_error(head.pos, cmd.text, "can't give argument to non-function " + head.text);
    }
    return eval_arg(head);
}

go_template::go_template() : _p(std::make_unique<impl>()) {}
go_template::~go_template() = default;
go_template::go_template(go_template&&) noexcept = default;
go_template& go_template::operator=(go_template&&) noexcept = default;

result<go_template> go_template::parse(std::string_view text) {
    go_template t;
    impl& p = *t._p;
    p.src = std::string(text);
    std::string_view s(p.src);
    std::size_t pos = 0;
    bool trim_next = false;
    while (pos < s.size()) {
        std::size_t open = s.find("{{", pos);
        std::string literal(s.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
        if (trim_next) literal.erase(0, literal.find_first_not_of(" \t\r\n") == std::string::npos
                                            ? literal.size()
                                            : literal.find_first_not_of(" \t\r\n"));
        trim_next = false;
        if (open == std::string_view::npos) {
            if (!literal.empty()) p.nodes.push_back({true, std::move(literal), {}});
            break;
        }
        std::size_t begin = open + 2;
        // "{{- " trims the space before the action.
        if (begin + 1 < s.size() && s[begin] == '-' && is_space(s[begin + 1])) {
            auto last = literal.find_last_not_of(" \t\r\n");
            literal.erase(last == std::string::npos ? 0 : last + 1);
            begin += 2;
        }
        if (!literal.empty()) p.nodes.push_back({true, std::move(literal), {}});
        // The closing "}}", outside quoted strings.
        std::size_t close = std::string_view::npos;
        char quote = 0;
        for (std::size_t i = begin; i + 1 < s.size(); ++i) {
            char c = s[i];
            if (quote) {
                if (c == '\\' && quote == '"') ++i;
                else if (c == quote) quote = 0;
                continue;
            }
            if (c == '"' || c == '`') quote = c;
            else if (c == '}' && s[i + 1] == '}') {
                close = i;
                break;
            }
        }
        if (close == std::string_view::npos) return p.parse_error(open, "unclosed action");
        std::size_t end = close;
        // " -}}" trims the space after it.
        if (end >= begin + 2 && s[end - 1] == '-' && is_space(s[end - 2])) {
            end -= 2;
            trim_next = true;
        }
        node n;
        n.is_text = false;
        n.text = std::string(s.substr(open, close + 2 - open));
        BERTH_TRY(p.parse_action(begin, end, n));
        p.nodes.push_back(std::move(n));
        pos = close + 2;
    }
    return t;
}

status go_template::execute(const template_data& data, std::string& out, bool header) const {
    for (const auto& n : _p->nodes) {
        if (n.is_text) {
            out += n.text;
            continue;
        }
        value v;
        bool have = false;
        for (const auto& cmd : n.pipeline) {
            auto r = _p->eval_command(cmd, data, have ? &v : nullptr, header);
            if (!r) return r.err();
            v = std::move(*r);
            have = true;
        }
        out += text_of(v);
    }
    return ok();
}

bool go_template::reads(std::string_view name) const {
    return _p->fields_read.count(name) > 0 || _p->fields_read.count(".") > 0;
}

docker_format parse_docker_format(std::string_view format) {
    docker_format f;
    std::string_view s = format;
    if (starts_with(s, "table")) {
        f.table = true;
        s.remove_prefix(5);
    }
    if (f.table) {  // strings.Trim(format, " "): spaces only
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    }
    std::string text(s);
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 't' || text[i + 1] == 'n')) {
            out += text[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else {
            out += text[i];
        }
    }
    f.text = std::move(out);
    return f;
}

result<std::string> render_rows(const docker_format& format, const std::vector<template_data>& rows,
                                const template_data& header_data) {
    auto t = go_template::parse(format.text);
    if (!t) return make_error(errc::invalid_argument, "template parsing error: " + t.err().message);
    std::string body;
    for (const auto& row : rows) {
        if (auto r = t->execute(row, body); !r)
            return make_error(errc::invalid_argument, "template parsing error: " + r.err().message);
        body += '\n';
    }
    if (!format.table) return body;
    // The header is what the template prints on the header data, up to any
    // error (docker ignores it).
    std::string all;
    (void)t->execute(header_data, all, true);
    all += '\n';
    all += body;
    std::vector<std::vector<std::string>> cells;
    std::size_t start = 0;
    while (start < all.size()) {
        auto nl = all.find('\n', start);
        if (nl == std::string::npos) nl = all.size();
        cells.push_back(split(std::string_view(all).substr(start, nl - start), '\t'));
        start = nl + 1;
    }
    return format_table(cells);
}

}  // namespace berth::cli
