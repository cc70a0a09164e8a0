// Package s3test runs a real S3 server for tests and benchmarks:
// versitygw (Apache-2.0) serving a temporary folder on 127.0.0.1, with
// a fresh bucket per caller, handed out as a ready s3.Config.
//
// The binary is looked up in $FILEGATE_VERSITYGW, then PATH, then
// $(go env GOPATH)/bin, then ${XDG_CACHE_HOME:-~/.cache}/filegate-tools/bin
// (where .ci/run installs it). Without it, tests skip, or fail when
// FILEGATE_TEST_NO_SKIP=1 (CI sets it).
//
// Credentials reach the store the way they do in production, through the
// AWS SDK's default chain: a shared credentials file in the server's
// folder with a profile of its own, so the process environment (and any
// real AWS credentials in it) is left alone.
package s3test
