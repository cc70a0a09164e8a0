package backend

// Extend returns base with the optional interfaces rename and usage added
// (each nil when absent), so a wrapper of a Store can keep exactly the
// abilities of the store it wraps: callers test for Renamer and
// UsageReporter with type assertions. Base recovers base.
func Extend(base Store, rename Renamer, usage UsageReporter) Store {
	switch {
	case rename != nil && usage != nil:
		return &renameUsageStore{base, rename, usage}
	case rename != nil:
		return &renameStore{base, rename}
	case usage != nil:
		return &usageStore{base, usage}
	}
	return base
}

// Base returns the store that Extend was given to make s, or s itself.
func Base(s Store) Store {
	switch e := s.(type) {
	case *renameStore:
		return e.Store
	case *usageStore:
		return e.Store
	case *renameUsageStore:
		return e.Store
	}
	return s
}

type renameStore struct {
	Store
	Renamer
}

type usageStore struct {
	Store
	UsageReporter
}

type renameUsageStore struct {
	Store
	Renamer
	UsageReporter
}
