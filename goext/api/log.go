package api

import "moe/goext/internal/host"

// Level is a log level of moe's log.
type Level int32

const (
	LevelTrace Level = 0
	LevelDebug Level = 1
	LevelInfo  Level = 2
	LevelWarn  Level = 3
	LevelError Level = 4
)

// Log writes msg to moe's log (spdlog) at level. Any goroutine. It is a call
// into C++: fine for events worth a line, not for every request at info.
func Log(level Level, msg string) {
	if e := host.Current; e != nil {
		e.Log(int32(level), msg)
	}
}
