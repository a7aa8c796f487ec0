package api

import (
	"strconv"
	"strings"
	"unsafe"

	"moe/goext/internal/abi"
)

// Header is a block of HTTP header fields (request or response headers, or
// trailers). Names are lower-case; the name arguments of every method may be
// written in any case. Values read from it are views of moe's memory, valid
// for the stream (see the package doc); a change is visible to the later
// filters of the chain at once and is applied by moe when the chain returns.
type Header struct {
	st     *streamState
	target uint8
	raw    []abi.Header // moe's array: a view valid during the current call only
	// The overlay. Not modified: the fields are raw followed by kv (fields
	// added by Set/Add of names raw doesn't have): adding a field copies
	// nothing. Modified (a field of raw was replaced or removed): kv holds
	// every field.
	kv       []field
	modified bool
	// rawMiss is a name known to be absent from raw (the last Lookup that
	// missed it), so the usual "if absent, Set" scans raw once, not twice.
	rawMiss string
}

type field struct{ name, value string }

func (h *Header) reset(st *streamState, target uint8, raw []abi.Header) {
	h.st, h.target, h.raw, h.kv, h.modified, h.rawMiss = st, target, raw, h.kv[:0], false, ""
}

// Get returns the first value of name, or "" when absent.
func (h *Header) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// Lookup returns the first value of name and whether it is present.
func (h *Header) Lookup(name string) (string, bool) {
	name = h.key(name)
	if !h.modified {
		if i := h.rawIndex(name); i >= 0 {
			r := &h.raw[i]
			v := abi.String(r.Value, r.ValueLen)
			if h.st != nil {
				h.st.lastView = v
			}
			return v, true
		}
		h.rawMiss = name
	}
	for i := range h.kv {
		if h.kv[i].name == name {
			return h.kv[i].value, true
		}
	}
	return "", false
}

// key is name lower-cased, for a lookup. A valid lower-case name is
// remembered for the call (streamState.goodName): a filter names the same
// header in its Lookup and Set (traceid: five times per request), and the
// scan is then done once per call.
func (h *Header) key(name string) string {
	st := h.st
	if st != nil && isView(name, st.goodName) {
		return name
	}
	switch cls := nameBits(name); {
	case cls == 0:
		if st != nil && name != "" {
			st.goodName = name
		}
	case cls&nameUpper != 0:
		return lowerName(name)
	}
	return name // lower-case, valid or not (":authority")
}

// rawIndex is the index of name's first field in raw, or -1. The lengths are
// compared first: most names differ in length, and that needs no load of
// the name's bytes (moe's memory, often not in cache).
func (h *Header) rawIndex(name string) int {
	for i := range h.raw {
		r := &h.raw[i]
		if int(r.NameLen) == len(name) && abi.String(r.Name, r.NameLen) == name {
			return i
		}
	}
	return -1
}

// inRaw tells whether raw has a field called name.
func (h *Header) inRaw(name string) bool {
	if name == h.rawMiss {
		return false
	}
	return h.rawIndex(name) >= 0
}

// Values returns every value of name, in order (nil when absent).
func (h *Header) Values(name string) []string {
	name = h.key(name)
	var out []string
	h.Range(func(n, v string) bool {
		if n == name {
			out = append(out, v)
		}
		return true
	})
	return out
}

// Range calls fn for each field in order until fn returns false.
func (h *Header) Range(fn func(name, value string) bool) {
	if !h.modified {
		for i := range h.raw {
			r := &h.raw[i]
			if !fn(abi.String(r.Name, r.NameLen), abi.String(r.Value, r.ValueLen)) {
				return
			}
		}
	}
	for _, f := range h.kv {
		if !fn(f.name, f.value) {
			return
		}
	}
}

// Len is the number of fields.
func (h *Header) Len() int {
	if h.modified {
		return len(h.kv)
	}
	return len(h.raw) + len(h.kv)
}

// Set replaces every value of name with value.
func (h *Header) Set(name, value string) {
	if name = h.settable(name, value, "Set"); name == "" {
		return
	}
	// A name that was in neither raw nor kv is in none of moe's fields
	// either (raw is moe's list as of this call, kv every change since):
	// moe can append instead of searching its list for fields to replace.
	op := uint8(abi.OpAdd)
	if h.replace(name, value) {
		op = abi.OpSet
	}
	h.st.emit(op, h.target, name, value)
}

// replace makes value the only field called name in the overlay, and says
// whether there was one before.
func (h *Header) replace(name, value string) (present bool) {
	if !h.modified && h.inRaw(name) {
		h.materialize()
		present = true
	}
	if h.del(name) {
		present = true
	}
	h.kv = append(h.kv, field{name, value})
	return present
}

// Add appends a field.
func (h *Header) Add(name, value string) {
	if name = h.settable(name, value, "Add"); name == "" {
		return
	}
	h.kv = append(h.kv, field{name, value})
	h.st.emit(abi.OpAdd, h.target, name, value)
}

// Del removes every value of name.
func (h *Header) Del(name string) {
	if name = h.checked(name, ""); name == "" {
		return
	}
	if _, ok := h.Lookup(name); !ok {
		return
	}
	if !h.modified && h.inRaw(name) {
		h.materialize()
	}
	h.del(name)
	h.st.emit(abi.OpDel, h.target, name, "")
}

// del removes name from kv; false when kv had no such field.
func (h *Header) del(name string) bool {
	first := -1
	for i := range h.kv {
		if h.kv[i].name == name {
			first = i
			break
		}
	}
	if first < 0 {
		return false
	}
	kv := h.kv[:first]
	for _, f := range h.kv[first:] {
		if f.name != name {
			kv = append(kv, f)
		}
	}
	clear(h.kv[len(kv):])
	h.kv = kv
	return true
}

// materialize makes kv hold every field (raw's, then the added ones), so
// raw can be changed or dropped. Only a change to a field of raw needs it,
// and the response headers when their call ends (dropViews).
func (h *Header) materialize() {
	if h.modified {
		return
	}
	h.modified = true
	n, added := len(h.raw), len(h.kv)
	if n == 0 {
		return
	}
	if cap(h.kv) < n+added {
		kv := make([]field, n+added, max(n+added+4, 16))
		copy(kv[n:], h.kv)
		h.kv = kv
	} else {
		h.kv = h.kv[:n+added]
		copy(h.kv[n:], h.kv[:added])
	}
	for i := range h.raw {
		r := &h.raw[i]
		h.kv[i] = field{abi.String(r.Name, r.NameLen), abi.String(r.Value, r.ValueLen)}
	}
}

// settable is checked, and refuses the fields that frame the message or
// belong to the connection (framingName): moe strips the client's before
// any filter runs and frames what it sends itself, so a filter's
// transfer-encoding or connection would reach the peer beside moe's own
// (a CL+TE request upstream). Logged.
func (h *Header) settable(name, value, what string) string {
	if name = h.checked(name, value); name == "" {
		return ""
	}
	if framingName(name) {
		h.st.logf(LevelError, "Header.%s(%q): moe frames the message and owns the connection's fields; ignored", what, name)
		return ""
	}
	return name
}

// checked lower-cases name and validates name and value; "" = rejected (logged).
func (h *Header) checked(name, value string) string {
	st := h.st
	if st == nil || st.probe {
		return ""
	}
	return st.checkedField(name, value)
}

// checkedField is name in canonical (lower-case) form when name and value
// make a valid header field, else "" (logged).
func (st *streamState) checkedField(name, value string) string {
	ok := isView(name, st.goodName) // a prefix of a lower-case token is one too
	if !ok {
		if name, ok = canonName(name); ok {
			st.goodName = name
		}
	}
	// A view of a header value moe handed out during this call (the last
	// Lookup's) was checked by moe's parsers or by an earlier Set: a filter
	// copying a header (traceid's response id) needs no second scan. Any
	// other value is checked: a CR, LF or NUL would split the field on the
	// wire, and moe does not check the ops again.
	if ok && !isView(value, st.lastView) {
		// Checked now, and unchanging for the rest of the call: the same
		// value set again (traceid's id on the request, then for the
		// response) needs no second scan.
		if ok = validValue(value); ok {
			st.lastView = value
		}
	}
	if !ok {
		st.logf(LevelError, "invalid header field %q: %q (ignored)", name, value)
		return ""
	}
	return name
}

// isView tells whether s is v or its start (the same bytes of memory). For
// strings that can't change during the call (a call's views of moe's and
// CopyString's memory, or Go strings).
func isView(s, v string) bool {
	return len(s) > 0 && len(s) <= len(v) && unsafe.StringData(s) == unsafe.StringData(v)
}

func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return lowerCopy(s, i)
		}
	}
	return s
}

// lowerCopy lower-cases s from i on, in a copy.
func lowerCopy(s string, i int) string {
	b := []byte(s)
	for j := i; j < len(b); j++ {
		if c := b[j]; c >= 'A' && c <= 'Z' {
			b[j] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// canonName is lowerName and validName in one pass (one table load and an OR
// per byte): the name of every Set/Add/Del is checked.
func canonName(s string) (string, bool) {
	switch cls := nameBits(s); {
	case cls == 0 && s != "":
		return s, true
	case cls == nameUpper:
		return lowerCopy(s, 0), true
	}
	return s, false
}

// validName: a non-empty RFC 9110 token in lower case (no pseudo-headers).
func validName(s string) bool { return s != "" && nameBits(s) == 0 }

// nameBits ORs the nameClass of s's bytes.
func nameBits(s string) uint8 {
	var cls uint8
	for i := 0; i < len(s); i++ {
		cls |= nameClass[s[i]]
	}
	return cls
}

// validMethod: a non-empty token, any case (methods are case-sensitive).
func validMethod(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !tokenChar[c] && !(c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validTarget: a path (with its query) that an HTTP/1.1 request line can
// carry: origin-form, starting with "/", or "*" (RFC 9112 3.2), bytes 0x21
// to 0x7e only, as moe's C++ valid_request_target (src/http/headers.h).
// Not absolute-form: an upstream would take "http://other/x"'s authority
// over the Host header, and routing has been done on Host.
func validTarget(s string) bool {
	if s == "" || s[0] != '/' && s != "*" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i]-0x21 > 0x7e-0x21 || s[i] == '#' { // no fragment: not part of a target
			return false
		}
	}
	return true
}

// validAuthority is moe's rule for a Host (valid_authority in
// src/http/headers.cc, which applies it to the op again): host[:port],
// host an [IPv6] literal or a reg-name of unreserved characters,
// sub-delims and %XX escapes; port digits.
func validAuthority(a string) bool {
	i := 0
	if a != "" && a[0] == '[' {
		end := strings.IndexByte(a, ']')
		if end <= 1 {
			return false
		}
		for i = 1; i < end; i++ {
			if c := a[i]; !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		i = end + 1
	} else {
		for ; i < len(a) && a[i] != ':'; i++ {
			c := a[i]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
				strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
			case c == '%' && i+2 < len(a) && isHex(a[i+1]) && isHex(a[i+2]):
				i += 2
			default:
				return false
			}
		}
	}
	if i == len(a) {
		return true
	}
	if a[i] != ':' {
		return false
	}
	for i++; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// validValue: no CR, LF or NUL (what would split or end a field on the wire).
// Eight bytes at a time, with one test per word: all three bytes are below
// 0x0e, and a printable value has none, so only a word holding a byte below
// 0x0e (a tab, say) is looked at byte by byte. The last word overlaps the
// one before it instead of ending in a byte loop.
func validValue(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := len(s)
	if n < 8 {
		return validBytes(s)
	}
	p := unsafe.Pointer(unsafe.StringData(s))
	for i := 0; ; i += 8 {
		i = min(i, n-8)
		// An unaligned 8-byte load, fine on amd64 and arm64. Exact for
		// "some byte < 0x0e" (the borrow trick is exact below 0x80).
		w := *(*uint64)(unsafe.Add(p, i))
		if (w-0x0e*ones)&^w&highs != 0 && !validBytes(s[i:i+8]) {
			return false
		}
		if i == n-8 {
			return true
		}
	}
}

func validBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if badValueChar[s[i]] {
			return false
		}
	}
	return true
}

// nameClass: 0 for a lower-case token byte, nameUpper for A-Z, nameBad for
// the rest.
const nameUpper, nameBad = 1, 2

var nameClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case tokenChar[c]:
		case c >= 'A' && c <= 'Z':
			t[c] = nameUpper
		default:
			t[c] = nameBad
		}
	}
	return
}()

var tokenChar, badValueChar = func() (tok, bad [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		tok[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		tok[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tok[c] = true
	}
	bad['\r'], bad['\n'], bad[0] = true, true, true
	return
}()

// RequestHeaders are the request's headers plus its request line.
type RequestHeaders struct {
	Header
	method, path, scheme string
}

// reset binds the view to raw, this call's request-header array. The request
// line comes from the event when it carries one (moe sends it on every
// event, with earlier SetMethod/SetPath applied), or when first is set (a new
// stream). A SetHost of an earlier call is now the array's host header (and
// one of this call is in the overlay, like a Set).
func (h *RequestHeaders) reset(st *streamState, ev *abi.Event, raw []abi.Header, first bool) {
	h.Header.reset(st, abi.TargetRequestHeaders, raw)
	if first || ev.Kind == abi.EvRequestHeaders || ev.MethodLen > 0 {
		h.method = abi.String(ev.Method, ev.MethodLen)
		h.path = abi.String(ev.Path, ev.PathLen)
		h.scheme = abi.String(ev.Scheme, ev.SchemeLen)
	}
}

// Method is the request method ("GET").
func (h *RequestHeaders) Method() string { return h.method }

// Path is the request-target ("/a/b?q=1").
func (h *RequestHeaders) Path() string { return h.path }

// Scheme is "http" or "https".
func (h *RequestHeaders) Scheme() string { return h.scheme }

// Host is the authority: the Host header (or HTTP/2 :authority).
func (h *RequestHeaders) Host() string {
	if v, ok := h.Lookup("host"); ok {
		return v
	}
	return h.Get(":authority")
}

// SetMethod changes the method sent upstream. A method that is not an
// HTTP token is logged and ignored, and so is a change to or from HEAD or
// CONNECT: the client's response is framed by the client's method (a
// HEAD's has no body, a CONNECT's is a tunnel), so the upstream's answer
// to another method could not be relayed to it.
func (h *RequestHeaders) SetMethod(m string) {
	if h.st == nil || h.st.probe {
		return
	}
	if !validMethod(m) {
		h.st.logf(LevelError, "SetMethod(%q): not an HTTP token; ignored", m)
		return
	}
	if (m == "HEAD") != (h.method == "HEAD") || (m == "CONNECT") != (h.method == "CONNECT") {
		h.st.logf(LevelError, "SetMethod(%q) on a %s request: HEAD and CONNECT decide how the client's response is framed; ignored", m, h.method)
		return
	}
	h.method = m
	h.st.emit(abi.OpSetMethod, abi.TargetRequestHeaders, m, "")
}

// SetPath changes the request-target sent upstream (path and query). It
// starts with "/" (or is "*"), and it goes into an HTTP/1.1 request line,
// so it must be visible ASCII with no space: percent-encode anything else
// (url.PathEscape, url.Values.Encode). Any other target is logged and
// ignored.
func (h *RequestHeaders) SetPath(p string) {
	if h.st == nil || h.st.probe {
		return
	}
	if !validTarget(p) {
		h.st.logf(LevelError, "SetPath(%q): a path starts with \"/\" and is visible ASCII, without spaces (percent-encode the rest); ignored", p)
		return
	}
	h.path = p
	h.st.emit(abi.OpSetPath, abi.TargetRequestHeaders, p, "")
}

// SetHost changes the authority sent upstream. An empty or invalid value
// is logged and ignored.
func (h *RequestHeaders) SetHost(host string) {
	if h.st == nil || h.st.probe {
		return
	}
	if host == "" || !validAuthority(host) {
		h.st.logf(LevelError, "SetHost(%q): not host[:port] (an RFC 3986 authority without userinfo); ignored", host)
		return
	}
	// The overlay has it like a Set (Get, Lookup and a later Set see it);
	// moe gets its own op, which also routes the request again.
	h.replace("host", host)
	h.st.emit(abi.OpSetHost, abi.TargetRequestHeaders, host, "")
}

// ResponseHeaders are the response's headers plus its status.
type ResponseHeaders struct {
	Header
	status int
}

func (h *ResponseHeaders) reset(st *streamState, ev *abi.Event) {
	h.Header.reset(st, abi.TargetResponseHeaders, abi.Headers(ev.Headers, ev.HeaderCount))
	h.status = int(ev.Status)
}

// Status is the response status code.
func (h *ResponseHeaders) Status() int { return h.status }

// SetStatus changes the status sent to the client (100..999).
func (h *ResponseHeaders) SetStatus(code int) {
	if h.st == nil || h.st.probe || code < 100 || code > 999 {
		return
	}
	h.status = code
	var b [8]byte
	h.st.emit(abi.OpSetStatus, abi.TargetResponseHeaders, string(strconv.AppendInt(b[:0], int64(code), 10)), "")
}
