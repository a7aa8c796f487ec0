// TLS on OpenSSL 3: the server side of a listener's `tls:`.
//
// TlsServerContext is built once per listener at startup (and, to check a
// file, by --validate and SIGHUP) and shared by every worker: an SSL_CTX is
// safe to share, each connection has its own SSL. One SSL_CTX per
// certificate; the first is the default, the others are chosen by SNI from
// a hash of their names (exact, then `*.suffix` for one label), never a
// scan, so a node proxy can serve hundreds of names on one port.
//
// TlsTransport (transport/transport.h) is one connection's SSL over its
// socket (a socket BIO: OpenSSL reads and writes the fd, so ciphertext is
// never copied by moe; plaintext is read straight into the worker's read
// buffer and written from the connection's output buffer). The handshake
// runs inside the first reads. Idle connections free OpenSSL's record
// buffers (SSL_MODE_RELEASE_BUFFERS).
//
// Versions: TLS 1.2 and 1.3 only; no renegotiation, no compression. ALPN:
// `h2` (when the listener has http2: true) and `http/1.1`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "transport/transport.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace moe {

class TlsServerContext {
 public:
  // Loads every certificate of `tls`. On failure returns null and appends
  // to `errors`, each naming the file:line of the certificate entry.
  static std::unique_ptr<TlsServerContext> create(const config::ListenerTls& tls, bool http2,
                                                  std::vector<config::ConfigError>& errors);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // A transport for an accepted socket; null if OpenSSL cannot make one.
  std::unique_ptr<Transport> accept(int fd);

  // The SNI callback's lookup: the context for `name` (lower case), or
  // null for the default.
  SSL_CTX* find(std::string_view name) const;
  // mTLS with match_sans: true when the client's leaf carries one of them.
  bool san_allowed(std::string_view san) const;

 private:
  TlsServerContext() = default;
  bool http2_ = false;
  std::vector<SSL_CTX*> ctxs_;  // [0]: the default
  std::unordered_map<std::string, SSL_CTX*> exact_;
  std::unordered_map<std::string, SSL_CTX*> wildcard_;  // "*.example.com" as "example.com"
  std::vector<std::string> match_sans_;  // empty: any certificate the CA signed
  friend struct TlsCallbacks;
};

// All the TLS server contexts of a config, by listener index (null: the
// listener has no tls). What startup keeps, and what --validate and
// SIGHUP build to check the files and discard.
struct TlsContexts {
  std::vector<std::shared_ptr<TlsServerContext>> listeners;
  std::vector<config::ConfigError> errors;
};
TlsContexts build_tls_contexts(const config::Config& cfg);

}  // namespace moe
