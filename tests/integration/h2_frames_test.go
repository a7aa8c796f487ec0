package integration

// A tiny HTTP/2 client built from raw bytes (so a test controls every byte
// and can send what no client library would): frames are
// written by hand and header blocks use only HPACK literals with literal
// names, which need no table and no Huffman coding. Responses are not
// HPACK-decoded; tests look at frame types, flags, stream ids and DATA.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Frame types and flags (RFC 9113 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoaway       = 0x7
	frameWindowUpdate = 0x8

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4

	errCodeNo              = 0x0
	errCodeCancel          = 0x8
	errCodeEnhanceYourCalm = 0xb
)

type h2Frame struct {
	Type, Flags byte
	Stream      uint32
	Payload     []byte
}

func (f h2Frame) String() string {
	return fmt.Sprintf("frame type=%d flags=%#x stream=%d len=%d", f.Type, f.Flags, f.Stream, len(f.Payload))
}

// appendFrame appends one frame to b.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream&0x7fffffff)
	return append(b, payload...)
}

// hpackInt appends an HPACK integer with an n-bit prefix; first carries the
// pattern bits above the prefix.
func hpackInt(b []byte, first byte, n uint, v int) []byte {
	max := 1<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v%128+128))
		v /= 128
	}
	return append(b, byte(v))
}

// hpackLiteral appends "literal header field without indexing, new name"
// (0x00) or, when neverIndexed, "never indexed, new name" (0x10); neither
// touches the dynamic table, so any sequence of them is a valid block.
func hpackLiteral(b []byte, name, value string, neverIndexed bool) []byte {
	first := byte(0x00)
	if neverIndexed {
		first = 0x10
	}
	b = append(b, first)
	b = hpackInt(b, 0, 7, len(name)) // H=0: not Huffman-coded
	b = append(b, name...)
	b = hpackInt(b, 0, 7, len(value))
	return append(b, value...)
}

// requestBlock is the header block of a request: pseudo-headers first, then
// extra name/value pairs.
func requestBlock(method, path, authority string, extra ...string) []byte {
	var b []byte
	b = hpackLiteral(b, ":method", method, false)
	b = hpackLiteral(b, ":scheme", "http", false)
	b = hpackLiteral(b, ":path", path, false)
	b = hpackLiteral(b, ":authority", authority, true)
	for i := 0; i+1 < len(extra); i += 2 {
		b = hpackLiteral(b, extra[i], extra[i+1], i%4 == 2)
	}
	return b
}

// h2Raw is one raw HTTP/2 connection.
type h2Raw struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialH2 connects, sends the preface and an empty SETTINGS frame.
func dialH2(t testing.TB, addr string) *h2Raw {
	t.Helper()
	c := dial(t, addr)
	h := &h2Raw{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
	b := append([]byte(h2Preface), appendFrame(nil, frameSettings, 0, 0, nil)...)
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write preface: %v", err)
	}
	return h
}

func (h *h2Raw) write(b []byte) {
	h.t.Helper()
	if _, err := h.c.Write(b); err != nil {
		h.t.Fatalf("write: %v", err)
	}
}

// get sends a GET on stream id, with END_STREAM.
func (h *h2Raw) get(id uint32, path string) {
	h.t.Helper()
	h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, id, requestBlock("GET", path, "h2.test")))
}

// readFrame reads the next frame; SETTINGS and PING are acknowledged so the
// peer never waits on us.
func (h *h2Raw) readFrame() (h2Frame, error) {
	var hd [9]byte
	if _, err := io.ReadFull(h.br, hd[:]); err != nil {
		return h2Frame{}, err
	}
	n := int(hd[0])<<16 | int(hd[1])<<8 | int(hd[2])
	f := h2Frame{Type: hd[3], Flags: hd[4], Stream: binary.BigEndian.Uint32(hd[5:]) & 0x7fffffff, Payload: make([]byte, n)}
	if _, err := io.ReadFull(h.br, f.Payload); err != nil {
		return h2Frame{}, err
	}
	switch {
	case f.Type == frameSettings && f.Flags&flagAck == 0:
		h.c.Write(appendFrame(nil, frameSettings, flagAck, 0, nil))
	case f.Type == framePing && f.Flags&flagAck == 0:
		h.c.Write(appendFrame(nil, framePing, flagAck, 0, f.Payload))
	}
	return f, nil
}

// h2Exchange is what arrived for one stream.
type h2Exchange struct {
	Headers int    // HEADERS frames (informational, final, trailers)
	Body    []byte // DATA payloads
	Ended   bool   // END_STREAM seen
	Reset   uint32 // RST_STREAM error code + 1 (0: none)
}

// readUntil reads frames into per-stream exchanges until done returns true,
// the connection ends (returns the error) or the deadline passes.
func (h *h2Raw) readUntil(limit time.Duration, done func(f h2Frame, ex map[uint32]*h2Exchange) bool) (map[uint32]*h2Exchange, []h2Frame, error) {
	h.c.SetReadDeadline(time.Now().Add(limit))
	ex := map[uint32]*h2Exchange{}
	var all []h2Frame
	for {
		f, err := h.readFrame()
		if err != nil {
			return ex, all, err
		}
		all = append(all, f)
		if f.Stream != 0 {
			e := ex[f.Stream]
			if e == nil {
				e = &h2Exchange{}
				ex[f.Stream] = e
			}
			switch f.Type {
			case frameHeaders:
				e.Headers++
			case frameData:
				e.Body = append(e.Body, f.Payload...)
				// Keep the windows open (the default 64 KiB would do for
				// these small tests; be generous anyway).
				if len(f.Payload) > 0 {
					wu := binary.BigEndian.AppendUint32(nil, uint32(len(f.Payload)))
					h.c.Write(appendFrame(appendFrame(nil, frameWindowUpdate, 0, 0, wu), frameWindowUpdate, 0, f.Stream, wu))
				}
			case frameRSTStream:
				if len(f.Payload) == 4 {
					e.Reset = binary.BigEndian.Uint32(f.Payload) + 1
				}
			}
			if f.Flags&flagEndStream != 0 && (f.Type == frameHeaders || f.Type == frameData) {
				e.Ended = true
			}
		}
		if done(f, ex) {
			return ex, all, nil
		}
	}
}

// goawayCode returns the error code of a GOAWAY frame.
func goawayCode(f h2Frame) (lastStream, code uint32) {
	if len(f.Payload) < 8 {
		return 0, 0xffffffff
	}
	return binary.BigEndian.Uint32(f.Payload) & 0x7fffffff, binary.BigEndian.Uint32(f.Payload[4:])
}

// needTool fails (not skips) when a client tool is missing: make test
// installs them (scripts/install-deps.sh), so CI must not drop tests.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not installed (Debian package nghttp2-client / curl; scripts/install-deps.sh installs it)", name)
	}
}

// h2YAML is simpleYAML with `http2: true` on the listener.
func h2YAML(workers int, endpoints ...string) string {
	return strings.Replace(simpleYAML(workers, endpoints...), "    address: \"{{listen}}\"\n",
		"    address: \"{{listen}}\"\n    http2: true\n", 1)
}
