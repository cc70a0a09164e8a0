// Package limit wraps a backend.Store to cap the bandwidth of uploads (Put
// bodies) and downloads (Get bodies) on a weekly schedule, such as 2 MiB/s
// up during office hours and no limit at night.
//
// A Schedule is a list of Rules; at any moment the first rule that matches
// the gateway's local time (time.Local: under systemd, /etc/localtime or
// TZ) gives the rates, and no rule matching means no limit. A rule with
// neither days nor hours matches always, so a last such rule is the
// default. One limiter per direction is shared by all transfers: the cap
// is on the gateway's total, however many files move at once.
package limit
