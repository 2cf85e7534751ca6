// The --format flags of berth's commands: a subset of Go's text/template
// (what docker users write) and docker's formatter conventions on top of it
// ("table" prefix, \t and \n escapes, headers, tabwriter columns).
//
// Template language supported:
//   text                     copied as is
//   {{.}} {{.A.B}}           the dot, fields of JSON objects
//   {{.Label "k"}}           a method of the dot (template_data::methods)
//   {{json .A}}              functions: json, join, split, lower, upper, title,
//                            pad, truncate, len, index (docker's basicFunctions
//                            and two Go builtins)
//   {{.A | json}}            pipelines: the value becomes the last argument
//   {{- .A -}}               trim markers
// Anything else (range, if, with, variables, parentheses) is a parse error.
//
// A missing key of a map prints "<no value>" (Go's map semantics); a missing
// field of a typed dot (template_data::type_name set, as docker's
// *formatter.ContainerContext) is an execution error, as in docker.
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "base/error.h"

namespace berth::cli {

// What a template runs against.
struct template_data {
    using method = std::function<result<boost::json::value>(const std::vector<boost::json::value>& args)>;

    boost::json::value dot;
    // Go type name for errors about missing fields of the dot, e.g.
    // "*formatter.ContainerContext"; empty: the dot is a map.
    std::string type_name;
    // Methods of the dot that take arguments: {{.Label "com.example"}}.
    std::map<std::string, method, std::less<>> methods;
};

class go_template {
public:
    go_template();
    ~go_template();
    go_template(go_template&&) noexcept;
    go_template& operator=(go_template&&) noexcept;

    // Parses text; errors read like Go's ("template: :1: unclosed action").
    static result<go_template> parse(std::string_view text);

    // Runs the template, appending to out. On an execution error, out keeps
    // what was written before it (as Go's Execute does).
    // header: docker's HeaderFunctions (every function returns its first
    // argument, which must be a string), for table headers.
    status execute(const template_data& data, std::string& out, bool header = false) const;

    // True when the template reads the top-level field (or method) name, or
    // the whole dot (as {{json .}} does).
    bool reads(std::string_view name) const;

private:
    struct impl;
    std::unique_ptr<impl> _p;
};

// docker's formatter.Format: "table" prefix (stripped, then spaces trimmed)
// and the \t and \n escapes turned into tabs and newlines.
struct docker_format {
    bool table = false;
    std::string text;
};
docker_format parse_docker_format(std::string_view format);

// Renders rows as docker's formatter.Context does: each row's output then a
// newline; for a table, the header (the template run on header_data with
// header functions) first and all lines aligned as Go's tabwriter (min
// width 10, padding 3).
result<std::string> render_rows(const docker_format& format, const std::vector<template_data>& rows,
                                const template_data& header_data);

}  // namespace berth::cli
