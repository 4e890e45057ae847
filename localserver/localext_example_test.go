package localserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

// A test of a fallback path holds a breaker open over HTTP, as a test in any
// language would, then releases it.
func Example_forceOverHTTP() {
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

	post := func(action, body string) {
		url := creds.BaseURL + "/v1/projects/" + creds.ProjectID + "/breakers/checkout-errors/" + action
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+creds.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		state, _, _ := srv.BreakerState(creds.ProjectID, "checkout-errors")
		fmt.Println(action, resp.Status, resp.Header.Get(localserver.ExtensionHeader), state)
	}
	post("state:force", `{"state":"open"}`)
	// … run the code under test: every call takes the fallback …
	post("state:release", "")
	// Output:
	// state:force 200 OK 1 open
	// state:release 200 OK 1 open
}
