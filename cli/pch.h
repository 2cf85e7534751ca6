// Precompiled for the CLI target: CLI11 and Boost.JSON are in most commands.
#pragma once
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <string>
#include <vector>
