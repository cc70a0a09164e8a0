// Command filegate-bench measures filegate through a real NFSv3 client
// over TCP and puts the same workloads on the bare cache disk beside it,
// in the same run, so the ratio means something on a noisy machine.
//
//	filegate-bench [-rounds 5] [-files 300] [-mib 64] [-dir DIR]
//	filegate-bench -suite cache [-rounds 5] [-mib 64] [-dir DIR]
//	filegate-bench -suite frontends [-rounds 5] [-dir DIR]
//	filegate-bench -suite s3 [-rounds 5] [-dir DIR] [-skip-missing]
//
// It starts a gateway in-process on 127.0.0.1 (cache and POSIX backend
// in temporary folders under -dir) and prints a Markdown table of
// medians over the rounds.
//
// The s3 suite starts versitygw (see backend/s3/s3test) and compares the
// S3 store's PUT and GET throughput with raw SDK calls on the same server.
package main
