// Command load measures the runtime client under sustained concurrent use.
//
// It starts a local Tripswitch server in the same process, seeds a router
// and a breaker that never trips, and calls tripswitch.Execute from several
// goroutines for a fixed time, each call reporting one latency sample that
// the client delivers to the server over loopback. It then prints:
//
//   - calls and calls per second;
//   - p50 and p99 of the task called directly, of the same task through
//     Execute, and of the overhead (Execute minus direct, measured in pairs
//     on every Nth call);
//   - samples produced, delivered, dropped and buffered (client Stats), and
//     samples delivered per second;
//   - the samples the server kept, peak RSS (VmHWM), GOMAXPROCS and the Go
//     version.
//
// The server competes with the callers for the same CPUs, so the figures
// are a lower bound for the client alone.
//
// Usage:
//
//	go run ./bench/load [-duration 30s] [-goroutines 8] [-prepared] [-sample-every 64] [-rate 0] [-cpuprofile file]
//
// With -prepared the options are compiled once with tripswitch.Prepare and
// every call goes through the resulting Call. With -rate the callers
// together make at most that many calls per second.
package main
