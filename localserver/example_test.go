package localserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

// A server with one router and one breaker; the breaker is forced open and
// read back through the management API.
func Example() {
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		panic(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())
	creds := srv.Credentials()

	err = srv.Seed(creds.ProjectID, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "checkout-errors", Metric: "requests", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			RouterIDs: []string{"rtr_checkout"},
		}},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.ForceState(creds.ProjectID, "checkout-errors", "open", 0); err != nil {
		panic(err)
	}

	req, _ := http.NewRequest("GET", creds.BaseURL+"/v1/projects/"+creds.ProjectID+"/breakers/checkout-errors/state", nil)
	req.Header.Set("Authorization", "Bearer "+creds.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	state, _, _ := srv.BreakerState(creds.ProjectID, "checkout-errors")
	fmt.Println(state)
	// Output:
	// 200 OK
	// open
}

// Sending a signed, gzipped batch of samples, as the runtime client does,
// and reading back what the server received.
func ExampleServer_Samples() {
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		panic(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())
	creds := srv.Credentials()

	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	io.WriteString(zw, `{"samples":[{"router_id":"rtr_checkout","metric":"latency","ts_ms":`+ts+`,"value":42.5,"ok":true}]}`)
	zw.Close()

	key, _ := hex.DecodeString(creds.IngestSecret)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body.Bytes())

	req, _ := http.NewRequest("POST", creds.BaseURL+"/v1/projects/"+creds.ProjectID+"/ingest", &body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-EB-Timestamp", ts)
	req.Header.Set("X-EB-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(bytes.TrimSpace(reply)))

	for _, s := range srv.Samples(creds.ProjectID) {
		fmt.Println(s.RouterID, s.Metric, s.Value, s.OK)
	}
	// Output:
	// 202 {"accepted":1,"rejected":0}
	// rtr_checkout latency 42.5 true
}
