// Package admin serves filegate's admin API: HTTP with JSON bodies on a
// unix socket (mode 0600, in the state folder, itself 0700), for
// `filegate status` and the other admin verbs of cmd/filegate. It sees
// every export, each over a cache of its own: status reports each one
// and their sum, and a verb's path names its export by the export's name.
//
// Endpoints, all under /v1/:
//
//	GET  status     the Status document: every export's state and
//	                their sum, the clients, limits and health
//	POST flush      {"path": P, "export": X, "wait": W}: upload now what
//	                is at or below P ("" for everything of every export).
//	                Without wait it answers at once with what is pending;
//	                with wait it streams NDJSON Progress lines until
//	                everything is in the backend ({"done": true}) or it
//	                fails ({"error"})
//	POST refresh    {"path": P, "export": X}: list the directory P (or the
//	                folder of the file P) from the backend now
//	POST pin        {"path": P, "export": X}: fetch P (a file, or every
//	                file below a directory) and keep it cached; unpin
//	                undoes it
//	POST unpin      {"path": P, "export": X}
//	POST evict      {"path": P, "export": X}: drop the cached content the
//	                backend holds
//	GET  loglevel   {"level": "info"}
//	PUT  loglevel   {"level": L}: debug, info, warn or error
//
// P is the export's name followed by a path inside it, as clients see it
// from server:P ("/office/docs/a.txt"; with or without the leading "/"):
// the export with the longest name that P starts with. With X (an
// export's name) P is a path inside X instead. "/" (or "") names every
// export's root, unless an export is named "/". With a single export, a
// P that does not start with its name is a path inside it. The paths in
// the answers, and in Status, are written the same way.
// Errors are {"error": "message"} with a 4xx or 5xx status.
package admin
