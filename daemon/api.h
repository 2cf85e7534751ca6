// The Docker Engine API (1.41) served on a UNIX socket.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "engine/core/async.h"

namespace berth {

class engine;

class api_server {
public:
    api_server(asio::io_context& loop, engine& eng);
    ~api_server();
    // Binds and listens (blocks briefly); the socket file is mode 0660.
    status listen(const std::string& path);
    void start();

private:
    struct impl;
    std::unique_ptr<impl> _p;
};

}  // namespace berth
