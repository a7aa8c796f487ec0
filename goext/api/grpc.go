package api

import (
	"net/http"
	"strconv"
	"strings"
)

func isGRPC(contentType string) bool {
	return strings.HasPrefix(contentType, "application/grpc")
}

// grpcCode maps an HTTP status to a gRPC status code, as gRPC's
// http-grpc-status-mapping does.
func grpcCode(status int) int {
	switch status {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

func grpcReply(status int, headers [][2]string, body []byte) (int, [][2]string, []byte) {
	if status == 200 {
		return status, headers, body // already a gRPC answer
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(status)
	}
	out := make([][2]string, 0, len(headers)+3)
	hasStatus := false
	for _, h := range headers {
		switch strings.ToLower(h[0]) {
		case "content-type", "content-length":
			continue
		case "grpc-status":
			hasStatus = true
		}
		out = append(out, h)
	}
	out = append(out, [2]string{"content-type", "application/grpc"})
	if !hasStatus {
		out = append(out, [2]string{"grpc-status", strconv.Itoa(grpcCode(status))},
			[2]string{"grpc-message", grpcPercentEncode(msg)})
	}
	return 200, out, nil
}

// grpcPercentEncode encodes a grpc-message value (gRPC's PROTOCOL-HTTP2).
func grpcPercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%")
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}
