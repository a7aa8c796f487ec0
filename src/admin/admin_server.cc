#include "admin/admin_server.h"

#include <arpa/inet.h>
#include <llhttp.h>

#include <cstring>

#include "core/log.h"
#include "core/worker.h"
#include "http1/http1_encode.h"
#include "http/headers.h"

namespace moe {

namespace {

constexpr size_t kMaxTarget = 8 * 1024;     // request target: over it, 414
constexpr size_t kMaxBody = 64 * 1024;      // admin requests carry no body worth reading
constexpr size_t kHighWater = 64 * 1024;    // answers queued: stop parsing pipelined requests
constexpr size_t kLowWater = 16 * 1024;     // ...until the queue is under this

int on_message_begin(llhttp_t* p);
int on_method_complete(llhttp_t* p);
int on_url(llhttp_t* p, const char* at, size_t n);
int on_header_field(llhttp_t* p, const char* at, size_t n);
int on_header_value(llhttp_t* p, const char* at, size_t n);
int on_header_value_complete(llhttp_t* p);
int on_headers_complete(llhttp_t* p);
int on_body(llhttp_t* p, const char* at, size_t n);
int on_message_complete(llhttp_t* p);

constexpr llhttp_settings_t kSettings = [] {
  llhttp_settings_t s{};
  s.on_message_begin = on_message_begin;
  s.on_method_complete = on_method_complete;
  s.on_url = on_url;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_header_value_complete = on_header_value_complete;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}();

struct AdminWrite {
  uv_write_t req;
  std::string data;
};

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

std::string ip_text(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&ss), ip, sizeof ip);
  } else {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&ss), ip, sizeof ip);
  }
  return ip;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

}  // namespace

// One admin connection. A small state machine over llhttp; the timer is the
// request-headers timeout from the accept or a request's first byte to the
// end of its headers, else the idle timeout (between requests, and while an
// answer waits for a client that does not read).
struct AdminConn {
  enum class State { idle, headers, body, closing };
  static constexpr size_t kReadBuffer = 16384;

  uv_tcp_t tcp;
  uv_timer_t timer;
  llhttp_t parser;
  AdminServer* server = nullptr;
  State state = State::idle;
  std::string local_ip;
  // The request being parsed.
  std::string url, field, host;
  bool field_is_host = false;
  bool head = false;  // a HEAD request: no answer to it has a body, refusals included
  int hosts = 0;
  size_t head_bytes = 0, body_bytes = 0;
  // Bytes read while this head was open, spans or not: llhttp skips runs of
  // spaces and blank lines without a callback (see feed).
  size_t head_wire = 0;
  int refuse = 0;  // status to answer instead of the endpoint (limits, Host)
  // Backpressure: input not parsed yet while too much output is queued.
  std::string pending;
  bool paused = false;
  bool close_after_write = false;
  int open_handles = 2;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }
  const config::AdminConfig& cfg() const { return server->config(); }

  void arm(config::Duration d) {
    uv_timer_start(&timer, [](uv_timer_t* t) { static_cast<AdminConn*>(t->data)->close(); },
                   static_cast<uint64_t>(d.count()), 0);
  }

  void close() {
    if (state == State::closing) return;
    state = State::closing;
    server->forget(this);
    auto done = [](uv_handle_t* h) {
      auto* c = static_cast<AdminConn*>(h->data);
      if (--c->open_handles == 0) delete c;
    };
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), done);
  }

  // Parses input; on a pause keeps the unparsed rest and stops reading.
  void feed(const char* data, size_t n) {
    llhttp_errno_t err = llhttp_execute(&parser, data, n);
    if (state == State::closing) return;
    if (close_after_write) {  // the last answer is queued; read nothing more
      uv_read_stop(stream());
      return;
    }
    if (err == HPE_OK) {
      // The spans count against max_request_headers (count_head); what
      // llhttp skips around them (spaces, blank lines) is bounded here,
      // per read: the head may take twice the limit plus one read.
      if (state != State::headers && state != State::idle) return;
      head_wire += n;
      if (head_wire <= 2 * cfg().max_request_headers + kReadBuffer) return;
      uv_read_stop(stream());
      log_debug("admin: 431 from a client: request head too large (whitespace counts)");
      respond(431, "text/plain", "request head too large (whitespace counts)\n", head, /*keep_alive=*/false);
      return;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      // An Upgrade or CONNECT request: it was answered like any other (the
      // admin switches to nothing); what follows is not HTTP to parse.
      close_after_write = true;
      uv_read_stop(stream());
      return;
    }
    if (err == HPE_PAUSED) {
      const char* pos = llhttp_get_error_pos(&parser);
      pending.assign(pos, static_cast<size_t>(data + n - pos));
      paused = true;
      uv_read_stop(stream());
      return;
    }
    // A limit (HPE_USER, with `refuse` set) or a malformed request: answer
    // and close; nothing after it is read.
    uv_read_stop(stream());
    int status = err == HPE_USER && refuse ? refuse : 400;
    std::string reason = llhttp_get_error_reason(&parser) ? llhttp_get_error_reason(&parser) : "bad request";
    log_debug("admin: {} from a client: {}", status, reason);
    respond(status, "text/plain", reason + "\n", head, /*keep_alive=*/false);
  }

  void respond(int status, std::string_view type, std::string body, bool head, bool keep_alive) {
    auto* w = new AdminWrite;
    // The head comes from the writer the proxy's HTTP/1 codec uses: one
    // truth for status line, framing and connection: close.
    ResponseHead h;
    h.status = status;
    h.headers.add("content-type", type);
    h.content_length = static_cast<int64_t>(body.size());
    h.has_body = !body.empty();
    bool chunked = false, must_close = false;
    http1::write_response_head(w->data, h, 1, !keep_alive, chunked, must_close);
    if (!head) w->data += body;
    if (!keep_alive) close_after_write = true;
    w->req.data = this;
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream(), &b, 1, on_written) != 0) {
      delete w;
      close();
      return;
    }
    arm(cfg().idle_timeout);
  }

  static void on_written(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<AdminWrite*>(req);
    auto* c = static_cast<AdminConn*>(req->data);
    delete w;
    if (c->state == State::closing) return;
    if (status != 0 || (c->close_after_write && uv_stream_get_write_queue_size(c->stream()) == 0)) {
      c->close();
      return;
    }
    if (c->close_after_write) return;
    // Progress: the client reads. The idle timer restarts, unless a request
    // is being parsed (its own timer runs).
    if (c->state == State::idle) c->arm(c->cfg().idle_timeout);
    if (c->paused && uv_stream_get_write_queue_size(c->stream()) <= kLowWater) c->resume();
  }

  void resume() {
    paused = false;
    llhttp_resume(&parser);
    std::string in = std::move(pending);
    pending.clear();
    if (!in.empty()) feed(in.data(), in.size());
    if (state != State::closing && !paused && !close_after_write) start_reading();
  }

  void start_reading() {
    uv_read_start(stream(),
                  [](uv_handle_t*, size_t, uv_buf_t* buf) {
                    static thread_local char mem[kReadBuffer];
                    *buf = uv_buf_init(mem, sizeof mem);
                  },
                  [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                    auto* c = static_cast<AdminConn*>(s->data);
                    if (n < 0) {
                      c->close();
                      return;
                    }
                    if (n > 0) c->feed(buf->base, static_cast<size_t>(n));
                  });
  }

  int limit(int status, const char* reason) {
    refuse = status;
    llhttp_set_error_reason(&parser, reason);
    return HPE_USER;
  }
  int count_head(size_t n) {
    head_bytes += n;
    if (head_bytes > cfg().max_request_headers) return limit(431, "request line and headers too large");
    return 0;
  }
};

namespace {

AdminConn* conn(llhttp_t* p) { return static_cast<AdminConn*>(p->data); }

int on_message_begin(llhttp_t* p) {
  AdminConn* c = conn(p);
  c->state = AdminConn::State::headers;
  c->url.clear();
  c->field.clear();
  c->host.clear();
  c->field_is_host = false;
  c->head = false;
  c->hosts = 0;
  c->head_bytes = c->body_bytes = 0;
  c->head_wire = 0;
  c->refuse = 0;
  c->arm(c->cfg().request_headers_timeout);
  return 0;
}

int on_method_complete(llhttp_t* p) {
  conn(p)->head = llhttp_get_method(p) == HTTP_HEAD;
  return 0;
}

int on_url(llhttp_t* p, const char* at, size_t n) {
  AdminConn* c = conn(p);
  if (c->url.size() + n > kMaxTarget) return c->limit(414, "request target too long");
  c->url.append(at, n);
  return c->count_head(n);
}

int on_header_field(llhttp_t* p, const char* at, size_t n) {
  AdminConn* c = conn(p);
  c->field.append(at, n);
  return c->count_head(n);
}

int on_header_value(llhttp_t* p, const char* at, size_t n) {
  AdminConn* c = conn(p);
  if (!c->field.empty()) {  // first piece of this value: name is complete
    c->field_is_host = strcasecmp(c->field.c_str(), "host") == 0;
    if (c->field_is_host && ++c->hosts > 1) return c->limit(400, "more than one Host header");
    c->field.clear();
  }
  if (c->field_is_host) c->host.append(at, n);
  return c->count_head(n);
}

int on_header_value_complete(llhttp_t* p) {
  AdminConn* c = conn(p);
  if (!c->field.empty()) {  // an empty value: on_header_value never ran
    if (strcasecmp(c->field.c_str(), "host") == 0 && ++c->hosts > 1) return c->limit(400, "more than one Host header");
    c->field.clear();
  }
  c->field_is_host = false;
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  AdminConn* c = conn(p);
  c->state = AdminConn::State::body;
  c->arm(c->cfg().idle_timeout);
  // No Host at all (HTTP/1.0 tools) is let through: a browser, the only
  // client a rebinding attack can drive, always sends one.
  // llhttp's value span keeps trailing whitespace (HeaderMap trims it too).
  if (c->hosts > 0 && !c->server->host_allowed(trim_ows(c->host), c->local_ip)) c->refuse = 403;
  return 0;
}

int on_body(llhttp_t* p, const char*, size_t n) {
  AdminConn* c = conn(p);
  c->body_bytes += n;
  if (c->body_bytes > kMaxBody) return c->limit(413, "request body too large");
  return 0;
}

int on_message_complete(llhttp_t* p) {
  AdminConn* c = conn(p);
  std::string_view method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  const bool head = c->head;
  const bool keep = llhttp_should_keep_alive(p);
  c->state = AdminConn::State::idle;
  c->head_wire = 0;
  if (c->refuse == 403) {
    log_debug("admin: 403 for Host '{}'", c->host);
    c->respond(403, "text/plain", "host not allowed; see admin.allowed_hosts\n", head, keep);
  } else {
    AdminServer::Response r = c->server->handle(method, c->url);
    c->respond(r.status, r.content_type, std::move(r.body), head, keep);
  }
  c->url.clear();
  c->host.clear();
  if (c->state == AdminConn::State::closing || c->close_after_write) return HPE_PAUSED;
  // Backpressure: with this much waiting for the client, parse nothing more
  // (feed() keeps the rest and stops reading) until on_written drains it.
  if (uv_stream_get_write_queue_size(c->stream()) > kHighWater) return HPE_PAUSED;
  return 0;
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, std::shared_ptr<const config::Config> cfg,
                         const std::vector<std::unique_ptr<Worker>>& workers, std::function<std::string()> go_info,
                         std::function<std::string()> go_metrics, config::Config::SecretFields secret_fields)
    : loop_(loop),
      config_(std::move(cfg)),
      workers_(workers),
      go_info_(std::move(go_info)),
      go_metrics_(std::move(go_metrics)),
      secret_fields_(std::move(secret_fields)) {}

AdminServer::~AdminServer() { close(); }

int AdminServer::start(std::string& bound) {
  if (!config_->admin.address) return 0;
  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  const config::Address& a = *config_->admin.address;
  int rc = uv_tcp_bind(server_, reinterpret_cast<const sockaddr*>(&a.addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 128, on_connection);
  if (rc != 0) return rc;
  sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(server_, reinterpret_cast<sockaddr*>(&ss), &len);
  int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  const std::string ip = ip_text(ss);
  bound = (ss.ss_family == AF_INET6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);  // as configured
  if (!is_loopback(reinterpret_cast<const sockaddr*>(&ss))) {
    log_warn("admin listener on {} is not on loopback: it has no authentication, and anyone who can reach it "
             "reads /stats and /config_dump; bind it to 127.0.0.1 or firewall it",
             bound);
  }
  return 0;
}

void AdminServer::close() {
  // close() calls forget(), which erases from conns_: iterate a copy.
  std::vector<AdminConn*> open(conns_.begin(), conns_.end());
  for (AdminConn* c : open) c->close();
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  server_ = nullptr;
}

bool AdminServer::host_allowed(std::string_view host, std::string_view local_ip) const {
  // Strip the port: "[v6]:port", "[v6]", "name:port"; a bare v6 address
  // (several colons, no brackets) has none.
  if (!host.empty() && host.front() == '[') {
    size_t e = host.find(']');
    if (e == std::string_view::npos) return false;
    host = host.substr(1, e - 1);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string h = lower(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty()) return false;
  if (h == "localhost" || h == local_ip) return true;
  in_addr a4;
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) == 127) return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  const config::AdminConfig& ac = config_->admin;
  if (ac.address && lower(ac.address->host) == h) return true;
  for (const std::string& allowed : ac.allowed_hosts)
    if (allowed == "*" || allowed == h) return true;
  return false;
}

void AdminServer::on_connection(uv_stream_t* s, int status) {
  if (status != 0) return;
  auto* self = static_cast<AdminServer*>(s->data);
  auto* c = new AdminConn;
  c->server = self;
  uv_tcp_init(self->loop_, &c->tcp);
  uv_timer_init(self->loop_, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  self->conns_.insert(c);
  if (uv_accept(s, c->stream()) != 0) {
    c->close();
    return;
  }
  if (self->conns_.size() > self->config_->admin.max_connections) {
    log_debug("admin: over admin.max_connections ({}); closing a new connection", self->config_->admin.max_connections);
    c->close();
    return;
  }
  sockaddr_storage local;
  int len = sizeof local;
  if (uv_tcp_getsockname(&c->tcp, reinterpret_cast<sockaddr*>(&local), &len) == 0) c->local_ip = ip_text(local);
  llhttp_init(&c->parser, HTTP_REQUEST, &kSettings);
  c->parser.data = c;
  // A connection that sends nothing is closed after the header timeout.
  c->arm(self->config_->admin.request_headers_timeout);
  c->start_reading();
}

AdminServer::Response AdminServer::handle(std::string_view method, std::string_view path) const {
  Response r;
  size_t q = path.find('?');
  if (q != std::string_view::npos) path = path.substr(0, q);
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.body = "method not allowed\n";
  } else if (path == "/ready") {
    r.status = draining_ ? 503 : 200;
    r.body = draining_ ? "draining\n" : "ready\n";
  } else if (path == "/stats") {
    r.content_type = "text/plain; version=0.0.4";
    r.body = render_stats(*config_, workers_);
    if (go_metrics_) r.body += go_metrics_();
  } else if (path == "/config_dump") {
    r.content_type = "application/json";
    r.body = config_->to_json(secret_fields_);
  } else if (path == "/go") {
    r.content_type = "application/json";
    r.body = go_info_ ? go_info_() : "{\"enabled\":false}\n";
  } else {
    r.status = 404;
    r.body = "not found; try /ready /stats /config_dump /go\n";
  }
  return r;
}

}  // namespace moe
