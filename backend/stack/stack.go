// Package stack composes the layers a store is used through, in one
// function, so the order of the layers, and so what each one sees, is
// decided in one place:
//
//	caller → retry → limit → metered → store
//
// The retry layer is on top so that a retried request passes the limit
// and the meter again, like the request it repeats: a retried upload is
// throttled again, as its bytes are sent again, and the metered layer
// next to the store counts every request actually sent, its latency is
// one request's rather than a sum over retries, and a probe calling it
// directly sees the network without retries hiding it.
//
// Renames are not a layer: package move works on any Store, composed or
// not.
package stack

import (
	"errors"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/backend/retry"
)

// Config is what New composes.
type Config struct {
	// Store is the store itself (S3, POSIX, or a test's), at the bottom.
	Store backend.Store
	// Retry, if set, puts the retry layer on top: for a store over a
	// network (S3), whose requests may fail for a moment. A local store
	// (POSIX) goes without: its errors are not ones a retry fixes.
	Retry *retry.Config
	// Limiter, if set, throttles Put and Get bodies. The stacks of all
	// exports share one, so its rates bound their sum.
	Limiter *limit.Limiter
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	if cfg.Store == nil {
		return errors.New("stack: Store is nil")
	}
	if cfg.Retry != nil {
		return cfg.Retry.Validate()
	}
	return nil
}

// Stack is a composed store and the layers its owner observes or steers.
type Stack struct {
	// Store is the top of the stack, what the caller uses. It implements
	// backend.Renamer and backend.UsageReporter exactly when
	// Config.Store does.
	Store backend.Store
	// Metered counts the requests that reach the store.
	Metered *metered.Store
	// Limits is the limit layer; nil without a Limiter.
	Limits *limit.Store
}

// New composes the stack cfg describes.
func New(cfg Config) (Stack, error) {
	if err := cfg.Validate(); err != nil {
		return Stack{}, err
	}
	var st Stack
	s := metered.New(cfg.Store)
	st.Metered = metered.Of(s)
	if cfg.Limiter != nil {
		s = cfg.Limiter.Wrap(s)
		st.Limits = limit.Of(s)
	}
	if cfg.Retry != nil {
		var err error
		if s, err = retry.New(s, *cfg.Retry); err != nil {
			return Stack{}, err
		}
	}
	st.Store = s
	return st, nil
}
