#include "transport/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include <cctype>
#include <climits>
#include <cstdio>
#include <cstring>

#include "core/log.h"

namespace moe {
namespace {

// Mozilla's "intermediate" TLS 1.2 list (forward secrecy, AEAD only); TLS
// 1.3 keeps OpenSSL's default suites, which are all of that kind.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// A read() or write() that failed for a TLS reason, not a socket one.
constexpr ssize_t kTlsError = -EPROTO;

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// "FILE: reason" when f cannot be opened for reading, else empty: OpenSSL's
// own message for a missing file is vague.
std::string unreadable(const std::string& f) {
  FILE* fp = std::fopen(f.c_str(), "r");
  if (!fp) return f + ": " + std::strerror(errno);
  std::fclose(fp);
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The names a certificate answers to: its DNS SANs, or its CN if it has
// none (as browsers did before SANs were required).
std::vector<std::string> certificate_names(X509* leaf) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const unsigned char* p = ASN1_STRING_get0_data(g->d.dNSName);
      names.push_back(lower({reinterpret_cast<const char*>(p), static_cast<size_t>(ASN1_STRING_length(g->d.dNSName))}));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
    if (n > 0) names.push_back(lower({cn, static_cast<size_t>(n)}));
  }
  return names;
}

class TlsTransport final : public Transport {
 public:
  explicit TlsTransport(SSL* ssl) : ssl_(ssl) {}
  ~TlsTransport() override { SSL_free(ssl_); }

  ssize_t read(int fd, char* buf, size_t cap) override {
    want_write_ = false;
    ERR_clear_error();
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, cap > INT_MAX ? INT_MAX : cap, &got) == 1) return static_cast<ssize_t>(got);
    return fail(SSL_get_error(ssl_, 0));
  }

  ssize_t write(int fd, const char* p, size_t n) override {
    want_write_ = false;
    ERR_clear_error();
    // SSL_MODE_ENABLE_PARTIAL_WRITE: each call may take part of the
    // buffer; go on until the socket is full. After WANT_WRITE the next
    // call starts at the same byte (the unsent part of out_), which is
    // what OpenSSL requires (the buffer may move: ACCEPT_MOVING_WRITE_BUFFER).
    size_t total = 0;
    while (total < n) {
      size_t w = 0;
      if (SSL_write_ex(ssl_, p + total, n - total, &w) == 1) {
        total += w;
        continue;
      }
      const int e = SSL_get_error(ssl_, 0);
      if (e == SSL_ERROR_WANT_WRITE) {
        want_write_ = true;
        break;
      }
      // WANT_READ (a handshake not finished when we answer: a timeout's
      // 408 to a client that never completed it) ends the connection.
      const ssize_t r = fail(e);
      return r == kAgain ? kTlsError : r;
    }
    return static_cast<ssize_t>(total);
  }

  bool has_pending() const override { return SSL_has_pending(ssl_) == 1; }
  bool wants_write() const override { return want_write_; }

  void shutdown(int fd) override {
    // close_notify, once, if the handshake is done; never waits for the
    // peer's (the FIN that follows ends the connection either way).
    if (SSL_is_init_finished(ssl_) && !(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
      ERR_clear_error();
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
  }

  bool handshake_failed() const override { return handshake_failed_; }

 private:
  ssize_t fail(int e) {
    switch (e) {
      case SSL_ERROR_WANT_READ:
        return kAgain;
      case SSL_ERROR_WANT_WRITE:
        want_write_ = true;
        return kAgain;
      case SSL_ERROR_ZERO_RETURN:  // close_notify
        return UV_EOF;
      case SSL_ERROR_SYSCALL: {
        const int en = errno;
        if (ERR_peek_error() == 0) {
          if (en == EAGAIN || en == EINTR) return kAgain;
          // EOF without close_notify: as a TCP EOF (HTTP frames its own
          // messages, so a truncation shows there).
          if (en == 0) return UV_EOF;
          return -en;
        }
        break;
      }
      default:
        break;
    }
    if (!SSL_is_init_finished(ssl_)) {
      handshake_failed_ = true;
      log_debug("TLS handshake failed: {}", openssl_error());
    } else {
      log_debug("TLS error: {}", openssl_error());
    }
    return kTlsError;
  }

  SSL* ssl_;
  bool want_write_ = false;
  bool handshake_failed_ = false;
};

}  // namespace

// The OpenSSL callbacks, with access to the context's maps.
struct TlsCallbacks {
  // mTLS: after OpenSSL's chain check, the leaf's URI and DNS SANs against
  // match_sans. A mismatch fails the handshake (alert
  // certificate_unknown / access_denied from OpenSSL's side).
  static int on_verify(int ok, X509_STORE_CTX* store) {
    if (!ok || X509_STORE_CTX_get_error_depth(store) != 0) return ok;
    SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = ssl ? static_cast<TlsServerContext*>(SSL_get_app_data(ssl)) : nullptr;
    if (!self || self->match_sans_.empty()) return 1;
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    bool found = false;
    for (int i = 0; sans && !found && i < sk_GENERAL_NAME_num(sans); i++) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      const ASN1_STRING* v = g->type == GEN_URI ? g->d.uniformResourceIdentifier : g->type == GEN_DNS ? g->d.dNSName : nullptr;
      if (v)
        found = self->san_allowed({reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                   static_cast<size_t>(ASN1_STRING_length(v))});
    }
    if (sans) GENERAL_NAMES_free(sans);
    if (!found) {
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      log_debug("TLS: client certificate has none of the SANs in match_sans");
    }
    return found ? 1 : 0;
  }

  static int on_server_name(SSL* ssl, int* alert, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;  // the default certificate
    if (SSL_CTX* c = static_cast<TlsServerContext*>(arg)->find(lower(name)); c && c != SSL_get_SSL_CTX(ssl))
      SSL_set_SSL_CTX(ssl, c);
    return SSL_TLSEXT_ERR_OK;
  }

  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                     unsigned inlen, void* arg) {
    // Our preference order; the client's list is `in`.
    static const unsigned char kH2[] = "\x02h2\x08http/1.1";
    const bool h2 = static_cast<TlsServerContext*>(arg)->http2_;
    const unsigned char* prefs = h2 ? kH2 : kH2 + 3;
    const unsigned plen = h2 ? 12 : 9;
    unsigned char* sel = nullptr;
    if (SSL_select_next_proto(&sel, outlen, prefs, plen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_NOACK;  // no protocol in common: go on without ALPN (HTTP/1.1)
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
};

bool TlsServerContext::san_allowed(std::string_view san) const {
  for (const std::string& s : match_sans_)
    if (s == san) return true;
  return false;
}

SSL_CTX* TlsServerContext::find(std::string_view name) const {
  if (auto it = exact_.find(std::string(name)); it != exact_.end()) return it->second;
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  auto it = wildcard_.find(std::string(name.substr(dot + 1)));
  return it == wildcard_.end() ? nullptr : it->second;
}

std::unique_ptr<TlsServerContext> TlsServerContext::create(const config::ListenerTls& tls, bool http2,
                                                           std::vector<config::ConfigError>& errors) {
  std::unique_ptr<TlsServerContext> t(new TlsServerContext());
  t->http2_ = http2;
  const size_t before = errors.size();
  std::unordered_map<std::string, size_t> owner;  // name -> certificate index, for duplicates
  for (size_t i = 0; i < tls.certificates.size(); i++) {
    const config::TlsCertificate& c = tls.certificates[i];
    const std::string key = "tls.certificates[" + std::to_string(i) + "]";
    auto error = [&](std::string msg) { errors.push_back({c.mark, key, std::move(msg)}); };
    for (const std::string* f : {&c.cert_chain, &c.private_key})
      if (std::string e = unreadable(*f); !e.empty()) error(std::move(e));
    if (errors.size() > before) continue;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
      error("OpenSSL cannot make a context: " + openssl_error());
      continue;
    }
    t->ctxs_.push_back(ctx);  // freed by the destructor from here on
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_chain.c_str()) != 1) {
      error(c.cert_chain + ": not a PEM certificate chain: " + openssl_error());
      continue;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        error(c.private_key + ": the key does not match the certificate in " + c.cert_chain);
      } else {
        error(c.private_key + ": not a PEM private key: " + openssl_error());
      }
      continue;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      error(c.private_key + ": the key does not match the certificate in " + c.cert_chain);
      continue;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    // One read(2) takes what the socket has, not a record header and then
    // its body; has_pending() tells the connection to read again.
    SSL_CTX_set_read_ahead(ctx, 1);
    static const unsigned char kSid[] = "moe";
    SSL_CTX_set_session_id_context(ctx, kSid, 3);
    SSL_CTX_set_alpn_select_cb(ctx, TlsCallbacks::on_alpn, t.get());
    if (tls.client) {
      // mTLS: the same CA and rule on every certificate's context (SNI may
      // switch contexts before the client's certificate is checked).
      const config::TlsClientVerify& v = *tls.client;
      auto verror = [&](std::string msg) { errors.push_back({v.mark, "tls.client_certificates", std::move(msg)}); };
      ERR_clear_error();
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(v.ca.c_str());
      if (!names || SSL_CTX_load_verify_locations(ctx, v.ca.c_str(), nullptr) != 1) {
        if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
        std::string e = unreadable(v.ca);
        verror(e.empty() ? v.ca + ": not a PEM CA bundle (no certificate in it)" : std::move(e));
        break;  // said once, not per certificate
      }
      SSL_CTX_set_client_CA_list(ctx, names);  // the CAs the client is told to pick from
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, TlsCallbacks::on_verify);
      SSL_CTX_set_verify_depth(ctx, 8);
      t->match_sans_ = v.match_sans;
    }
    std::vector<std::string> names = certificate_names(SSL_CTX_get0_certificate(ctx));
    if (names.empty() && i > 0) {
      error(c.cert_chain + ": the certificate has no DNS name (SAN or CN): only the first, the default, may");
      continue;
    }
    for (const std::string& n : names) {
      auto [it, fresh] = owner.emplace(n, i);
      if (!fresh) {
        error(c.cert_chain + ": name " + n + " is also in certificates[" + std::to_string(it->second) + "]");
        continue;
      }
      if (n.size() > 2 && n[0] == '*' && n[1] == '.') t->wildcard_.emplace(n.substr(2), ctx);
      else t->exact_.emplace(n, ctx);
    }
  }
  if (errors.size() > before) return nullptr;
  SSL_CTX_set_tlsext_servername_callback(t->ctxs_[0], TlsCallbacks::on_server_name);
  SSL_CTX_set_tlsext_servername_arg(t->ctxs_[0], t.get());
  return t;
}

TlsServerContext::~TlsServerContext() {
  for (SSL_CTX* c : ctxs_) SSL_CTX_free(c);
}

std::unique_ptr<Transport> TlsServerContext::accept(int fd) {
  SSL* ssl = SSL_new(ctxs_[0]);
  if (!ssl) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  SSL_set_app_data(ssl, this);  // TlsCallbacks::on_verify's match_sans
  return std::make_unique<TlsTransport>(ssl);
}

TlsContexts build_tls_contexts(const config::Config& cfg) {
  TlsContexts out;
  out.listeners.resize(cfg.listeners.size());
  for (size_t i = 0; i < cfg.listeners.size(); i++) {
    const config::Listener& l = cfg.listeners[i];
    if (!l.tls) continue;
    const size_t before = out.errors.size();
    out.listeners[i] = TlsServerContext::create(*l.tls, l.http2, out.errors);
    // The keys are the listener's: listeners[i].tls.certificates[j].
    for (size_t e = before; e < out.errors.size(); e++)
      out.errors[e].key = "listeners[" + std::to_string(i) + "]." + out.errors[e].key;
  }
  return out;
}

}  // namespace moe
