package main

import (
	"errors"
	"testing"
)

func TestValidateFieldError(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Server.Listen = "abc"
	err := cfg.Validate()
	const want = `config: server.listen "abc": want HOST:PORT such as 127.0.0.1:2049`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "server.listen" {
		t.Fatalf("Validate error %#v is not a *FieldError for server.listen", err)
	}
}

func TestCheckHostPort(t *testing.T) {
	good := []string{"127.0.0.1:2049", ":2049", "0.0.0.0:0", "[::]:2049", "[::1]:12049", "localhost:2049", "nfs-gw.example.com:2049"}
	bad := []string{"", "abc", "2049", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+1",
		"a_b:2049", "-x:2049", "a..b:2049", "::1:2049"}
	for _, s := range good {
		if err := checkHostPort(s); err != nil {
			t.Errorf("checkHostPort(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		if err := checkHostPort(s); err == nil {
			t.Errorf("checkHostPort(%q) = nil, want error", s)
		}
	}
}
