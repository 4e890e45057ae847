package tripswitchexporter

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
)

// httpStatusBelow returns a data point classifier like
// exporter.HTTPStatusOK with another threshold.
func httpStatusBelow(code int64) func(attribute.Set) bool {
	if code == 500 {
		return exporter.HTTPStatusOK
	}
	return func(attrs attribute.Set) bool {
		if v, ok := attrs.Value("http.response.status_code"); ok {
			switch v.Type() {
			case attribute.INT64:
				return v.AsInt64() < code
			case attribute.FLOAT64:
				return v.AsFloat64() < float64(code)
			case attribute.STRING:
				n, err := strconv.ParseInt(v.AsString(), 10, 64)
				return err != nil || n < code
			}
			return true
		}
		return !attrs.HasValue("error.type")
	}
}
