// Package vfs is the small file system interface through which the cache
// reaches its data files, so that tests can run the cache over a file
// system that fails or loses power on cue, without root or a tmpfs.
//
// OS, the default, is the operating system's file system: its files are
// *os.File, so a read costs what os.File.ReadAt costs. Mem is an
// in-memory file system that tracks what is durable: CrashClone returns
// what a power cut would leave, only the data and the names made
// durable by an fsync of the file or of its folder. Inject wraps any FS
// and fails the operations an Injector picks, with ENOSPC, EIO or any
// other error, or runs a test's code (a simulated crash) at that point.
package vfs
