package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/filegate/filegate/cache"
)

// The handlers of the other endpoints and the JSON answers they share.

func (a *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

// httpError carries an HTTP status for an error.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }

func (e *httpError) Unwrap() error { return e.err }

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{http.StatusBadRequest, fmt.Errorf("bad request body: %w", err)}
	}
	return nil
}

func (a *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	for _, t := range ts {
		dir := t.attr.Ino
		if !t.attr.IsDir() {
			// A file: refresh the folder it is in.
			parent, err := t.x.walk(r.Context(), path.Dir(t.inside))
			if err != nil {
				writeErr(w, err)
				return
			}
			dir = parent.Ino
		}
		if err := t.x.c.Refresh(r.Context(), dir); err != nil {
			writeErr(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "refreshed": true})
}

func (a *Server) handlePin(w http.ResponseWriter, r *http.Request) {
	a.progressOp(w, r, func(ctx context.Context, c adminCache, ino cache.Ino) (cache.Progress, error) {
		return c.Pin(ctx, ino, nil)
	})
}

// progressOp runs op on every target of the request's path and answers
// with the files and bytes it reports in all.
func (a *Server) progressOp(w http.ResponseWriter, r *http.Request, op func(context.Context, adminCache, cache.Ino) (cache.Progress, error)) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	var sum cache.Progress
	for _, t := range ts {
		p, err := op(r.Context(), t.x.c, t.attr.Ino)
		if err != nil {
			writeErr(w, err)
			return
		}
		sum.Files, sum.Bytes = sum.Files+p.Files, sum.Bytes+p.Bytes
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "files": sum.Files, "bytes": sum.Bytes})
}

func (a *Server) handleUnpin(w http.ResponseWriter, r *http.Request) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	sum := 0
	for _, t := range ts {
		n, err := t.x.c.Unpin(r.Context(), t.attr.Ino)
		if err != nil {
			writeErr(w, err)
			return
		}
		sum += n
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "files": sum})
}

func (a *Server) handleEvict(w http.ResponseWriter, r *http.Request) {
	a.progressOp(w, r, func(ctx context.Context, c adminCache, ino cache.Ino) (cache.Progress, error) {
		return c.Evict(ctx, ino)
	})
}

func (a *Server) handleGetLevel(w http.ResponseWriter, r *http.Request) {
	lvl := "info"
	if a.cfg.LogLevel != nil {
		lvl = levelName(a.cfg.LogLevel.Level())
	}
	writeJSON(w, http.StatusOK, levelBody{lvl})
}

func (a *Server) handleSetLevel(w http.ResponseWriter, r *http.Request) {
	var req levelBody
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	lvl, err := ParseLevel(req.Level)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if a.cfg.LogLevel == nil {
		writeError(w, http.StatusNotImplemented, errors.New("the log level cannot be changed"))
		return
	}
	old := a.cfg.LogLevel.Level()
	a.log.Info("log level changed", "op", "loglevel", "from", levelName(old), "to", levelName(lvl))
	a.cfg.LogLevel.Set(lvl)
	writeJSON(w, http.StatusOK, levelBody{levelName(lvl)})
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{err.Error()})
}

// writeErr answers err with its status: 4xx for a bad request or path,
// 503 when the daemon is stopping, else 500.
func writeErr(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.code, err)
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("filegate is stopping: %w", err))
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}
