package background

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGuardLogsAPanic(t *testing.T) {
	var buf bytes.Buffer
	g := Group{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	g.Guard("task", func() { panic("boom") })
	if out := buf.String(); !strings.Contains(out, "op=task") || !strings.Contains(out, "boom") {
		t.Fatalf("log %q", out)
	}
}

func TestEveryRunsOnKickAndLastAtTheEnd(t *testing.T) {
	var g Group
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{})
	var runs, lasts atomic.Int32
	g.Every(ctx, time.Hour, kick, func() { runs.Add(1) }, func() { lasts.Add(1) })
	kick <- struct{}{}
	kick <- struct{}{} // taken only once the first run is done
	cancel()
	g.Wait()
	if runs.Load() < 1 || lasts.Load() != 1 {
		t.Fatalf("runs %d, lasts %d", runs.Load(), lasts.Load())
	}
}
