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
