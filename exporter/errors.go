package exporter

import (
	"errors"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// ErrShutdown is returned by every method that does work after Shutdown.
// It matches sdkmetric.ErrExporterShutdown as well.
var ErrShutdown = fmt.Errorf("exporter: %w", sdkmetric.ErrExporterShutdown)

// ErrAttached is returned by Attach when the exporter has a client.
var ErrAttached = errors.New("exporter: already attached to a client")

// ErrInvalidRoute is matched (errors.Is) by every *RouteError.
var ErrInvalidRoute = errors.New("exporter: invalid route")

// RouteError reports a route that New refuses: Index is its position in
// the routes given to New, Field the Route field at fault.
type RouteError struct {
	Index   int
	Field   string
	Message string
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("exporter: routes[%d].%s: %s", e.Index, e.Field, e.Message)
}

// Is reports whether target is ErrInvalidRoute.
func (e *RouteError) Is(target error) bool { return target == ErrInvalidRoute }

func routeError(i int, field, format string, args ...any) error {
	return &RouteError{Index: i, Field: field, Message: fmt.Sprintf(format, args...)}
}
