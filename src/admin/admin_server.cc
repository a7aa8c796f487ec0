#include "admin/admin_server.h"

#include <llhttp.h>

#include "core/log.h"
#include "core/worker.h"
#include "http1/http1_encode.h"

namespace moe {
namespace {

// One admin connection: parses a request with llhttp, answers, keeps going.
struct AdminConn {
  uv_tcp_t tcp;
  llhttp_t parser;
  std::string method, url;
  const AdminServer* server;
  bool closing = false;
};

struct AdminWrite {
  uv_write_t req;
  std::string data;
};

void close_conn(AdminConn* c) {
  if (c->closing) return;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<AdminConn*>(h->data); });
}

int on_url(llhttp_t* p, const char* at, size_t n) {
  static_cast<AdminConn*>(p->data)->url.append(at, n);
  return 0;
}

int on_message_complete(llhttp_t* p) {
  auto* c = static_cast<AdminConn*>(p->data);
  c->method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  AdminServer::Response r = c->server->handle(c->method, c->url);
  auto* w = new AdminWrite;
  w->data = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(http1::reason_phrase(r.status)) +
            "\r\ncontent-type: " + r.content_type + "\r\ncontent-length: " + std::to_string(r.body.size()) +
            (llhttp_should_keep_alive(p) ? "\r\n\r\n" : "\r\nconnection: close\r\n\r\n") + r.body;
  const bool keep = llhttp_should_keep_alive(p);
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  w->req.data = keep ? nullptr : c;
  uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, [](uv_write_t* req, int) {
    auto* w = reinterpret_cast<AdminWrite*>(req);
    if (req->data) close_conn(static_cast<AdminConn*>(req->data));
    delete w;
  });
  c->url.clear();
  return 0;
}

constexpr llhttp_settings_t kSettings = [] {
  llhttp_settings_t s{};
  s.on_url = on_url;
  s.on_message_complete = on_message_complete;
  return s;
}();

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, std::shared_ptr<const config::Config> cfg,
                         const std::vector<std::unique_ptr<Worker>>& workers, std::function<std::string()> go_info,
                         std::function<std::string()> go_metrics)
    : loop_(loop),
      config_(std::move(cfg)),
      workers_(workers),
      go_info_(std::move(go_info)),
      go_metrics_(std::move(go_metrics)) {}

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
  char ip[64] = {0};
  int port;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&ss), ip, sizeof ip);
    port = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  } else {
    uv_ip4_name(reinterpret_cast<sockaddr_in*>(&ss), ip, sizeof ip);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  bound = std::string(ip) + ":" + std::to_string(port);
  return 0;
}

void AdminServer::close() {
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  server_ = nullptr;
}

void AdminServer::on_connection(uv_stream_t* s, int status) {
  if (status != 0) return;
  auto* self = static_cast<AdminServer*>(s->data);
  auto* c = new AdminConn;
  c->server = self;
  uv_tcp_init(self->loop_, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    close_conn(c);
    return;
  }
  llhttp_init(&c->parser, HTTP_REQUEST, &kSettings);
  c->parser.data = c;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp),
                [](uv_handle_t*, size_t, uv_buf_t* buf) {
                  static thread_local char mem[16384];
                  *buf = uv_buf_init(mem, sizeof mem);
                },
                [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                  auto* c = static_cast<AdminConn*>(s->data);
                  if (n < 0) {
                    close_conn(c);
                    return;
                  }
                  if (n > 0 && llhttp_execute(&c->parser, buf->base, static_cast<size_t>(n)) != HPE_OK) close_conn(c);
                });
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
    r.body = config_->to_json();
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
