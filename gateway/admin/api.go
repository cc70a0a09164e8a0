package admin

import "time"

// The JSON documents of the API: what status answers, a flush's
// progress lines, and the bodies of requests and errors. cmd/filegate
// decodes the same types, so client and server cannot drift apart.

// Status is the state of the gateway, one JSON document.
type Status struct {
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Exports are each export's state, in the order of the config.
	Exports []ExportStatus `json:"exports"`
	Clients []ClientStatus `json:"clients"`
	// Cache, Dirty, Uploads and Failing add up every export's.
	Cache    CacheStatus  `json:"cache"`
	Dirty    DirtyStatus  `json:"dirty"`
	Uploads  UploadStatus `json:"uploads"`
	Failing  []Failing    `json:"failing"`
	Limits   LimitsStatus `json:"limits"`
	LogLevel string       `json:"log_level"`
	// Health is every export's: OK only when each is; with several
	// exports each problem starts with the export's name.
	Health Health `json:"health"`
}

// ExportStatus is the state of one export.
type ExportStatus struct {
	Name string `json:"name"`
	// Listen is the NFS server's address (the same for every export).
	Listen  string        `json:"listen"`
	Backend BackendStatus `json:"backend"`
	Cache   CacheStatus   `json:"cache"`
	Dirty   DirtyStatus   `json:"dirty"`
	Uploads UploadStatus  `json:"uploads"`
	Failing []Failing     `json:"failing"`
	// NamespaceProblem says what is wrong with the namespace's log or
	// database (updates slower, or refused until a restart).
	NamespaceProblem string `json:"namespace_problem,omitempty"`
	Health           Health `json:"health"`
}

// ClientStatus is one connected client.
type ClientStatus struct {
	Addr string `json:"addr"`
	// Since is when it connected; zero when unknown.
	Since time.Time `json:"since,omitzero"`
}

// BackendStatus is what is known of the backend.
type BackendStatus struct {
	Name string `json:"name"`
	// Probed is false until the first probe ended; Reachable and
	// LatencySeconds are the last probe's.
	Probed         bool      `json:"probed"`
	Reachable      bool      `json:"reachable"`
	LatencySeconds float64   `json:"latency_seconds"`
	LastProbe      time.Time `json:"last_probe,omitzero"`
	ProbeError     string    `json:"probe_error,omitempty"`
	// LastError is the last failed request, of any kind.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Requests    int64     `json:"requests"`
	Errors      int64     `json:"errors"`
	BytesUp     int64     `json:"bytes_up"`
	BytesDown   int64     `json:"bytes_down"`
}

// CacheStatus is the cache's use of its disk and its hit rates.
type CacheStatus struct {
	UsedBytes int64 `json:"used_bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	Reads     int64 `json:"reads"`
	Misses    int64 `json:"misses"`
	ReadBytes int64 `json:"read_bytes"`
	MissBytes int64 `json:"miss_bytes"`
	// HitRate and ByteHitRate are fractions of reads and bytes served
	// without waiting for the backend; null before the first read.
	HitRate     *float64 `json:"hit_rate"`
	ByteHitRate *float64 `json:"byte_hit_rate"`
	Evictions   int64    `json:"evictions"`
	Conflicts   int64    `json:"conflicts"`
}

// DirtyStatus is the data awaiting upload.
type DirtyStatus struct {
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	LimitBytes int64 `json:"limit_bytes"`
	// OldestSeconds is how long the longest-waiting file has waited.
	OldestSeconds float64 `json:"oldest_seconds"`
}

// UploadStatus is the write-back queue and the transfer rates.
type UploadStatus struct {
	// QueueOps counts the backend changes journalled and not yet done.
	QueueOps     int   `json:"queue_ops"`
	Uploaded     int64 `json:"uploaded"`
	UploadBytes  int64 `json:"upload_bytes"`
	UploadErrors int64 `json:"upload_errors"`
	// UpBytesPerSec and DownBytesPerSec are averaged over the last
	// minute (less just after start).
	UpBytesPerSec   float64 `json:"up_bytes_per_sec"`
	DownBytesPerSec float64 `json:"down_bytes_per_sec"`
	LastError       string  `json:"last_error,omitempty"`
}

// Failing is a backend change that keeps failing.
type Failing struct {
	// Export is the export's name; Path is the file's, written as the
	// admin verbs take it (the export's name, then the path inside).
	Export   string    `json:"export"`
	Path     string    `json:"path"`
	Op       string    `json:"op"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Since    time.Time `json:"since"`
}

// LimitsStatus are the bandwidth limits.
type LimitsStatus struct {
	// UploadBytesPerSec and DownloadBytesPerSec are in force now; 0 is
	// no limit.
	UploadBytesPerSec   int64 `json:"upload_bytes_per_sec"`
	DownloadBytesPerSec int64 `json:"download_bytes_per_sec"`
	// Rule is the schedule rule in force, "" when none.
	Rule string `json:"rule,omitempty"`
	// Rules lists the schedule, one line per rule.
	Rules []string `json:"rules,omitempty"`
}

// Health says whether the gateway needs attention.
type Health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// Progress is one line of a flush's progress: what remains.
type Progress struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Failing counts the backend changes failing right now (anywhere),
	// LastError is the latest one's error: why a flush may be stuck.
	Failing   int    `json:"failing,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Done is set on the last line, Error on a failure.
	Done  bool   `json:"done,omitempty"`
	Error string `json:"error,omitempty"`
}

// pathRequest is the body of the requests that name a path.
type pathRequest struct {
	Path   string `json:"path"`
	Export string `json:"export"`
	Wait   bool   `json:"wait"`
}

type levelBody struct {
	Level string `json:"level"`
}

type errorBody struct {
	Error string `json:"error"`
}
