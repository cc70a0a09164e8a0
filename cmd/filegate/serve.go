package main

import (
	"context"
	"errors"
	"log/slog"
)

// runServe runs the gateway with a validated cfg until ctx is done (SIGINT
// or SIGTERM), then shuts down in order: stop accepting, drain RPCs, flush
// the write-back, close the cache. It returns nil after a clean shutdown.
//
// Placeholder: the wiring (backend, cache, gateway) is not written yet.
func runServe(ctx context.Context, cfg Config, logger *slog.Logger) error {
	_, _, _ = ctx, cfg, logger
	return errors.New("serve: not wired yet")
}
