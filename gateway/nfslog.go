package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	nfs "github.com/willscott/go-nfs"
)

// go-nfs logs through one package variable, nfs.Log, shared by every
// server in the process and read without synchronisation by its
// connection goroutines. So it is set once, before any server starts, to
// an adapter that forwards to the logger of the most recently started
// Server (in the daemon there is one).
var (
	nfsLogOnce   sync.Once
	nfsLogTarget atomic.Pointer[slog.Logger]
)

func routeNFSLog(l *slog.Logger) {
	nfsLogTarget.Store(l)
	nfsLogOnce.Do(func() { nfs.SetLogger(nfsLog{}) })
}

// nfsLog adapts go-nfs's Logger to slog. go-nfs logs each request at
// trace level, which becomes Debug ("debug each RPC"); its "errors" are
// failed requests and dropped connections, routine on a busy server and
// not a risk to data, so they become Warn. Its Panic and Fatal only log.
type nfsLog struct{}

var _ nfs.Logger = nfsLog{}

func (nfsLog) log(level slog.Level, msg string) {
	l := nfsLogTarget.Load()
	if l == nil {
		return
	}
	key := "op"
	if level >= slog.LevelWarn {
		key = "err"
	}
	l.Log(context.Background(), level, "nfs library", key, msg)
}

func (n nfsLog) logf(level slog.Level, format string, args ...any) {
	if l := nfsLogTarget.Load(); l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	n.log(level, fmt.Sprintf(format, args...))
}

func (n nfsLog) logln(level slog.Level, args ...any) {
	if l := nfsLogTarget.Load(); l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	n.log(level, fmt.Sprint(args...))
}

// SetLevel, GetLevel and ParseLevel exist for the interface: the slog
// handler's level decides.
func (nfsLog) SetLevel(nfs.LogLevel)                   {}
func (nfsLog) GetLevel() nfs.LogLevel                  { return nfs.TraceLevel }
func (nfsLog) ParseLevel(string) (nfs.LogLevel, error) { return nfs.TraceLevel, nil }

func (n nfsLog) Panic(args ...any) { n.logln(slog.LevelError, args...) }
func (n nfsLog) Fatal(args ...any) { n.logln(slog.LevelError, args...) }
func (n nfsLog) Error(args ...any) { n.logln(slog.LevelWarn, args...) }
func (n nfsLog) Warn(args ...any)  { n.logln(slog.LevelWarn, args...) }
func (n nfsLog) Info(args ...any)  { n.logln(slog.LevelInfo, args...) }
func (n nfsLog) Debug(args ...any) { n.logln(slog.LevelDebug, args...) }
func (n nfsLog) Trace(args ...any) { n.logln(slog.LevelDebug, args...) }
func (n nfsLog) Print(args ...any) { n.logln(slog.LevelInfo, args...) }

func (n nfsLog) Panicf(f string, args ...any) { n.logf(slog.LevelError, f, args...) }
func (n nfsLog) Fatalf(f string, args ...any) { n.logf(slog.LevelError, f, args...) }
func (n nfsLog) Errorf(f string, args ...any) { n.logf(slog.LevelWarn, f, args...) }
func (n nfsLog) Warnf(f string, args ...any)  { n.logf(slog.LevelWarn, f, args...) }
func (n nfsLog) Infof(f string, args ...any)  { n.logf(slog.LevelInfo, f, args...) }
func (n nfsLog) Debugf(f string, args ...any) { n.logf(slog.LevelDebug, f, args...) }
func (n nfsLog) Tracef(f string, args ...any) { n.logf(slog.LevelDebug, f, args...) }
func (n nfsLog) Printf(f string, args ...any) { n.logf(slog.LevelInfo, f, args...) }
