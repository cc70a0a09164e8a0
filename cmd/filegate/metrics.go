package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/nfsd"
)

// The Prometheus exporter lives here, at the edge: it reads the Stats of
// every export's cache and metered backend, of the NFS server's RPC
// counters and of the limits at each scrape. The cache, dirty, upload and
// backend metrics carry an export label (the export's name, "/office").

// metricSources are what the exporter reads.
type metricSources struct {
	exports []metricExport
	limits  *limit.Store
	version string
	// clients counts the connected NFS clients; rpc returns the RPC
	// counters. Either may be nil.
	clients func() int
	rpc     func() []nfsd.ProcStats
}

// metricExport is one export's cache and backend (nil: not metered).
type metricExport struct {
	name    string
	cache   *cache.Cache
	backend *metered.Store
}

type metricsCollector struct {
	src metricSources
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("filegate_"+name, help, labels, nil)
}

var (
	mBuild         = desc("build_info", "The running version.", "version")
	mHitRatio      = desc("cache_hit_ratio", "Fraction of reads served without waiting for the backend, since start.", "export")
	mByteHitRatio  = desc("cache_byte_hit_ratio", "Fraction of bytes read served without waiting for the backend, since start.", "export")
	mReads         = desc("cache_reads_total", "Reads from the cache.", "export")
	mMisses        = desc("cache_misses_total", "Reads that waited for the backend.", "export")
	mReadBytes     = desc("cache_read_bytes_total", "Bytes read from the cache.", "export")
	mMissBytes     = desc("cache_miss_bytes_total", "Bytes of reads that waited for the backend.", "export")
	mUsed          = desc("cache_used_bytes", "File contents held on the cache disk.", "export")
	mMax           = desc("cache_size_bytes", "The cache size (cache.size).", "export")
	mUsedRatio     = desc("cache_used_ratio", "used_bytes / size_bytes.", "export")
	mEvictions     = desc("cache_evictions_total", "Files whose content was evicted.", "export")
	mDirtyBytes    = desc("dirty_bytes", "Data awaiting upload.", "export")
	mDirtyFiles    = desc("dirty_files", "Files awaiting upload.", "export")
	mDirtyLimit    = desc("dirty_limit_bytes", "The dirty limit (0: none).", "export")
	mDirtyRatio    = desc("dirty_ratio", "dirty_bytes / dirty_limit_bytes (0 without a limit).", "export")
	mDirtyOldest   = desc("dirty_oldest_seconds", "How long the longest-waiting dirty file has waited.", "export")
	mQueue         = desc("upload_queue_ops", "Backend changes journalled and not yet done.", "export")
	mUploads       = desc("uploads_total", "Files uploaded.", "export")
	mUploadBytes   = desc("upload_bytes_total", "Bytes of the files uploaded.", "export")
	mUploadErrors  = desc("upload_errors_total", "Failed attempts of backend changes.", "export")
	mFailing       = desc("upload_failing_files", "Backend changes failing right now.", "export")
	mConflicts     = desc("conflicts_total", "Files changed both here and in the cloud.", "export")
	mDBCommits     = desc("cache_db_commits_total", "Namespace updates made durable: log records (one fdatasync each), or database commits (two) when the log is not in use; concurrent updates share one.", "export")
	mCheckpoints   = desc("cache_db_checkpoints_total", "Commits of the namespace database that took what the namespace log held.", "export")
	mDataSyncs     = desc("cache_data_syncs_total", "fsyncs of local data files.", "export")
	mClients       = desc("nfs_clients", "Connected NFS clients.")
	mRPCs          = desc("rpc_calls_total", "RPC calls read, by program and procedure.", "program", "proc")
	mRPCDur        = desc("rpc_duration_seconds", "Time from an RPC call to its reply.", "program", "proc")
	mBackendUp     = desc("backend_up", "1 if the last probe of the backend got an answer.", "export")
	mBackendProbe  = desc("backend_probe_seconds", "Latency of the last probe of the backend.", "export")
	mBackendSent   = desc("backend_sent_bytes_total", "Bytes sent to the backend (retries included).", "export")
	mBackendRecv   = desc("backend_received_bytes_total", "Bytes received from the backend.", "export")
	mBackendReqs   = desc("backend_requests_total", "Backend requests, by operation.", "export", "op")
	mBackendErrs   = desc("backend_errors_total", "Backend requests that failed, by operation.", "export", "op")
	mBackendTime   = desc("backend_request_seconds_total", "Time spent in backend requests, by operation.", "export", "op")
	mLimitUpload   = desc("limit_upload_bytes_per_second", "Upload limit in force (0: none).")
	mLimitDownload = desc("limit_download_bytes_per_second", "Download limit in force (0: none).")
)

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mBuild, mHitRatio, mByteHitRatio, mReads, mMisses, mReadBytes, mMissBytes,
		mUsed, mMax, mUsedRatio, mEvictions, mDirtyBytes, mDirtyFiles, mDirtyLimit, mDirtyRatio, mDirtyOldest,
		mQueue, mUploads, mUploadBytes, mUploadErrors, mFailing, mConflicts, mDBCommits, mCheckpoints, mDataSyncs, mClients, mRPCs, mRPCDur,
		mBackendUp, mBackendProbe, mBackendSent, mBackendRecv, mBackendReqs, mBackendErrs, mBackendTime,
		mLimitUpload, mLimitDownload} {
		ch <- d
	}
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	n := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g(mBuild, 1, c.src.version)
	for _, x := range c.src.exports {
		c.collectExport(ch, x)
	}
	if c.src.clients != nil {
		g(mClients, float64(c.src.clients()))
	}
	if c.src.rpc != nil {
		bounds := nfsd.RPCBuckets()
		for _, p := range c.src.rpc() {
			if p.Calls == 0 && p.Replies == 0 {
				continue
			}
			n(mRPCs, p.Calls, p.Program, p.Proc)
			buckets := make(map[float64]uint64, len(bounds))
			for i, ub := range bounds {
				buckets[ub] = uint64(p.Buckets[i])
			}
			ch <- prometheus.MustNewConstHistogram(mRPCDur, uint64(p.Replies), p.Total.Seconds(), buckets, p.Program, p.Proc)
		}
	}
	if c.src.limits != nil {
		r := c.src.limits.Current()
		g(mLimitUpload, float64(r.Upload))
		g(mLimitDownload, float64(r.Download))
	}
}

// collectExport sends the metrics of one export, labelled with its name.
func (c *metricsCollector) collectExport(ch chan<- prometheus.Metric, x metricExport) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{x.name}, labels...)...)
	}
	n := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{x.name}, labels...)...)
	}
	st := x.cache.Stats()
	hit := 1.0
	if st.LocalReads > 0 {
		hit = ratio(st.LocalReads-st.Misses, st.LocalReads)
	}
	byteHit := 1.0
	if st.LocalReadBytes > 0 {
		byteHit = ratio(st.LocalReadBytes-st.MissBytes, st.LocalReadBytes)
	}
	g(mHitRatio, hit)
	g(mByteHitRatio, byteHit)
	n(mReads, st.LocalReads)
	n(mMisses, st.Misses)
	n(mReadBytes, st.LocalReadBytes)
	n(mMissBytes, st.MissBytes)
	g(mUsed, float64(st.UsedBytes))
	g(mMax, float64(st.MaxBytes))
	g(mUsedRatio, ratio(st.UsedBytes, st.MaxBytes))
	n(mEvictions, st.Evictions)
	g(mDirtyBytes, float64(st.DirtyBytes))
	g(mDirtyFiles, float64(st.DirtyFiles))
	g(mDirtyLimit, float64(st.DirtyLimitBytes))
	g(mDirtyRatio, ratio(st.DirtyBytes, st.DirtyLimitBytes))
	oldest := 0.0
	if !st.OldestDirty.IsZero() {
		oldest = max(0, time.Since(st.OldestDirty).Seconds())
	}
	g(mDirtyOldest, oldest)
	g(mQueue, float64(st.JournalOps))
	n(mUploads, st.Uploads)
	n(mUploadBytes, st.UploadBytes)
	n(mUploadErrors, st.UploadErrors)
	g(mFailing, float64(len(st.Failing)))
	n(mConflicts, st.Conflicts)
	n(mDBCommits, st.Commits)
	n(mCheckpoints, st.Checkpoints)
	n(mDataSyncs, st.DataSyncs)
	if x.backend == nil {
		return
	}
	bs := x.backend.Stats()
	up := 0.0
	if bs.Probe.Reachable {
		up = 1
	}
	g(mBackendUp, up)
	g(mBackendProbe, bs.Probe.Latency.Seconds())
	n(mBackendSent, bs.BytesUp)
	n(mBackendRecv, bs.BytesDown)
	for _, op := range metered.Ops() {
		o := bs.Ops[op]
		if o.Calls == 0 {
			continue
		}
		n(mBackendReqs, o.Calls, op.String())
		n(mBackendErrs, o.Errors, op.String())
		g(mBackendTime, o.Total.Seconds(), op.String())
	}
}

// metricsHandler returns the /metrics handler: filegate's metrics and the
// Go runtime's and process's.
func metricsHandler(src metricSources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&metricsCollector{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// metricsServer serves /metrics on addr until close.
type metricsServer struct {
	srv  *http.Server
	done chan error
	addr net.Addr
}

func startMetrics(addr string, src metricSources, logger *slog.Logger) (*metricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s (metrics.listen): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(src))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "filegate: metrics at /metrics")
	})
	m := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1), addr: l.Addr()}
	go func() { m.done <- m.srv.Serve(l) }()
	logger.Info("serving metrics", "addr", l.Addr().String())
	return m, nil
}

func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.srv.Close()
	}
	if err := <-m.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = err
	}
}
