#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "web/tls.h"

namespace sendense::web {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

struct HttpLimits {
  size_t header_bytes = 8 * 1024;
  size_t body_bytes = 1024 * 1024;
  // A request must arrive whole within request_time of its first byte;
  // a connection may wait idle_time for that first byte (over TLS, which
  // may hold a request unseen by the socket, the two make one window).
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

// Answers a request from the client at IP address `peer`.
using Handler =
    std::function<Response(const Request&, const std::string& peer)>;

// A small HTTP/1.1 server: one thread per connection (bounded), keep-alive,
// limits on header and body size, request and idle time, and connections
// (past the limit, every connection is answered 503, at any count).
// A reaper thread cuts off requests past their deadline (408), so a client
// sending a byte now and then cannot hold a connection.
class HttpServer {
 public:
  // Listens on `address:port` (port 0: any free port), over TLS when
  // `tls` is given (Error kInvalidArgument when its files do not load).
  HttpServer(const std::string& address,
             uint16_t port,
             const HttpLimits& limits,
             Handler handler,
             std::optional<TlsFiles> tls = std::nullopt);
  ~HttpServer();  // Stop()

  uint16_t port() const { return port_; }
  void Stop();
  // Loads the TLS files again (SIGHUP): new connections get the new
  // certificate; on an error the one in use is kept. False without TLS or
  // on an error (logged).
  bool ReloadTls();

 private:
  using Clock = std::chrono::steady_clock;
  std::shared_ptr<boost::asio::ssl::context> CurrentTls();
  void Accept();
  void Reap();
  void Serve(boost::asio::ip::tcp::socket socket);
  // Answers 503 to every connection past max_connections, on one thread:
  // the reply goes out at once, then each connection is drained until its
  // client closes or kRefuseLinger passes (closing with unread request
  // bytes would reset the reply away).
  void RefuseLoop();
  void SetDeadline(int fd, Clock::time_point deadline);
  bool Expired(int fd);

  HttpLimits limits_;
  Handler handler_;
  std::optional<TlsFiles> tls_files_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // under mutex_
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  size_t connections_ = 0;  // under mutex_
  // Connections past the limit, handed to the refuser (under mutex_), and
  // a pipe that wakes it.
  std::vector<int> to_refuse_;
  int refuse_wake_[2] = {-1, -1};
  // Open connections and the time their request must be in by
  // (time_point::max() while none is being received).
  std::map<int, Clock::time_point> deadlines_;
  std::map<int, bool> expired_;
  std::thread acceptor_thread_;
  std::thread reaper_thread_;
  std::thread refuser_thread_;
};

}  // namespace sendense::web
