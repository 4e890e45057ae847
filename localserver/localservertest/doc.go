// Package localservertest starts a local Tripswitch server for a test, in
// one line:
//
//	srv := localservertest.Start(t)
//	creds := srv.Credentials() // BaseURL, project ID, project key, ingest secret, admin key
//
// The server listens on a random loopback port and is shut down when the
// test ends. Options adjust its [localserver.Config]; [Clock] is a manual
// clock for tests that control time. Test servers accept samples stamped
// with any date ([AnyTimestamp]) unless an option sets SampleWindow.
package localservertest
