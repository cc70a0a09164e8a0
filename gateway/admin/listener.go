package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"
)

// The socket and the server's life: one daemon per state folder, so a
// socket that answers stops a second one from starting.

// listenUnix listens on a unix socket at p with mode 0600.
func listenUnix(p string) (net.Listener, error) {
	if len(p) >= 108 {
		return nil, fmt.Errorf("admin: socket path %q is longer than a unix socket allows (107 bytes)", p)
	}
	if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin: socket %s answers: another filegate is running with this state folder", p)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	// The state folder is 0700, so nobody else reaches the socket before
	// this.
	if err := os.Chmod(p, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	return l, nil
}

// Addr returns the socket's path.
func (a *Server) Addr() string { return a.cfg.Socket }

// Serve answers requests until Close; it returns nil then.
func (a *Server) Serve() error {
	err := a.http.Serve(a.l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, cancels running flushes and waits for them,
// and removes the socket.
func (a *Server) Close() error {
	a.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := a.http.Shutdown(ctx)
	if err != nil {
		err = a.http.Close()
	}
	a.wg.Wait()
	return err
}

func (a *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("admin request panicked", "op", r.URL.Path, "err", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, fmt.Errorf("internal error: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}
