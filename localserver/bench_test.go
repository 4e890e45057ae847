package localserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

const benchBatch = 500

// BenchmarkIngest posts gzip batches of 500 signed samples over loopback
// HTTP while the evaluation loop runs, and reports samples per second.
func BenchmarkIngest(b *testing.B) {
	srv := localservertest.Start(b)
	c := srv.Credentials()
	seed := localserver.Seed{}
	kinds := []string{"error_rate", "p95", "avg", "count"}
	for r := range 8 {
		rid := fmt.Sprint("rtr_", r)
		seed.Routers = append(seed.Routers, localserver.SeedRouter{ID: rid, Name: rid})
		for k, kind := range kinds {
			thr := 1e9
			if kind == "error_rate" {
				thr = 0.99
			}
			seed.Breakers = append(seed.Breakers, localserver.SeedBreaker{
				Name: fmt.Sprint(rid, "-", kind), Metric: []string{"latency", "latency", "latency", "errors"}[k],
				Kind: kind, Op: "gt", Threshold: thr, WindowMs: 10_000, EvalIntervalMs: 100, RouterIDs: []string{rid},
			})
		}
	}
	must(b, srv.Seed(c.ProjectID, seed))

	// Pre-built signed batches.
	type batch struct{ body []byte }
	batches := make([]batch, 64)
	now := time.Now()
	for i := range batches {
		samples := make([]localserver.Sample, benchBatch)
		for j := range samples {
			samples[j] = localserver.Sample{RouterID: fmt.Sprint("rtr_", (i+j)%8), Metric: []string{"latency", "errors"}[j%2],
				TsMs: now.UnixMilli() + int64(i*benchBatch+j)/50, Value: float64(j % 300), OK: j%7 != 0,
				Tags: map[string]string{"env": "bench", "host": fmt.Sprint("h", j%4)}, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
		}
		batches[i] = batch{body: gz(b, mustJSON(b, map[string]any{"samples": samples}))}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := c.BaseURL + "/v1/projects/" + c.ProjectID + "/ingest"
	var failures atomic.Int64
	var next atomic.Int64

	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bt := batches[next.Add(1)%int64(len(batches))]
			ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
			req, _ := http.NewRequest("POST", url, bytes.NewReader(bt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("X-EB-Timestamp", ts)
			req.Header.Set("X-EB-Signature", sign(c.IngestSecret, ts, bt.body))
			resp, err := client.Do(req)
			if err != nil {
				failures.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				failures.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d batches failed", n)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkStreamFanout measures the time from a state change until the
// last of 1,000 connected streams has received it (ns/op).
func BenchmarkStreamFanout(b *testing.B) {
	const streams = 1000
	srv := localservertest.Start(b)
	c := srv.Credentials()
	must(b, srv.Seed(c.ProjectID, localserver.Seed{Breakers: []localserver.SeedBreaker{
		{Name: "fan", Metric: "m", Kind: "count", Op: "gt", Threshold: 1e9},
	}}))

	tr := &http.Transport{MaxIdleConnsPerHost: streams}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		delivered sync.WaitGroup
		connected sync.WaitGroup
		readers   sync.WaitGroup
	)
	connected.Add(streams)
	for range streams {
		readers.Add(1)
		go func() {
			defer readers.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", c.BaseURL+"/v1/projects/"+c.ProjectID+"/breakers/state:stream", nil)
			req.Header.Set("Authorization", "Bearer "+c.ProjectKey)
			resp, err := client.Do(req)
			if err != nil {
				connected.Done()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			snapshot := true
			for sc.Scan() {
				if !bytes.HasPrefix(sc.Bytes(), []byte("data: ")) {
					continue
				}
				if snapshot {
					snapshot = false
					connected.Done()
					continue
				}
				delivered.Done()
			}
		}()
	}
	connected.Wait()
	if n := srv.SubscriberCount(c.ProjectID); n != streams {
		b.Fatalf("%d streams connected, want %d", n, streams)
	}
	states := []string{"open", "closed"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		delivered.Add(streams)
		must(b, srv.ForceState(c.ProjectID, "fan", states[i%2], 0))
		delivered.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/last-delivery")
	cancel()
	readers.Wait()
}
