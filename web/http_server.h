#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/worker_pool.h"

namespace sendense::web {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

struct HttpLimits {
  size_t header_bytes = 8 * 1024;
  size_t body_bytes = 1024 * 1024;
  // A request must arrive whole within request_time of its first byte;
  // a connection may wait idle_time for that first byte. Each write of a
  // reply must go out within request_time.
  std::chrono::seconds request_time{30};
  std::chrono::seconds idle_time{60};
  size_t max_connections = 128;
};

// A reply: a body, or `stream` writing `length` bytes in chunks with
// `write` (a download).
struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // kUnknownLength: sent in chunks (HTTP/1.1) or ended by the connection
  // (HTTP/1.0); a stream that throws resets the connection either way.
  uint64_t length = 0;
  static constexpr uint64_t kUnknownLength = ~uint64_t{0};
  std::function<void(const std::function<void(const char*, size_t)>& write)>
      stream;
};

using Handler = std::function<Response(const Request&)>;

// A small HTTP/1.1 server, Beast over asio: one listener accepting on the
// I/O threads, one session type per connection (keep-alive, limits on
// header and body size), and one expiry mechanism: each read and each
// write of a session runs under its deadline (idle time for a request's
// first byte, then request time for the whole request; request time per
// write), after which it is cancelled: a request cut off is answered 408,
// so a client sending a byte now and then cannot hold a connection.
// Handlers may block (an appliance starting, a download): each request
// runs on a handler thread (one per connection at most), its reply written
// through the session. Past max_connections every connection is answered
// 503 at once, at any count, and drained before it is closed.
class HttpServer {
 public:
  // Listens on `address:port` (port 0: any free port).
  HttpServer(const std::string& address,
             uint16_t port,
             const HttpLimits& limits,
             Handler handler);
  ~HttpServer();  // Stop()

  uint16_t port() const { return port_; }
  void Stop();

 private:
  class Session;
  void Accept();
  void Forget(Session* session, bool counted);

  const HttpLimits limits_;
  const Handler handler_;
  // Declared before the I/O context: sessions it still holds at its
  // destruction find them.
  std::mutex mutex_;
  std::condition_variable idle_;
  size_t connections_ = 0;                               // under mutex_
  std::map<Session*, std::weak_ptr<Session>> sessions_;  // under mutex_
  std::atomic<bool> stopping_{false};
  WorkerPool handlers_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::thread> io_threads_;
};

}  // namespace sendense::web
