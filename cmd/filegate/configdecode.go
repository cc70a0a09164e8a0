package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Decoding the configuration file: TOML over DefaultConfig, unknown and
// removed keys refused, and the sources errors name.

// LoadConfig reads the TOML file at path over DefaultConfig and validates
// the result. It rejects keys the Config does not have, naming them, and
// reports syntax and type errors with their line number. It only reads
// path: nothing is created on disk.
func LoadConfig(path string) (Config, error) {
	cfg, err := decodeConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, attributeErrors(err, func(string) string { return path })
	}
	return cfg, nil
}

// decodeConfigFile is LoadConfig without Validate, for callers that apply
// overrides (command-line flags) before validating.
func decodeConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the file.
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := decodeConfig(string(data))
	if err != nil {
		return Config{}, fileError(path, err)
	}
	return cfg, nil
}

// fileError says that err, a decodeConfig error, is about the config
// file path: a *FieldError names it as its source, any other error is
// prefixed with it.
func fileError(path string, err error) error {
	all := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	}
	out := make([]error, len(all))
	for i, e := range all {
		if fe, ok := e.(*FieldError); ok {
			fe.Source = path
			out[i] = fe
		} else {
			out[i] = fmt.Errorf("config: %s: %w", path, e)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// removedKeys are config keys that no longer exist, with what to do
// about them: a file that sets one is refused with that advice rather
// than as an unknown key.
var removedKeys = map[string]string{
	"server.frontend": "the go-nfs front end was removed and filegate always serves NFS with its own server " +
		`(what frontend = "nfsd" chose): delete the line`,
}

// rawValue is the value of key k in the TOML text, as text.
func rawValue(text string, k toml.Key) string {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return ""
	}
	var v any = raw
	for _, part := range k {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[part]
	}
	return fmt.Sprint(v)
}

// decodeConfig decodes TOML text over DefaultConfig, rejecting unknown keys.
func decodeConfig(text string) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		// toml.ParseError's message carries the line and the key.
		return Config{}, err
	}
	var errs []error
	var keys []string
	for _, k := range md.Undecoded() {
		if want, ok := removedKeys[k.String()]; ok {
			errs = append(errs, &FieldError{Key: k.String(), Value: rawValue(text, k), Want: want})
			continue
		}
		keys = append(keys, k.String())
	}
	if len(keys) > 0 {
		noun := "key"
		if len(keys) > 1 {
			noun = "keys"
		}
		errs = append(errs, fmt.Errorf("unknown %s %s (see `filegate help config` for the keys)",
			noun, strings.Join(keys, ", ")))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	def := DefaultConfig()
	for i := range cfg.Exports {
		x := &cfg.Exports[i]
		if x.Squash == "" {
			x.Squash = def.Server.Squash
		}
		if x.AnonUID == nil {
			x.AnonUID = &def.Server.AnonUID
		}
		if x.AnonGID == nil {
			x.AnonGID = &def.Server.AnonGID
		}
		if x.Backend.Type == "" {
			x.Backend.Type = def.Backend.Type
		}
		b, d := &x.Backend.S3, def.Backend.S3
		if b.Checksum == "" {
			b.Checksum = d.Checksum
		}
		if b.PartSize == 0 {
			b.PartSize = d.PartSize
		}
		if b.UploadConcurrency == 0 {
			b.UploadConcurrency = d.UploadConcurrency
		}
		if b.StatConcurrency == 0 {
			b.StatConcurrency = d.StatConcurrency
		}
	}
	return cfg, nil
}

// attributeErrors sets Source on every *FieldError in err (a single error or
// an errors.Join) for which source(key) is not empty, and returns err.
func attributeErrors(err error, source func(key string) string) error {
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			if s := source(fe.Key); s != "" {
				fe.Source = s
			}
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return err
}
