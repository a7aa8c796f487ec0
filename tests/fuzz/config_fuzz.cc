// libFuzzer harness: moe::config::load_config_text on arbitrary text.
//
// The contract (config.h): never throws, and returns either a config or at
// least one error, never both. A crash, an escaped exception (libFuzzer
// reports it as a deadly signal via std::terminate), or a broken contract is
// a finding.
#include <dlfcn.h>
#include <netdb.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.h"


// No DNS while fuzzing: every lookup is numeric-only, so a generated host
// name fails fast (EAI_NONAME) instead of waiting on a resolver. This
// definition takes precedence over libc's (and the sanitizer's weak
// interceptor) for the whole process.
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  using Fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
  addrinfo h{};
  if (hints) h = *hints;
  h.ai_flags |= AI_NUMERICHOST;
  return real(node, service, &h, res);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  moe::config::LoadResult r = moe::config::load_config_text(text, "fuzz.yaml");
  if ((r.config == nullptr) == r.errors.empty()) {
    fprintf(stderr, "config_fuzz: config=%p with %zu errors\n", static_cast<const void*>(r.config.get()),
            r.errors.size());
    abort();
  }
  for (const moe::config::ConfigError& e : r.errors) {
    if (e.message.empty()) abort();
    (void)e.to_string();
  }
  if (r.config) (void)r.config->to_json();  // the /config_dump path
  return 0;
}
