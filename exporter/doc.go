// Package exporter forwards selected OpenTelemetry metrics to Tripswitch
// routers as samples, so that breakers can watch what a service already
// measures: http.client.request.duration from otelhttp, queue depths,
// token counts.
//
// An Exporter is an sdk/metric Exporter. Give it to a PeriodicReader
// beside any other readers; at every collection it turns the data points
// of the instruments its rules select into samples and queues them in a
// tripswitch.Client, which delivers them in the background. Instruments no
// rule selects cost a map lookup per export.
//
//	client, err := tripswitch.NewClient(ctx, "proj_abc123",
//		tripswitch.WithProjectKey(os.Getenv("TRIPSWITCH_API_KEY")),
//		tripswitch.WithIngestSecret(os.Getenv("TRIPSWITCH_INGEST_SECRET")),
//	)
//	if err != nil {
//		return err
//	}
//	exp, err := exporter.New(client, []exporter.Rule{{
//		Instrument: "http.client.request.duration", // seconds, from otelhttp; samples in ms
//		Router:     "rtr_payments",
//		Metric:     "latency",
//		OK:         exporter.OKBelowHTTPStatus(500), // 5xx and transport errors fail
//		TagKeys:    []attribute.Key{"server.address"},
//	}})
//	if err != nil {
//		return err
//	}
//	mp := sdkmetric.NewMeterProvider(
//		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(10*time.Second))),
//		sdkmetric.WithReader(otherReader),
//	)
//	defer client.Close(context.Background()) // after the provider: it flushes the last export
//	defer mp.Shutdown(context.Background())
//
// # Start-up order
//
// A MeterProvider is built at start-up, usually before Tripswitch can be
// reached. New accepts a nil client: the exporter then converts what it is
// given and counts the samples in Stats().Detached, keeping its cumulative
// state, until Attach gives it the client.
//
// # Units
//
// Values of duration instruments (unit "s", "ms", "us", "ns", "min" or
// "h") are converted to milliseconds, the unit of tripswitch.Latency and
// of otelbridge's span samples, so that one "p95 > 300" breaker reads
// them all; Rule.Unit picks another unit, or UnitAsRecorded none. Counts
// are never converted, nor instruments of other units.
//
// # Conversion
//
// Every data point of a selected instrument becomes samples stamped with
// the point's time, with the ok its rule's OK evaluator gives the point's
// attributes (default true) and tags from the rule's TagKeys only.
//
//   - Sum: one sample with the interval's increase (Rule.Total: the
//     running total instead). The exporter asks for delta temporality,
//     except for UpDownCounters, which it asks for cumulatively so that
//     Total reports their level. A cumulative point is differenced
//     against the stream's previous point; see below.
//   - Gauge: one sample with the value.
//   - Histogram and ExponentialHistogram: with ReduceDistribution (the
//     default), one representative sample per measurement, spread across
//     each bucket in proportion to its count, with the extremes at the
//     point's minimum and maximum and the mean equal to the point's mean
//     (see below); a breaker evaluating p95, avg, count or error_rate over
//     the samples sees what it would have seen over the raw measurements,
//     to within bucket resolution. Other Reduce values emit one sample:
//     the mean, minimum, maximum, sum, count or a percentile estimated
//     from the buckets.
//   - Summary: count and sum differenced like a cumulative sum; the
//     distribution is read from the quantiles.
//
// # Down-sampling
//
// A data point expands to at most WithMaxSamplesPerPoint samples (default
// 1,000). When a point of an export has more measurements, every point of
// the same instrument and rule in that export is down-sampled by the same
// factor, with largest-remainder rounding across buckets, so that the
// ratios between points (ok against failed, one host against another) and
// between buckets are kept. The count a breaker sees is then the scaled
// count.
//
// # Buckets
//
// Samples of a bucket are placed evenly inside it. An open lowest bucket
// starts at the point's minimum, or at 0 when it has none and its upper
// bound is positive; an open highest bucket ends at the point's maximum,
// or at its lower bound. When the point has a sum, the samples are moved
// together toward their buckets' upper or lower bounds until their mean
// equals the point's mean (never leaving their bucket).
//
// # Cumulative points
//
// A cumulative point is differenced against the previous point of the same
// stream (instrument and attribute set). The first point of a stream
// counts in full when its start time is not before the exporter was
// created (nothing of it can have been forwarded before), and is only a
// baseline otherwise. A new start time, or a monotonic value that went
// down, is a reset: the point counts in full. Minimum and maximum are
// dropped from differenced histogram points.
//
// # Trace IDs
//
// A sample carries the trace ID of an exemplar when there is a fitting
// one: for a sum or gauge the most recent exemplar with a trace ID; for a
// distribution the exemplar recorded in the sample's bucket; for a reduced
// value the exemplar nearest it.
//
// # State
//
// The exporter keeps, per instrument and attribute set, a reporter and
// the previous cumulative point; streams not reported for 16 exports are
// forgotten, except those of a rule with Total. Beyond 8,192 attribute sets per instrument (the SDK's default
// cardinality limit is 2,000) further sets are converted without being
// kept: they cost allocations, and their cumulative data is not forwarded.
package exporter
