package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/filegate/filegate/backend/s3/s3test"
)

func main() {
	dir := flag.String("dir", "", "folder for the server's data and log")
	config := flag.String("config", "", "filegate config file to write")
	env := flag.String("env", "", "shell file of AWS_* variables to write")
	flag.Parse()
	if err := run(*dir, *config, *env); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

func run(dir, config, env string) error {
	if dir == "" || config == "" || env == "" {
		return fmt.Errorf("want -dir, -config and -env")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := s3test.StartServer(dir)
	if err != nil {
		return err
	}
	defer srv.Close()
	const bucket = "filegate-knfs"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	toml := fmt.Sprintf(`# written by test/knfs/s3server
[backend]
type = "s3"
[backend.s3]
bucket = %q
prefix = "share/"
endpoint = %q
path_style = true
region = %q
# small parts: a few MiB written by the guest go up in parts
part_size = "5MiB"
[cache]
upload_delay = "200ms"
# A short TTL, so directories are listed again in the background while
# the guest works in them: listings racing creates and renames.
dir_ttl = "1s"
`, bucket, srv.Endpoint, s3test.Region)
	vars := fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", s3test.AccessKey, s3test.SecretKey)
	if err := writeAtomic(env, vars); err != nil {
		return err
	}
	if err := writeAtomic(config, toml); err != nil {
		return err
	}
	fmt.Println("s3server: versitygw at", srv.Endpoint, "bucket", bucket, "data", filepath.Join(dir, "data"))
	<-ctx.Done()
	return nil
}

func writeAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
