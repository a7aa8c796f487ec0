// Stream: the bodies and trailers of both directions through the Go chain.
//
// The rule everything here keeps: one event of a stream is in Go at a time.
// The engine has one cursor per stream (goext/api/engine.go), so while a
// filter is Pending on any event (go_pending_), the events that arrive
// after it, of either direction, wait on this side, in order:
//   request:  req_unseen_ (body bytes no body hook has seen), request_done_,
//             req_trailers_held_;
//   response: resp_headers_queued_, resp_body_, resp_end_held_,
//             resp_trailers_held_.
// When the filter resumes (on_go_resume), Go gets the Pending event again
// (a DATA event with its chunk, kept in go_chunk_: the read buffer it was a
// view of is gone by then), and then the pumps show the waiting events to
// the whole chain, from its first filter, before any of them goes on. A
// body that arrived during an earlier filter's wait went upstream unseen by
// the later filters; trailers hooks that returned Pending were not waited
// for (issue 13, the table in goext/filtertest/chaincases).
//
// StopAndBuffer collects a direction's body (req_unseen_ / resp_body_) until
// its end, then shows it whole, once, from the filter that asked; a head held
// since its headers hooks (req_held_ / resp_held_) goes out after that, sized
// to the body the filters left (or chunked when trailers follow).
//
// One exception: moe's own replies (a route timeout, an upstream failure, a
// body too large) pass the response-headers hooks at once, even while a
// filter is Pending: the engine takes the event as a reply (MOE_EVF_REPLY,
// where only Continue counts), the stream ends after it, and the waiting
// event is never resumed.
//
// The common case costs nothing extra: a chunk that arrives while the chain
// is idle goes to Go as a view into the read buffer, and on, with no copy.
#include "proxy/stream.h"

#include "core/log.h"
#include "proxy/grpc.h"
#include "transport/tcp_connection.h"

namespace moe {

// ---- request --------------------------------------------------------------

void Stream::on_request_data(const char* p, size_t n) {
  bytes_received_ += n;
  // A CONNECT has no body: its data is the tunnel's. An Upgrade request's
  // body (sized or chunked) is a body like any other; what follows the
  // message is the tunnel's.
  if (request_.is_connect || (request_.upgrade && request_done_)) {
    on_tunnel_data(p, n);
    return;
  }
  request_body_bytes_ += n;
  if (response_done_) return;  // e.g. a direct response: the rest of the body is dropped
  if (max_body_ && request_body_bytes_ > max_body_) {
    // Also once the upstream has begun its answer: dropped, the bytes over
    // the limit left the upstream a short body ended cleanly, read as whole.
    fail_request(413, grpc::kResourceExhausted, "request body too large\n");
    return;
  }
  const bool hooks = wants(MOE_EV_REQUEST_DATA);
  if (req_buffering_ || (hooks && (req_held_ || go_pending_ || !req_unseen_.empty()))) {
    // A filter buffers the body (a headers hook may, in a chain with no
    // body hook: the body still goes to Go whole, for the hooks after it),
    // or the head waits for a filter, or an event of this stream is in Go:
    // the bytes wait for the body hooks, in order.
    if (req_buffering_) {
      const size_t limit = max_body_ ? max_body_ : kDefaultBufferLimit;
      if (req_unseen_.size() + n > limit) {
        fail_request(413, grpc::kResourceExhausted, "request body too large to buffer\n");
        return;
      }
    } else if (req_unseen_.size() + n > TcpConnection::kHighWatermark) {
      pause_downstream();  // resume_downstream waits until they are shown
    }
    req_unseen_.append(p, n);
    if (!go_pending_ && !req_buffering_) pump_request();
    return;
  }
  if (!hooks) {
    forward_request_data(p, n);
    return;
  }
  // The chain is idle: the chunk goes to Go as a view into the read buffer.
  show_request_data(std::string_view(p, n), false);
}

bool Stream::show_request_data(std::string_view chunk, bool end) {
  const size_t n = chunk.size();
  if (end) req_end_shown_ = true;
  const int32_t r = call_go(MOE_EV_REQUEST_DATA, end, &chunk);
  if (finished_ || r == MOE_LOCAL_REPLY) return false;
  if (chunk.size() != n && !request_body_resized()) return false;
  if (r == MOE_PENDING) {
    // Go sees this chunk again when the filter resumes; what it points at
    // (the read buffer, a swapped-out queue) is gone by then: one copy, on
    // the async path only.
    go_pending_ = MOE_EV_REQUEST_DATA;
    go_chunk_.assign(chunk);
    go_chunk_end_ = end;
    return false;
  }
  request_data_passed(r, chunk);
  return !finished_;
}

void Stream::request_data_passed(int32_t r, std::string_view chunk) {
  if (r == MOE_STOP_AND_BUFFER) {
    // A body hook buffers: this chunk, as the filters before it left it,
    // starts the body it is shown whole at the end (bytes that came during
    // a wait follow it).
    req_buffering_ = true;
    req_unseen_.insert(0, chunk);
    return;
  }
  if (!chunk.empty()) forward_request_data(chunk.data(), chunk.size());
}

bool Stream::request_body_resized() {
  if (request_.content_length < 0) return true;  // chunked, or h2 with no Content-Length: any size goes
  if (req_held_) {
    req_resized_ = true;  // the head has not gone: release_request_head fixes Content-Length
    return true;
  }
  body_size_changed();
  return false;
}

void Stream::body_size_changed() {
  // The request head is committed (sent, or routed and waiting for its
  // connection) with its Content-Length: a body of another size would be
  // read by the upstream as a short request plus the start of another one.
  // A filter that resizes a sized body must hold the head (StopAndBuffer
  // from its request-headers hook); then moe fixes Content-Length.
  log_warn("listener {}: a Go filter changed the size of a sized request body after the request head was "
           "committed; failing the stream",
           listener_config().name);
  flag("FB");
  fail_request(500, grpc::kInternal, "a filter changed the request body size after its head was sent\n");
}

void Stream::fail_request(int status, int grpc_code, std::string_view reply) {
  // The request cannot go on: the upstream goes (it must not take a short
  // body as whole), and the client gets `reply`, or, once a response head
  // is out (a second cannot follow it), a cut response.
  detach_upstream();
  if (response_started_ && !resp_held_) {
    reply.remove_suffix(reply.ends_with('\n') ? 1 : 0);
    abort_response(grpc_code, reply);
    return;
  }
  send_local_reply(status, reply, true);
}

void Stream::forward_request_data(const char* p, size_t n) {
  // Only bytes every body hook has passed come here.
  if (upstream_ready_) {
    upstream_->encode_data(p, n, false);
    if (upstream_->above_high_watermark()) pause_downstream();
    return;
  }
  // No upstream yet (the head is held or connecting): hold the bytes, bounded.
  pending_body_.append(p, n);
  if (pending_body_.size() > TcpConnection::kHighWatermark) pause_downstream();
}

void Stream::on_request_trailers() {
  request_has_trailers_ = true;
  request_trailers_.remove_if(forbidden_trailer);
  // The trailers hooks run after the body hooks have seen the whole body
  // (pump_request), before the request's end goes upstream.
  if (wants(MOE_EV_REQUEST_TRAILERS)) req_trailers_held_ = true;
  on_request_end();
}

void Stream::on_request_end() {
  request_done_ = true;
  constexpr uint32_t kHooks = (1u << MOE_EV_REQUEST_DATA) | (1u << MOE_EV_REQUEST_TRAILERS);
  if (!(go_events_ & kHooks) && !req_held_ && !req_buffering_ && !go_pending_) {
    // No request body or trailers hook and nothing waits: the end goes now
    // (pump_request's last step, without its walk).
    request_end_ready();
    return;
  }
  pump_request();
}

void Stream::request_end_ready() {
  // Every request event has passed the chain: the end may go upstream.
  req_end_ready_ = true;
  if (upstream_ready_) send_request_end();
  if (tunnel_) open_tunnel();  // the upstream agreed while the body was in the chain
  if (response_done_) finish();
}

void Stream::pump_request() {
  while (!finished_ && !go_pending_) {
    if (req_buffering_) {
      if (!request_done_) {
        // A filter buffers: the client may have been paused while it
        // waited (bytes over the watermark); buffering reads on to its own
        // limit, or the body would never end.
        resume_downstream();
        return;
      }
      // The whole body, once, to the filter that asked (and those after it).
      req_buffering_ = false;
      if (req_held_) req_whole_ = true;
      std::string body;
      body.swap(req_unseen_);
      if (!show_request_data(body, true)) return;
      continue;
    }
    const bool end = request_done_ && !request_has_trailers_;
    if (!req_unseen_.empty() ||
        (end && !req_end_shown_ && wants(MOE_EV_REQUEST_DATA) && request_.has_body)) {
      std::string chunk;
      chunk.swap(req_unseen_);
      if (!show_request_data(chunk, end)) return;
      continue;
    }
    if (req_trailers_held_ && request_done_) {
      req_trailers_held_ = false;
      const int32_t r = call_go(MOE_EV_REQUEST_TRAILERS, true, nullptr);
      if (finished_ || r == MOE_LOCAL_REPLY) return;
      if (r == MOE_PENDING) go_pending_ = MOE_EV_REQUEST_TRAILERS;
      continue;
    }
    break;
  }
  if (finished_ || go_pending_) return;
  if (req_held_) {
    release_request_head();
    if (finished_) return;
  }
  if (request_done_ && !req_end_ready_) {
    request_end_ready();
    if (finished_) return;
  }
  resume_downstream();
}

void Stream::release_request_head() {
  // Every request hook has passed what came so far; the head goes.
  req_held_ = false;
  if ((req_resized_ || req_whole_) && request_done_) {
    // The body is whole, and all in pending_body_ (the head held it): send
    // it sized. (Once forwarded, the head is what the upstream got, and
    // what an h2c retry resends: it must not change.)
    if (request_.content_length >= 0 || !request_has_trailers_) {
      request_.content_length = static_cast<int64_t>(pending_body_.size());
      request_.has_body = !pending_body_.empty() || request_has_trailers_;
      request_.headers.set("content-length", std::to_string(pending_body_.size()));
    }
  } else if (req_resized_) {
    body_size_changed();  // sized, resized, and more of it is still to come
    return;
  }
  route_and_forward();
}

void Stream::send_request_end() {
  if (!request_.has_body) return;  // the head carried the end
  if (request_has_trailers_) upstream_->encode_trailers(request_trailers_);
  else upstream_->encode_data(nullptr, 0, true);
}

// ---- response -------------------------------------------------------------

void Stream::on_response_data(const char* p, size_t n) {
  bytes_sent_ += n;
  const bool hooks = wants(MOE_EV_RESPONSE_DATA) && !tunnel_;
  if (resp_held_ || resp_buffering_ || (hooks && (go_pending_ || !resp_body_.empty()))) {
    // The head waits for a filter, a filter buffers the body, or an event
    // of this stream is in Go: the bytes wait, in order.
    if (resp_buffering_ && resp_body_.size() + n > kDefaultBufferLimit) {
      flag("RB");
      if (resp_held_) {
        resp_held_ = false;
        detach_upstream();
        send_local_reply(500, "response too large for a buffering filter\n", !request_done_);
      } else {
        downstream_.reset_stream();
        detach_upstream();
        finish();
      }
      return;
    }
    resp_body_.append(p, n);
    if (!resp_buffering_ && resp_body_.size() > TcpConnection::kHighWatermark && upstream_ && !upstream_read_disabled_) {
      upstream_read_disabled_ = true;
      upstream_->read_disable(true);  // pump_response reads again once they are through
    }
    return;
  }
  if (hooks) {
    show_response_data(std::string_view(p, n), false);  // a view into the read buffer
    return;
  }
  encode_response_data(p, n, false);
}

bool Stream::show_response_data(std::string_view chunk, bool end) {
  if (end) resp_end_shown_ = true;
  const int32_t r = call_go(MOE_EV_RESPONSE_DATA, end, &chunk);
  if (finished_ || r == MOE_LOCAL_REPLY) return false;
  if (r == MOE_PENDING) {
    go_pending_ = MOE_EV_RESPONSE_DATA;  // as show_request_data
    go_chunk_.assign(chunk);
    go_chunk_end_ = end;
    return false;
  }
  response_data_passed(r, chunk, end);
  return !finished_;
}

void Stream::response_data_passed(int32_t r, std::string_view chunk, bool end) {
  if (r == MOE_STOP_AND_BUFFER) {
    resp_buffering_ = true;
    resp_body_.insert(0, chunk);
    resume_upstream_read();  // reading may have stopped while it waited; buffering has its own limit
    return;
  }
  if (resp_held_) {
    // The whole body of a head held since its hooks: end_response sends
    // both. (resp_body_ is empty by now and nothing more comes: the upstream
    // ended before the whole body was shown; resp_whole_ keeps the pump
    // from showing it again.)
    resp_body_.append(chunk);
    return;
  }
  // (Headers that went out before a filter chose to buffer keep their
  // framing: a filter that changes a body's size must buffer from the
  // response headers on; docs/go-filters.md says so.)
  // A whole body is shown with end_stream even when trailers follow it; they
  // end the stream then (end_response).
  const bool last = end && !resp_trailers_held_;
  if (!chunk.empty() || last) encode_response_data(chunk.data(), chunk.size(), last);
  if (last) response_done_ = true;
}

void Stream::on_response_trailers() {
  response_trailers_.remove_if(forbidden_trailer);
  resp_trailers_held_ = true;  // after the body, through the hooks (pump_response), then out
  on_response_end();
}

void Stream::on_response_end() {
  // The upstream codec releases itself to the pool after this returns.
  upstream_ = nullptr;
  upstream_ready_ = false;
  leave_pool();  // the connection goes back: nothing here for shed_stalled
  resp_end_held_ = true;
  if (!resp_held_ && !resp_buffering_ && !resp_trailers_held_ && !go_pending_ && !wants(MOE_EV_RESPONSE_DATA)) {
    end_response();  // no body hook and nothing waits: pump_response's last step, without its walk
    return;
  }
  pump_response();
}

void Stream::pump_response() {
  while (!finished_ && !go_pending_) {
    if (resp_headers_queued_) {
      resp_headers_queued_ = false;
      const int32_t r = call_go(MOE_EV_RESPONSE_HEADERS, resp_headers_end_, nullptr);
      if (finished_ || r == MOE_LOCAL_REPLY) return;
      if (r == MOE_PENDING) go_pending_ = MOE_EV_RESPONSE_HEADERS;
      else if (r == MOE_STOP_AND_BUFFER && !resp_headers_end_) {
        resp_buffering_ = true;
        resume_upstream_read();  // reading may have stopped while they were queued
      }
      continue;
    }
    if (!response_started_) return;
    if (resp_held_ && !resp_buffering_ && !resp_whole_) {
      release_response_head();
      continue;
    }
    if (resp_buffering_) {
      if (!resp_end_held_) return;
      // The whole body, once, to the filter that asked (and those after it).
      resp_buffering_ = false;
      if (resp_held_) resp_whole_ = true;
      std::string body;
      body.swap(resp_body_);
      if (!show_response_data(body, true)) return;
      continue;
    }
    const bool end = resp_end_held_ && !resp_trailers_held_;
    if (wants(MOE_EV_RESPONSE_DATA) && !tunnel_ && response_.has_body && !resp_whole_ &&
        (!resp_body_.empty() || (end && !resp_end_shown_))) {
      std::string chunk;
      chunk.swap(resp_body_);
      if (!show_response_data(chunk, end)) return;
      continue;
    }
    if (resp_trailers_held_ && !resp_trailers_shown_ && wants(MOE_EV_RESPONSE_TRAILERS)) {
      resp_trailers_shown_ = true;
      const int32_t r = call_go(MOE_EV_RESPONSE_TRAILERS, true, nullptr);
      if (finished_ || r == MOE_LOCAL_REPLY) return;
      if (r == MOE_PENDING) go_pending_ = MOE_EV_RESPONSE_TRAILERS;
      continue;
    }
    break;
  }
  if (finished_ || go_pending_ || !response_started_) return;
  if (upstream_read_disabled_ && !resp_buffering_ && !downstream_.above_high_watermark()) resume_upstream_read();
  if (resp_end_held_) end_response();
}

void Stream::release_response_head() {
  // The headers hooks said Continue after the head was held: it goes, then
  // the bytes that came meanwhile (through the body hooks, when there are
  // some: pump_response goes on with them).
  resp_held_ = false;
  encode_response_headers(!response_.has_body);
  if (!resp_body_.empty() && !(wants(MOE_EV_RESPONSE_DATA) && !tunnel_)) {
    encode_response_data(resp_body_.data(), resp_body_.size(), false);
    std::string().swap(resp_body_);
  }
}

void Stream::end_response() {
  // Everything of the response has passed the chain.
  const bool trailers = resp_trailers_held_;
  if (resp_held_) {
    // Held since its headers hooks (StopAndBuffer): the body is whole in
    // resp_body_ and may have changed size. A buffered message keeps its
    // trailers (a gRPC status is in them): the body goes out framed so that
    // they can follow it (chunked to an HTTP/1.1 client, DATA then HEADERS
    // on h2).
    resp_held_ = false;
    if (trailers) {
      response_.content_length = -1;
      response_.has_body = true;
      response_.headers.remove("content-length");
    } else {
      response_.content_length = static_cast<int64_t>(resp_body_.size());
      response_.has_body = !resp_body_.empty();
      response_.headers.set("content-length", std::to_string(resp_body_.size()));
    }
    encode_response_headers(resp_body_.empty() && !trailers);
    if (!resp_body_.empty()) encode_response_data(resp_body_.data(), resp_body_.size(), !trailers);
    std::string().swap(resp_body_);
  } else if (!response_done_ && !trailers && (response_.has_body || tunnel_)) {
    encode_response_data(nullptr, 0, true);
  }
  if (trailers && !response_done_) downstream_.encode_trailers(response_trailers_);
  response_done_ = true;
  finish();  // if the request is not complete, the downstream codec closes after this
}

// ---- resumes --------------------------------------------------------------

void Stream::on_go_resume() {
  // A resume for an event still in the batch is a stale one (a second
  // resume of an earlier Pending): Go has not seen this event yet.
  if (finished_ || !go_pending_ || go_batched_) return;
  const uint32_t kind = go_pending_;
  go_pending_ = 0;
  if (kind == MOE_EV_REQUEST_DATA || kind == MOE_EV_RESPONSE_DATA) {
    // The chunk the filter was Pending on, as the filters before it left it.
    std::string held;
    held.swap(go_chunk_);
    std::string_view chunk(held);
    const size_t n = chunk.size();
    const bool end = go_chunk_end_;
    const int32_t r = call_go(kind, end, &chunk, true);
    if (finished_ || r == MOE_LOCAL_REPLY) return;
    if (kind == MOE_EV_REQUEST_DATA && chunk.size() != n && !request_body_resized()) return;
    if (r == MOE_PENDING) {  // a later filter waits too
      go_pending_ = kind;
      go_chunk_.assign(chunk);
      return;
    }
    if (kind == MOE_EV_REQUEST_DATA) request_data_passed(r, chunk);
    else response_data_passed(r, chunk, end);
    if (finished_) return;
    continue_after_go(kind, MOE_CONTINUE);
    return;
  }
  const int32_t r = call_go(kind, false, nullptr, true);
  if (finished_ || r == MOE_LOCAL_REPLY) return;
  if (r == MOE_PENDING) {
    go_pending_ = kind;
    return;
  }
  continue_after_go(kind, r);
}

void Stream::continue_after_go(uint32_t kind, int32_t r) {
  // A filter answered late (a resume, the batch): its direction goes on,
  // then whatever of either direction waited for the chain meanwhile.
  if (r == MOE_STOP_AND_BUFFER) {
    if (kind == MOE_EV_REQUEST_HEADERS && (!request_done_ || request_.has_body)) req_buffering_ = true;
    if (kind == MOE_EV_RESPONSE_HEADERS) {  // (Go treats it as Continue on a head that ends the stream)
      // Reading may have stopped while the headers were held (resp_body_
      // over the watermark); buffering goes on to its own limit.
      resp_buffering_ = true;
      resume_upstream_read();
    }
  }
  if (kind == MOE_EV_REQUEST_HEADERS && r == MOE_CONTINUE && !request_.has_body && !req_trailers_held_) {
    // A request with no body (the usual late Continue: Pending, the batch):
    // nothing of it can wait and no response can have come (the head was
    // not routed): the head goes (pump_request's last steps, without its
    // walk).
    release_request_head();
    if (finished_) return;
    if (request_done_) request_end_ready();  // (no body: nothing goes but the state)
    if (finished_) return;
    resume_downstream();
    return;
  }
  pump_request();
  if (finished_) return;
  pump_response();
}

}  // namespace moe
