// Package tripswitchexporter is an OpenTelemetry Collector exporter that
// feeds Tripswitch breakers from the spans and metrics of a whole fleet,
// whatever language its services are written in.
//
// In a traces pipeline, every span selected by a span rule becomes one
// sample, exactly as otelbridge's span processor makes it (the rules are
// otelbridge's): the span's duration in milliseconds, stamped with its
// start, carrying its trace ID, failed when its status is Error or, with
// ok.below_http_status, when its HTTP status code reaches that value. A
// span's resource attributes count as its attributes (its own win), so
// rules select and tag by service.name too.
//
// In a metrics pipeline, the data points of the instruments selected by a
// metric rule become samples as package exporter makes them (the rules
// are exporter's): histograms expanded so that percentiles, means, counts
// and error rates are kept, or reduced to one value; durations converted
// to milliseconds (unit); cumulative points differenced per stream; trace
// IDs from exemplars. A point's resource attributes count as its
// attributes, so that the streams of different services stay apart.
//
//	exporters:
//	  tripswitch:
//	    endpoint: https://api.tripswitch.dev
//	    project_id: proj_abc123
//	    ingest_secret: ${env:TRIPSWITCH_INGEST_SECRET}
//	    spans:
//	      - kind: server
//	        name_prefix: "POST /checkout"
//	        router: rtr_checkout
//	        metric: latency            # required
//	        ok: {below_http_status: 500}
//	        tag_keys: [service.name]
//	    metrics:
//	      - instrument: http.client.request.duration
//	        scope: go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp
//	        router: rtr_payments
//	        metric: latency
//	        reduce: distribution       # default; mean, min, max, sum, count, percentile
//	        ok: {below_http_status: 500}
//	    sending_queue: {queue_size: 1000}
//	    retry_on_failure: {max_elapsed_time: 5m}
//	    timeout: 5s
//
// Each push becomes one signed batch, sent by the Collector's exporter
// helper: the sending queue, retry on failure and the timeout apply as to
// any exporter. A batch the server refuses for good (a 4xx other than 408
// and 429) is dropped as a permanent error; any other failure is retried,
// and a retry sends the samples of the first attempt again rather than
// converting anew. Configuration errors name the field at fault;
// credentials never appear in them.
package tripswitchexporter
