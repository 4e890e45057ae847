// Package localservertest starts a local Tripswitch server for a test, in
// one line:
//
//	srv := localservertest.Start(t)
//	creds := srv.Credentials() // BaseURL, project ID, project key, ingest secret, admin key
//
// The server listens on a random loopback port and is shut down when the
// test ends. Options adjust its [localserver.Config]. The settings only tests
// need have options of their own: [WithClock] with a manual [Clock] for
// tests that control time, [WithPingInterval] and [WithEvalTick] for tests
// that watch streams and transitions. Test servers accept samples stamped
// with any date ([AnyTimestamp]) unless an option sets SampleWindow.
package localservertest
