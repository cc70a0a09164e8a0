package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// adminClient calls the admin API on one socket.
type adminClient struct {
	socket string
	http   *http.Client
}

func newAdminClient(socket string) *adminClient {
	return &adminClient{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, "unix", socket)
		}}}}
}

// notRunning is a failure to reach the daemon.
type notRunning struct{ msg string }

func (e notRunning) Error() string { return e.msg }

// call sends one request and returns the response, whose body the
// caller closes; a non-2xx answer is returned as its error message.
func (a *adminClient) call(method, path string, body any) (*http.Response, error) {
	return a.callCtx(context.Background(), method, path, body)
}

// callCtx is call bounded by ctx.
func (a *adminClient) callCtx(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://filegate"+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, notRunning{fmt.Sprintf("filegate is not running (no socket at %s): start it with systemctl start filegate or filegate serve", a.socket)}
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, notRunning{fmt.Sprintf("filegate is not running (nothing answers on %s): start it with systemctl start filegate or filegate serve", a.socket)}
		case errors.Is(err, fs.ErrPermission):
			return nil, notRunning{fmt.Sprintf("permission denied on %s: the admin socket is root-only; run this as root (sudo)", a.socket)}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, notRunning{fmt.Sprintf("cannot reach filegate on %s: %v", a.socket, err)}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}

// callJSON is call, decoding the answer into out.
func (a *adminClient) callJSON(method, path string, body, out any) error {
	resp, err := a.call(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
