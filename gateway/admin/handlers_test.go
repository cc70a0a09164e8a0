package admin

import (
	"log/slog"
	"strings"
	"testing"
)

func TestAdminLogLevel(t *testing.T) {
	e := newAdminEnv(t)
	if code, b := e.do("GET", "/v1/loglevel", nil); code != 200 || !strings.Contains(string(b), `"info"`) {
		t.Errorf("get: %d %s", code, b)
	}
	if code, b := e.do("PUT", "/v1/loglevel", map[string]any{"level": "debug"}); code != 200 || e.level.Level() != slog.LevelDebug {
		t.Errorf("set debug: %d %s, level %v", code, b, e.level.Level())
	}
	if code, b := e.do("PUT", "/v1/loglevel", map[string]any{"level": "loud"}); code != 400 || !strings.Contains(string(b), "want debug, info, warn or error") {
		t.Errorf("set loud: %d %s", code, b)
	}
	if e.status().LogLevel != "debug" {
		t.Error("status does not show the new level")
	}
}
