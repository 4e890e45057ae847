package tripswitchhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchhttp"
)

// connect starts the project's local Tripswitch server with a payments
// router and breaker, and a client of it, for the examples.
func connect() (*localserver.Server, *tripswitch.Client) {
	return wraptest.Connect("rtr_payments", "payments-errors", tripswitch.WithTraceIDExtractor(otelbridge.TraceID))
}

func ExampleNewTransport() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())
	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "paid")
	}))
	defer payments.Close()

	tr, err := tripswitchhttp.NewTransport(http.DefaultTransport, client,
		tripswitchhttp.WithBreakers("payments-errors"),
		tripswitchhttp.WithRouter("rtr_payments"),
	)
	if err != nil {
		log.Fatal(err)
	}
	// The client's Timeout covers the whole call; one that expires is a
	// failure sample.
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}

	resp, err := hc.Post(payments.URL, "application/json", nil)
	if errors.Is(err, tripswitch.ErrOpen) {
		fmt.Println("payments breaker open: charge later")
		return
	} else if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close() // the latency sample ends here
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 paid
}

// otelhttp composes in either order. Outside, as here, samples carry the
// trace of the client span and a rejected request ends that span with the
// breaker's error; inside (tripswitchhttp.NewTransport(otelhttp.NewTransport(base), ...)),
// they carry the caller's trace and a rejected request makes no span.
func ExampleNewTransport_otelhttp() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())
	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer payments.Close()
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())

	guarded, err := tripswitchhttp.NewTransport(http.DefaultTransport, client,
		tripswitchhttp.WithBreakers("payments-errors"),
		tripswitchhttp.WithRouter("rtr_payments"),
	)
	if err != nil {
		log.Fatal(err)
	}
	hc := &http.Client{Transport: otelhttp.NewTransport(guarded, otelhttp.WithTracerProvider(tp))}

	ctx, span := tp.Tracer("checkout").Start(context.Background(), "charge")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, payments.URL, nil)
	resp, err := hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	span.End()

	_ = client.Flush(context.Background())
	samples := srv.Samples(client.ProjectID())
	fmt.Println("same trace:", samples[0].TraceID == span.SpanContext().TraceID().String())
	// Output: same trace: true
}

// WithTarget picks breakers and router per request, here by host.
func ExampleWithTarget() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())

	tr, err := tripswitchhttp.NewTransport(http.DefaultTransport, client,
		tripswitchhttp.WithTarget(func(r *http.Request) tripswitchhttp.Target {
			switch r.URL.Host {
			case "payments.internal":
				return tripswitchhttp.Target{Breakers: []string{"payments-errors"}, Router: "rtr_payments"}
			}
			return tripswitchhttp.Target{} // other hosts: not guarded
		}),
	)
	fmt.Println(tr != nil, err)
	// Output: true <nil>
}

func ExampleNewHandler() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	h, err := tripswitchhttp.NewHandler(mux, client,
		tripswitchhttp.WithBreakers("payments-errors"),
		tripswitchhttp.WithRouter("rtr_payments"), // samples are tagged route="POST /orders"
		tripswitchhttp.WithRetryAfter(10*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	app := httptest.NewServer(h)
	defer app.Close()

	post := func() {
		resp, err := http.Post(app.URL+"/orders", "application/json", nil)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%d Retry-After=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	post()

	// The breaker opens: requests are shed before they reach the mux.
	_ = srv.ForceState(client.ProjectID(), "payments-errors", "open", 0)
	for st, _ := client.State("payments-errors"); st.State != tripswitch.StateOpen; st, _ = client.State("payments-errors") {
		time.Sleep(5 * time.Millisecond)
	}
	post()
	// Output:
	// 201 Retry-After=""
	// 503 Retry-After="10"
}
