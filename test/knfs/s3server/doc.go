// Command s3server runs versitygw for test/knfs/run.sh: it starts the
// server in a folder with a fresh bucket, writes a filegate config file
// whose backend is that bucket and an environment file with the
// credentials, then runs until SIGTERM or SIGINT and stops the server.
//
//	s3server -dir DIR -config FILE -env FILE
//
// FILE is written only once the server answers, so its existence means
// ready.
package main
