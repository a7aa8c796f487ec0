// The access log: one line per request, formatted on the worker, written by
// a dedicated thread so a slow disk never blocks a loop.
//
// Each worker appends to its own slot (a string guarded by a mutex that only
// the writer thread ever contends for, five times a second); the writer swaps
// each slot out and writes it with one write(2). Lines are therefore
// batched and reach the file within ~200 ms. reopen() (SIGUSR1) makes the
// writer reopen the path before its next write, for log rotation.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"

namespace moe {

struct AccessRecord {
  std::string_view method, path, protocol;  // path: as the client sent it
  std::string_view upstream_path;            // as forwarded (normalised, rewritten); empty when not proxied
  int status = 0;
  uint64_t bytes_received = 0, bytes_sent = 0;
  uint64_t duration_us = 0;
  int64_t upstream_us = -1;  // -1 = no upstream
  std::string_view upstream_host;
  std::string_view flags;  // response flags, e.g. "UF" (upstream connect failure)
  std::string_view listener, route, cluster;
  std::string_view request_id;
  std::string_view user_agent;
  // log.access_log_values, in config order; null = none set on this stream.
  const std::string* values = nullptr;
};

class AccessLog {
 public:
  // path: "stdout" or a file path. Returns null and sets err when the file
  // cannot be opened.
  static std::unique_ptr<AccessLog> open(const std::string& path, config::LogFormat format,
                                         std::vector<std::string> value_names, int workers, std::string& err);
  ~AccessLog();
  void log(int worker, const AccessRecord& r);
  void reopen();
  // Writes everything buffered and stops the writer thread.
  void stop();

 private:
  AccessLog(std::string path, config::LogFormat format, std::vector<std::string> value_names, int fd, int workers);
  void run();
  struct Slot {
    std::mutex mu;
    std::string buf;
  };
  std::string path_;
  config::LogFormat format_;
  std::vector<std::string> value_names_;  // log.access_log_values
  int fd_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reopen_ = false;
  std::thread thread_;
};

}  // namespace moe
