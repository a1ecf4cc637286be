// An io_context run by one thread until every object on it is stopped (the transport socket tests).
#pragma once
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

namespace pd::test {

struct IoThread {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
    std::thread thread{[this] { io.run(); }};
    ~IoThread()
    {
        guard.reset();
        thread.join();
    }
};

}  // namespace pd::test
