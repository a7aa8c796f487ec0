#include "server/server.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "config/config.h"
#include "core/access_log.h"
#include "core/cpus.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/worker.h"
#include "goext/go_bridge.h"
#include "goext/go_worker.h"
#include "proxy/stream.h"
#include "server/http_acceptor.h"

namespace moe {
namespace {

std::string format_addr(const sockaddr* sa) {
  char ip[64] = {0};
  int port = 0;
  if (sa->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(sa), ip, sizeof ip);
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  uv_ip4_name(reinterpret_cast<const sockaddr_in*>(sa), ip, sizeof ip);
  port = ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  return std::string(ip) + ":" + std::to_string(port);
}

bool port_is_free(const sockaddr* addr, socklen_t len, std::string& err) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // the real bind will say what is wrong
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT is fine
  bool ok = ::bind(fd, addr, len) == 0;
  if (!ok) err = errno == EADDRINUSE ? "address already in use (is another process listening there?)" : strerror(errno);
  ::close(fd);
  return ok;
}

struct MainState {
  std::shared_ptr<const config::Config> cfg;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<AccessLog> access_log;
  std::unique_ptr<AdminServer> admin;
  std::vector<std::unique_ptr<ListenerShared>> shared;
  int signal_fd = -1;
  uv_poll_t signal_poll;
  uv_timer_t drain_poll;
  bool draining = false;
};

void on_stop_signal(MainState* st, int signum) {
  if (st->draining) {
    log_warn("signal {} again while draining: still waiting for in-flight requests", signum);
    return;
  }
  st->draining = true;
  log_info("signal {}: draining (timeout {}ms)", signum, st->cfg->drain_timeout.count());
  if (st->admin) st->admin->set_draining();
  for (auto& w : st->workers) w->drain(st->cfg->drain_timeout);
  uv_timer_start(&st->drain_poll, [](uv_timer_t* t) {
    auto* st = static_cast<MainState*>(t->data);
    for (auto& w : st->workers)
      if (!w->done()) return;
    uv_timer_stop(t);
    uv_stop(t->loop);
  }, 20, 20);
}

}  // namespace

sigset_t moe_signal_set() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&s, sig);
  return s;
}

void block_signals() {
  sigset_t s = moe_signal_set();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  // A write to a socket the peer closed must be an EPIPE, not a dead process.
  signal(SIGPIPE, SIG_IGN);
}

int run_server(const ServerOptions& opts) {
  config::LoadResult lr = config::load_config(opts.config_path);
  if (!lr.errors.empty()) {
    for (const auto& e : lr.errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }
  auto cfg = std::const_pointer_cast<config::Config>(lr.config);
  if (opts.workers > 0) cfg->workers = opts.workers;
  if (!opts.log_level.empty()) cfg->log.level = opts.log_level;
  // workers: auto (or 0): the CPUs this process may use (core/cpus.h).
  std::optional<AutoWorkers> autow;
  if (cfg->workers <= 0) {
    autow = auto_workers();
    cfg->workers = autow->workers;
  }

  init_logging(cfg->log.level);
  if (autow && autow->limit > 0)
    log_info("workers: auto = {} ({} CPUs in the affinity mask, cgroup CPU limit {:.2f})", autow->workers,
             autow->affinity, autow->limit);
  else if (autow)
    log_info("workers: auto = {} (CPUs in the affinity mask)", autow->workers);
  block_signals();  // again: harmless, and covers a host that skipped main.cc

  // TLS: every listener's certificates, read once and shared by the
  // workers (--validate and SIGHUP read them the same way).
  TlsContexts tls = build_tls_contexts(*cfg);
  if (!tls.errors.empty()) {
    for (const auto& e : tls.errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }

  // The Go runtime: settings, plugins, one filter chain per listener.
  std::vector<uint32_t> chain_events;
  if (auto errors = go::start(*cfg, cfg->workers, chain_events); !errors.empty()) {
    for (const auto& e : errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }

  MainState st;
  st.cfg = cfg;
  if (cfg->log.access_log != "off") {
    std::string err;
    st.access_log = AccessLog::open(cfg->log.access_log, cfg->log.access_log_format, cfg->log.access_log_values,
                                    cfg->workers, err);
    if (!st.access_log) {
      log_error("access log: {}", err);
      return 1;
    }
  }

  // Listening sockets: one per listener per worker, all bound to the same
  // address with SO_REUSEPORT. Port 0 (tests) becomes the port the first
  // socket got, so every worker listens on the same one.
  std::vector<std::vector<ListenerSocket>> per_worker(static_cast<size_t>(cfg->workers));
  for (size_t li = 0; li < cfg->listeners.size(); li++) {
    const config::Listener& l = cfg->listeners[li];
    st.shared.push_back(std::make_unique<ListenerShared>());
    sockaddr_storage addr = l.address.addr;
    if (l.address.port != 0) {
      // SO_REUSEPORT would let us share the port with another process that
      // already listens there (a second moe, say) and split its traffic.
      // Refuse instead: probe with a plain bind first.
      std::string err;
      if (!port_is_free(reinterpret_cast<sockaddr*>(&addr), l.address.addr_len, err)) {
        log_error("listener {}: cannot listen on {}: {}", l.name, l.address.text, err);
        return 1;
      }
    }
    for (int w = 0; w < cfg->workers; w++) {
      std::string err;
      int fd = make_listen_socket(reinterpret_cast<sockaddr*>(&addr), l.address.addr_len, 1024, err);
      if (fd < 0) {
        log_error("listener {}: cannot listen on {}: {}", l.name, l.address.text, err);
        return 1;
      }
      if (w == 0) {
        socklen_t len = sizeof addr;
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        log_info("listener {} on {}", l.name, format_addr(reinterpret_cast<sockaddr*>(&addr)));
      }
      per_worker[static_cast<size_t>(w)].push_back({static_cast<int>(li), fd, st.shared.back().get()});
    }
  }

  for (int w = 0; w < cfg->workers; w++) {
    auto worker = std::make_unique<Worker>(w, cfg, std::move(per_worker[static_cast<size_t>(w)]), st.access_log.get());
    // The worker's side of the Go bridge: its loop's extension, its
    // streams' filter runtime (docs/design/architecture.md).
    auto go_worker = std::make_unique<GoWorker>(*worker, chain_events);
    go::register_worker(w, go_worker.get());
    worker->set_streams(std::make_unique<ProxyStreams>(*worker, go_worker.get()));
    worker->set_extension(std::move(go_worker));
    worker->set_acceptor(std::make_unique<HttpAcceptor>(tls.listeners));
    st.workers.push_back(std::move(worker));
  }

  uv_loop_t* loop = uv_default_loop();
  st.admin = std::make_unique<AdminServer>(loop, cfg, st.workers, opts.go_info, opts.go_metrics, opts.secret_fields);
  std::string admin_addr;
  if (int rc = st.admin->start(admin_addr); rc != 0) {
    log_error("admin: cannot listen on {}: {}", cfg->admin.address->text, uv_strerror(rc));
    return 1;
  }
  if (!admin_addr.empty()) log_info("admin on {}", admin_addr);

  for (auto& w : st.workers) w->start();
  log_info("moe started: {} workers, config {}", cfg->workers, cfg->source);

  uv_timer_init(loop, &st.drain_poll);
  st.drain_poll.data = &st;
  // Signals arrive through a signalfd: they are blocked in every thread
  // (see block_signals() in main.cc, which runs before the Go runtime
  // starts its threads), so neither Go nor a worker ever handles them.
  sigset_t mask = moe_signal_set();
  st.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (st.signal_fd < 0) {
    log_error("signalfd: {}", strerror(errno));
    return 1;
  }
  uv_poll_init(loop, &st.signal_poll, st.signal_fd);
  st.signal_poll.data = &st;
  uv_poll_start(&st.signal_poll, UV_READABLE, [](uv_poll_t* p, int, int) {
    auto* st = static_cast<MainState*>(p->data);
    signalfd_siginfo si;
    while (read(st->signal_fd, &si, sizeof si) == sizeof si) {
      switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
          on_stop_signal(st, static_cast<int>(si.ssi_signo));
          break;
        case SIGUSR1:
          log_info("SIGUSR1: reopening the access log");
          if (st->access_log) st->access_log->reopen();
          break;
        case SIGHUP: {
          // The new file is validated the way --validate does it (the YAML,
          // then every Go filter chain built and discarded, the running
          // ones untouched); applying it needs listener hand-over that is
          // not built yet, so a valid change needs a restart.
          config::LoadResult r = config::load_config(st->cfg->source);
          if (r.errors.empty()) r.errors = build_tls_contexts(*r.config).errors;
          if (r.errors.empty()) r.errors = go::validate(*r.config, *st->cfg);
          if (!r.errors.empty()) {
            for (const auto& e : r.errors) log_error("SIGHUP: {}", e.to_string());
            log_error("SIGHUP: config invalid; keeping the running config");
          } else {
            log_warn("SIGHUP: config {} is valid; live reload is not supported yet, restart to apply it",
                     st->cfg->source);
          }
          break;
        }
        default:
          break;
      }
    }
  });

  uv_run(loop, UV_RUN_DEFAULT);

  for (auto& w : st.workers) w->join();
  st.admin->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&st.signal_poll), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&st.drain_poll), nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  close(st.signal_fd);
  if (st.access_log) st.access_log->stop();
  st.workers.clear();
  log_info("moe stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace moe
