// Precompiled for the engine target: Asio and Boost.JSON are heavy.
#pragma once
#include <boost/asio.hpp>
#include <boost/json.hpp>
