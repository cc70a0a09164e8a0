package testutil

import (
	"log/slog"
	"os"
)

// EnvLog names the environment variable that, when set, makes Logger
// write debug logs to stderr.
const EnvLog = "FILEGATE_TEST_LOG"

// Logger is the logger of the servers and caches a test runs in its own
// process: discarded, unless FILEGATE_TEST_LOG is set to follow a
// failing test at debug level.
func Logger() *slog.Logger {
	if os.Getenv(EnvLog) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
