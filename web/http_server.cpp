#include "web/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/log.h"
#include "web/ui.h"

#include <boost/asio/ssl/stream.hpp>

namespace sendense::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

void SetTimeout(int fd, std::chrono::seconds s) {
  timeval tv{};
  tv.tv_sec = s.count();
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

template <typename Stream>
void WriteSimple(Stream& socket,
                 unsigned status,
                 const std::string& body,
                 bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "sendense");
  res.set(http::field::content_type, "application/json");
  AddSecurityHeaders(res.base());
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  beast::error_code ec;
  http::write(socket, res, ec);
}

// Closes a connection after an error reply without losing that reply. A
// close with unread request bytes makes the kernel answer RST, and the
// client then drops the reply it already has (a 413 for a long body, a 503
// for a request sent at once). So: half-close, read what the client still
// sends (bounded in time and bytes), then close.
void CloseAfterReply(tcp::socket& socket) {
  constexpr auto kLinger = std::chrono::seconds(2);
  constexpr size_t kMaxDrained = 64 * 1024 * 1024;
  const int fd = socket.native_handle();
  ::shutdown(fd, SHUT_WR);
  const auto until = std::chrono::steady_clock::now() + kLinger;
  char buf[16 * 1024];
  size_t drained = 0;
  while (drained < kMaxDrained) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 ||
        ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      break;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      break;  // the client closed (or went away)
    }
    drained += static_cast<size_t>(n);
  }
  beast::error_code ignored;
  socket.close(ignored);
}

// How a connection goes on after a reply.
enum class After {
  kKeepAlive,
  kClose,
  kReset,  // a body was cut short: the client must see an error, not an end
};

// Writes a body of unknown length as HTTP/1.1 chunks of up to 64 KiB, so
// that only the last chunk marks its end: a cut connection is an error to
// every client, never a shorter body.
template <typename Stream>
class ChunkWriter {
 public:
  explicit ChunkWriter(Stream& socket) : socket_(socket) {
    buf_.reserve(kChunk);
  }
  void Write(const char* data, size_t n) {
    while (n > 0) {
      const size_t take = std::min(n, kChunk - buf_.size());
      buf_.append(data, take);
      data += take;
      n -= take;
      if (buf_.size() == kChunk) {
        Flush();
      }
    }
  }
  void Finish() {
    Flush();
    asio::write(socket_, asio::buffer("0\r\n\r\n", 5));
  }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  void Flush() {
    if (buf_.empty()) {
      return;
    }
    char size[24];
    const int len = std::snprintf(size, sizeof size, "%zx\r\n", buf_.size());
    const std::array<asio::const_buffer, 3> parts{
        asio::buffer(size, static_cast<size_t>(len)), asio::buffer(buf_),
        asio::buffer("\r\n", 2)};
    asio::write(socket_, parts);
    buf_.clear();
  }
  Stream& socket_;
  std::string buf_;
};

// Writes `out` as the reply to `req` and says how the connection goes on
// (closed when the client asked, when an HTTP/1.0 body ends with the
// connection, or when writing failed).
template <typename Stream>
After WriteReply(Stream& socket, const Request& req, Response& out) {
  const bool keep_alive = req.keep_alive();
  http::response_header<> head;
  head.result(static_cast<http::status>(out.status));
  head.version(req.version());
  head.set(http::field::server, "sendense");
  head.set(http::field::content_type, out.content_type);
  AddSecurityHeaders(head);
  for (const auto& [k, v] : out.headers) {
    head.set(k, v);
  }
  beast::error_code ec;
  if (!out.stream) {
    // Head and body in one write: a small reply goes out as one segment.
    http::response<http::string_body> res{std::move(head)};
    res.keep_alive(keep_alive);
    res.body() = std::move(out.body);
    res.prepare_payload();
    if (req.method() == http::verb::head) {
      res.body().clear();  // Content-Length stays that of the GET
    }
    http::write(socket, res, ec);
    return !ec && keep_alive ? After::kKeepAlive : After::kClose;
  }
  const bool unknown_length = out.length == Response::kUnknownLength;
  const bool chunked = unknown_length && req.version() >= 11;
  const bool close_delimited = unknown_length && !chunked;
  http::response<http::empty_body> res{std::move(head)};
  res.keep_alive(keep_alive && !close_delimited);
  if (chunked) {
    res.chunked(true);
  } else if (!close_delimited) {
    res.content_length(out.length);
  }
  http::response_serializer<http::empty_body> sr{res};
  http::write_header(socket, sr, ec);
  if (ec) {
    return After::kClose;
  }
  if (req.method() != http::verb::head) {
    try {
      if (chunked) {
        ChunkWriter<Stream> chunks(socket);
        out.stream([&](const char* data, size_t n) { chunks.Write(data, n); });
        chunks.Finish();
      } else {
        out.stream([&](const char* data, size_t n) {
          asio::write(socket, asio::buffer(data, n));
        });
      }
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("download cut short: ") + e.what());
      return After::kReset;  // the body cannot be kept whole
    }
  }
  return keep_alive && !close_delimited ? After::kKeepAlive : After::kClose;
}

}  // namespace

HttpServer::HttpServer(const std::string& address,
                       uint16_t port,
                       const HttpLimits& limits,
                       Handler handler,
                       std::optional<TlsFiles> tls)
    : limits_(limits), handler_(std::move(handler)), acceptor_(io_) {
  if (tls) {
    tls_files_ = *tls;
    tls_ = ServerContext(*tls);  // a bad pair fails here, before listening
  }
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) {
    throw Error(ErrorKind::kInvalidArgument,
                "'" + address + "' is not an IP address");
  }
  tcp::endpoint endpoint(addr, port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint, ec);
  if (ec) {
    throw Error(ErrorKind::kInvalidArgument, "cannot listen on " + address +
                                                 ":" + std::to_string(port) +
                                                 ": " + ec.message());
  }
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  if (::pipe2(refuse_wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ThrowSystemError("cannot create a pipe");
  }
  refuser_thread_ = std::thread([this] { RefuseLoop(); });
  acceptor_thread_ = std::thread([this] { Accept(); });
  reaper_thread_ = std::thread([this] { Reap(); });
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  // shutdown() wakes the blocked accept(); the acceptor is closed only
  // once its thread is gone (closing under it is a race).
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  if (acceptor_thread_.joinable()) {
    acceptor_thread_.join();
  }
  beast::error_code ec;
  acceptor_.close(ec);
  {
    std::lock_guard lock(mutex_);
    for (const auto& [fd, deadline] : deadlines_) {
      ::shutdown(fd, SHUT_RDWR);  // wakes connection threads
    }
  }
  idle_.notify_all();
  if (reaper_thread_.joinable()) {
    reaper_thread_.join();
  }
  const char wake = 1;
  [[maybe_unused]] const auto ignored = ::write(refuse_wake_[1], &wake, 1);
  if (refuser_thread_.joinable()) {
    refuser_thread_.join();
  }
  ::close(refuse_wake_[0]);
  ::close(refuse_wake_[1]);
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return connections_ == 0; });
}

std::shared_ptr<boost::asio::ssl::context> HttpServer::CurrentTls() {
  std::lock_guard lock(mutex_);
  return tls_;
}

bool HttpServer::ReloadTls() {
  if (!tls_files_) {
    return false;
  }
  try {
    auto fresh = ServerContext(*tls_files_);
    std::lock_guard lock(mutex_);
    tls_ = std::move(fresh);
  } catch (const Error& e) {
    Log(LogLevel::kError,
        std::string(e.what()) + ": the certificate in use is kept");
    return false;
  }
  Log(LogLevel::kInfo, "TLS certificate reloaded from " + tls_files_->cert +
                           " (SHA-256 " +
                           CertificateFingerprint(tls_files_->cert) + ")");
  return true;
}

void HttpServer::Reap() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    idle_.wait_for(lock, std::chrono::milliseconds(200));
    const auto now = Clock::now();
    for (auto& [fd, deadline] : deadlines_) {
      if (deadline <= now) {
        ::shutdown(fd, SHUT_RD);  // the read fails; the reply can still go
        expired_[fd] = true;
        deadline = Clock::time_point::max();
      }
    }
  }
}

void HttpServer::SetDeadline(int fd, Clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  deadlines_[fd] = deadline;
}

bool HttpServer::Expired(int fd) {
  std::lock_guard lock(mutex_);
  return expired_.count(fd) != 0;
}

void HttpServer::Accept() {
  while (!stopping_) {
    tcp::socket socket(io_);
    beast::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec) {
      if (stopping_) {
        return;
      }
      continue;
    }
    bool full = false;
    {
      std::lock_guard lock(mutex_);
      full = connections_ >= limits_.max_connections;
      if (full) {
        to_refuse_.push_back(socket.release());
      }
    }
    if (full) {
      const char wake = 1;
      [[maybe_unused]] const auto ignored = ::write(refuse_wake_[1], &wake, 1);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);  // replies are not delayed
    std::lock_guard lock(mutex_);
    ++connections_;
    deadlines_[socket.native_handle()] = Clock::time_point::max();
    // Detached: Stop() waits for the count of connections to reach 0.
    std::thread([this, s = std::move(socket)]() mutable {
      Serve(std::move(s));
    }).detach();
  }
}

void HttpServer::RefuseLoop() {
  using std::chrono::milliseconds;
  constexpr auto kRefuseLinger = std::chrono::seconds(2);
  static const std::string reply = [] {
    http::response<http::string_body> res{http::status::service_unavailable,
                                          11};
    res.set(http::field::server, "sendense");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::retry_after, "1");
    AddSecurityHeaders(res.base());
    res.keep_alive(false);
    res.body() = R"({"error":"too many connections, try again"})";
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return out.str();
  }();
  struct Refused {
    int fd;
    Clock::time_point until;
  };
  std::vector<Refused> draining;
  while (true) {
    std::vector<int> fresh;
    {
      std::lock_guard lock(mutex_);
      fresh.swap(to_refuse_);
    }
    const auto now = Clock::now();
    for (const int fd : fresh) {
      // A new connection's send buffer takes the whole reply at once.
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_WR);
      draining.push_back({fd, now + kRefuseLinger});
    }
    if (stopping_) {
      break;
    }
    std::vector<pollfd> polls{{refuse_wake_[0], POLLIN, 0}};
    auto next = Clock::time_point::max();
    for (const auto& r : draining) {
      polls.push_back({r.fd, POLLIN, 0});
      next = std::min(next, r.until);
    }
    const int wait =
        draining.empty()
            ? -1
            : static_cast<int>(std::max<int64_t>(
                  0,
                  std::chrono::duration_cast<milliseconds>(next - now).count() +
                      1));
    ::poll(polls.data(), polls.size(), wait);
    if (polls[0].revents & POLLIN) {
      char buf[64];
      while (::read(refuse_wake_[0], buf, sizeof buf) > 0) {
      }
    }
    const auto later = Clock::now();
    std::vector<Refused> still;
    for (size_t i = 0; i < draining.size(); ++i) {
      bool done = later >= draining[i].until;
      if (!done && (polls[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[16 * 1024];
        const ssize_t n = ::recv(draining[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
      }
      if (done) {
        ::close(draining[i].fd);
      } else {
        still.push_back(draining[i]);
      }
    }
    draining.swap(still);
  }
  for (const auto& r : draining) {
    ::close(r.fd);
  }
}

void HttpServer::Serve(tcp::socket socket) {
  const int fd = socket.native_handle();
  boost::system::error_code peer_ec;
  const std::string peer =
      socket.remote_endpoint(peer_ec).address().to_string();
  bool unread = false;  // an error reply left request bytes unread
  After after = After::kClose;
  // Requests and replies on `stream` (the socket, or TLS over it) until
  // the connection ends.
  // `tls`: the TLS layer may hold a request it read with the handshake
  // or a record before, which a poll of the socket would not see; there
  // the idle time and the request time make one window.
  const auto exchange = [&](auto& stream, bool tls) {
    beast::flat_buffer buffer;
    while (!stopping_) {
      // The first byte may take the idle time; the whole request must then
      // come within the request time.
      auto window = limits_.request_time;
      if (tls) {
        window += limits_.idle_time;
      } else if (buffer.size() == 0) {
        pollfd p{fd, POLLIN, 0};
        const auto ms = std::chrono::milliseconds(limits_.idle_time).count();
        if (::poll(&p, 1, static_cast<int>(ms)) <= 0) {
          break;  // idle too long, or stopping
        }
      }
      SetDeadline(fd, Clock::now() + window);
      SetTimeout(fd, window);
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(limits_.header_bytes));
      parser.body_limit(limits_.body_bytes);
      beast::error_code ec;
      http::read(stream, buffer, parser, ec);
      SetDeadline(fd, Clock::time_point::max());
      if (ec && Expired(fd)) {
        WriteSimple(stream, 408,
                    R"({"error":"the request took too long to arrive"})",
                    false);
        unread = true;
        break;
      }
      if (ec == http::error::header_limit) {
        WriteSimple(stream, 431, R"({"error":"request header too large"})",
                    false);
        unread = true;
        break;
      }
      if (ec == http::error::body_limit) {
        WriteSimple(stream, 413, R"({"error":"request body too large"})",
                    false);
        unread = true;
        break;
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::eof &&
            ec != asio::error::connection_reset &&
            ec != asio::error::would_block && ec != asio::error::timed_out &&
            ec != asio::error::try_again) {
          WriteSimple(stream, 400, R"({"error":"malformed request"})", false);
          unread = true;
        }
        break;
      }
      const Request& req = parser.get();
      Response out;
      try {
        out = handler_(req, peer);
      } catch (const std::exception& e) {
        out = Response{};
        out.status = 500;
        out.body = nlohmann::json{{"error", e.what()}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      after = WriteReply(stream, req, out);
      if (after != After::kKeepAlive) {
        break;
      }
    }
  };
  if (const auto ctx = CurrentTls()) {
    boost::asio::ssl::stream<tcp::socket&> stream(socket, *ctx);
    SetDeadline(fd, Clock::now() + limits_.request_time);
    SetTimeout(fd, limits_.request_time);
    beast::error_code ec;
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    SetDeadline(fd, Clock::time_point::max());
    if (!ec) {
      exchange(stream, true);
    }
  } else {
    exchange(socket, false);
  }
  {
    // Forgotten before the close, so that a new connection given the same
    // fd number is never reaped for this one.
    std::lock_guard lock(mutex_);
    deadlines_.erase(fd);
    expired_.erase(fd);
  }
  if (unread && !stopping_) {
    CloseAfterReply(socket);
  } else if (after == After::kReset) {
    // RST, not FIN: even a client reading to the connection's end (HTTP/1.0)
    // sees the cut body as an error.
    beast::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
  } else {
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  std::lock_guard lock(mutex_);
  --connections_;
  idle_.notify_all();
}

}  // namespace sendense::web
