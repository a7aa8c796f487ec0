package api

import (
	"strconv"
	"unsafe"

	"moe/goext/internal/abi"
)

// Body is the body chunk of the current event (or the whole body after
// StopAndBuffer). Its bytes are a view valid only during the hook call.
type Body struct {
	st       *streamState
	target   uint8
	view     []byte
	own      []byte // Go copy, used once modified (reused across chunks)
	modified bool
}

func (b *Body) reset(st *streamState, target uint8, view []byte) {
	b.st, b.target, b.view, b.modified = st, target, view, false
}

// Bytes is the chunk. Valid only until the hook returns; do not modify it
// (use Replace), and bytes.Clone what you keep.
func (b *Body) Bytes() []byte { return b.view }

// Len is the chunk's length.
func (b *Body) Len() int { return len(b.view) }

// Replace sets the chunk to p (copied).
func (b *Body) Replace(p []byte) {
	if !b.ok() {
		return
	}
	b.own = append(b.own[:0], p...)
	b.view, b.modified = b.own, true
	b.st.emit(abi.OpBodyReplace, b.target, bstr(p), "")
}

// Append adds p (copied) at the end of the chunk.
func (b *Body) Append(p []byte) {
	if !b.ok() {
		return
	}
	b.own = append(b.mine(), p...)
	b.view = b.own
	b.st.emit(abi.OpBodyAppend, b.target, bstr(p), "")
}

// Prepend adds p (copied) in front of the chunk.
func (b *Body) Prepend(p []byte) {
	if !b.ok() {
		return
	}
	cur := b.mine()
	n := make([]byte, 0, len(p)+len(cur))
	b.own = append(append(n, p...), cur...)
	b.view = b.own
	b.st.emit(abi.OpBodyPrepend, b.target, bstr(p), "")
}

// Drain drops the first n bytes of the chunk (all of it if n >= Len()).
func (b *Body) Drain(n int) {
	if !b.ok() || n <= 0 {
		return
	}
	n = min(n, len(b.view))
	b.own = append(b.own[:0], b.mine()[n:]...)
	b.view = b.own
	var d [20]byte
	b.st.emit(abi.OpBodyDrain, b.target, string(strconv.AppendInt(d[:0], int64(n), 10)), "")
}

func (b *Body) ok() bool { return b.st != nil && !b.st.probe }

// mine makes the view Go-owned and returns it.
func (b *Body) mine() []byte {
	if !b.modified {
		b.own = append(b.own[:0], b.view...)
		b.view, b.modified = b.own, true
	}
	return b.own
}

func bstr(p []byte) string { return unsafe.String(unsafe.SliceData(p), len(p)) }
