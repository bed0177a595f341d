#include "web/http_server.h"

#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <future>
#include <optional>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/log.h"
#include "web/ui.h"

namespace sendense::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// A whole reply with a small JSON body, as bytes: errors the server
// answers itself (408, 413, 431, 400, 503).
std::string SimpleReply(unsigned status, const std::string& body) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "sendense");
  res.set(http::field::content_type, "application/json");
  if (status == 503) {
    res.set(http::field::retry_after, "1");
  }
  AddSecurityHeaders(res.base());
  res.keep_alive(false);
  res.body() = body;
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
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
template <class Stream>
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
template <class Stream>
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
        ChunkWriter chunks(socket);
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

// One connection: reads requests under their deadlines, hands each to a
// handler thread, which writes the reply through the session (each write
// on the session's strand, under its deadline), then reads the next.
// Everything that touches the socket or the timer runs on the strand.
class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, tcp::socket socket, bool counted)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        counted_(counted) {}
  ~Session() { server_.Forget(this, counted_); }

  void Start() {
    asio::dispatch(socket_.get_executor(),
                   [self = shared_from_this()] { self->ReadRequest(); });
  }
  // Past the connection limit: the 503 goes out at once, then the
  // connection is drained and closed.
  void Refuse() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->ReplyAndClose(
          SimpleReply(503, R"({"error":"too many connections, try again"})"));
    });
  }
  // Stop(): whatever the session waits for fails at once.
  void Shutdown() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
      self->socket_.cancel(ignored);
      self->timer_.cancel();
    });
  }

  // What Beast's and asio's synchronous writers call from the handler
  // thread (a SyncWriteStream): each write runs on the strand under the
  // request time, and the handler thread waits for it.
  template <class Buffers>
  size_t write_some(const Buffers& buffers, beast::error_code& ec) {
    std::vector<asio::const_buffer> copy(asio::buffer_sequence_begin(buffers),
                                         asio::buffer_sequence_end(buffers));
    std::promise<std::pair<beast::error_code, size_t>> done;
    asio::dispatch(socket_.get_executor(), [&] {
      Arm(server_.limits_.request_time);
      asio::async_write(socket_, copy,
                        [this, &done](beast::error_code e, size_t n) {
                          Disarm();
                          done.set_value({e, n});
                        });
    });
    const auto [e, n] = done.get_future().get();
    ec = e;
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    beast::error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) {
      throw beast::system_error(ec);
    }
    return n;
  }

 private:
  // The deadline of the operation about to start: past it, the socket's
  // operations are cancelled and `expired_` says why.
  // A generation tells a wait that ended just as its operation completed
  // from the next operation's: only the current one may cancel.
  void Arm(std::chrono::seconds limit) {
    expired_ = false;
    const uint64_t generation = ++generation_;
    timer_.expires_after(limit);
    timer_.async_wait(
        [self = shared_from_this(), generation](beast::error_code ec) {
          if (!ec && generation == self->generation_) {
            self->expired_ = true;
            beast::error_code ignored;
            self->socket_.cancel(ignored);
          }
        });
  }
  void Disarm() {
    ++generation_;
    timer_.cancel();
  }

  // The first byte may take the idle time; the whole request must then
  // come within the request time.
  void ReadRequest() {
    if (server_.stopping_) {
      return Close();
    }
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.limits_.header_bytes));
    parser_->body_limit(server_.limits_.body_bytes);
    if (buffer_.size() > 0) {  // pipelined: the request has begun
      return ReadRest();
    }
    // Waits for the first byte alone: a parser's read would wait for a
    // whole header under the idle time.
    Arm(server_.limits_.idle_time);
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](beast::error_code ec) {
                         self->Disarm();
                         if (ec) {
                           return self->OnRequest(ec, /*idle=*/true);
                         }
                         self->ReadRest();
                       });
  }
  void ReadRest() {
    Arm(server_.limits_.request_time);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->Disarm();
                       self->OnRequest(ec, /*idle=*/false);
                     });
  }

  void OnRequest(beast::error_code ec, bool idle) {
    if (server_.stopping_) {
      return Close();
    }
    if (ec && expired_) {
      if (idle) {
        return Close();  // nothing asked within the idle time
      }
      return ReplyAndClose(SimpleReply(
          408, R"({"error":"the request took too long to arrive"})"));
    }
    if (ec == http::error::header_limit) {
      return ReplyAndClose(
          SimpleReply(431, R"({"error":"request header too large"})"));
    }
    if (ec == http::error::body_limit) {
      return ReplyAndClose(
          SimpleReply(413, R"({"error":"request body too large"})"));
    }
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted) {
        return Close();
      }
      return ReplyAndClose(
          SimpleReply(400, R"({"error":"malformed request"})"));
    }
    server_.handlers_.Submit(
        [self = shared_from_this(), req = parser_->release()]() mutable {
          self->Handle(req);
        });
  }

  // On a handler thread.
  void Handle(const Request& req) {
    Response out;
    try {
      out = server_.handler_(req);
    } catch (const std::exception& e) {
      out = Response{};
      out.status = 500;
      out.body = nlohmann::json{{"error", e.what()}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    After after = After::kClose;
    try {
      after = WriteReply(*this, req, out);
    } catch (const std::exception&) {
      after = After::kClose;  // the client went away or stopped reading
    }
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), after] {
      if (after == After::kKeepAlive) {
        self->ReadRequest();
      } else if (after == After::kReset) {
        self->Reset();
      } else {
        self->Close();
      }
    });
  }

  // An error reply, then the connection drained and closed: a close with
  // unread request bytes makes the kernel answer RST, and the client then
  // drops the reply it already has (a 413 for a long body, a 503 for a
  // request sent at once). So: the reply, a half-close, and what the
  // client still sends read and dropped (bounded in time and bytes).
  void ReplyAndClose(std::string reply) {
    reply_ = std::move(reply);
    Arm(server_.limits_.request_time);
    asio::async_write(
        socket_, asio::buffer(reply_),
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->Disarm();
          if (ec) {
            return self->Close();
          }
          beast::error_code ignored;
          self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
          self->Arm(std::chrono::seconds(2));
          self->Drain();
        });
  }
  void Drain() {
    constexpr size_t kMaxDrained = 64 * 1024 * 1024;
    socket_.async_read_some(
        asio::buffer(scratch_),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ >= kMaxDrained) {
            self->Disarm();
            return self->Close();
          }
          self->Drain();
        });
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }
  // RST, not FIN: even a client reading to the connection's end (HTTP/1.0)
  // sees a body cut short as an error.
  void Reset() {
    beast::error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

  HttpServer& server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  const bool counted_;
  bool expired_ = false;
  uint64_t generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string reply_;
  std::array<char, 16 * 1024> scratch_{};
  size_t drained_ = 0;
};

HttpServer::HttpServer(const std::string& address,
                       uint16_t port,
                       const HttpLimits& limits,
                       Handler handler)
    : limits_(limits),
      handler_(std::move(handler)),
      handlers_(limits.max_connections, "sendense-http"),
      acceptor_(io_) {
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
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < 2; ++i) {
    io_threads_.emplace_back([this] { io_.run(); });
  }
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec,
                                                        tcp::socket socket) {
    if (stopping_) {
      return;
    }
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // no delayed replies
      bool full = false;
      {
        std::lock_guard lock(mutex_);
        full = connections_ >= limits_.max_connections;
        connections_ += full ? 0 : 1;
      }
      auto session = std::make_shared<Session>(*this, std::move(socket),
                                               /*counted=*/!full);
      {
        std::lock_guard lock(mutex_);
        sessions_[session.get()] = session;
      }
      if (full) {
        session->Refuse();
      } else {
        session->Start();
      }
    }
    Accept();
  });
}

void HttpServer::Forget(Session* session, bool counted) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
  if (counted) {
    --connections_;
  }
  idle_.notify_all();
}

void HttpServer::Stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [raw, weak] : sessions_) {
      if (auto s = weak.lock()) {
        open.push_back(std::move(s));
      }
    }
  }
  for (const auto& s : open) {
    s->Shutdown();
  }
  open.clear();
  {
    // Handlers still running finish their replies (which now fail fast).
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return sessions_.empty(); });
  }
  io_.stop();
  for (auto& t : io_threads_) {
    t.join();
  }
}

}  // namespace sendense::web
