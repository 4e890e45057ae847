package tripswitchreceiver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
)

// DefaultEndpoint is the default of Config.Endpoint.
const DefaultEndpoint = "https://api.tripswitch.dev"

// DefaultCollectionInterval is the default of Config.CollectionInterval.
const DefaultCollectionInterval = 10 * time.Second

// Config is the receiver's configuration.
type Config struct {
	// Endpoint is the Tripswitch base URL. Default DefaultEndpoint.
	Endpoint string `mapstructure:"endpoint"`
	// ProjectID is the project whose breakers are published. Required.
	ProjectID string `mapstructure:"project_id"`
	// ProjectKey (eb_pk_…) reads the project's state stream. Required;
	// give it as ${env:TRIPSWITCH_API_KEY}.
	ProjectKey configopaque.String `mapstructure:"project_key"`
	// CollectionInterval is how often the breaker states are emitted.
	// Default DefaultCollectionInterval.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// InsecureHTTP allows a plain http:// endpoint that is not a loopback
	// address (the project key then travels unencrypted). Default false.
	InsecureHTTP bool `mapstructure:"insecure_http"`
}

// Validate checks the configuration; each error names the field at fault.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q is not an http:// or https:// URL", c.Endpoint))
	}
	if strings.TrimSpace(c.ProjectID) == "" {
		errs = append(errs, errors.New("project_id: required"))
	}
	if c.ProjectKey == "" {
		errs = append(errs, errors.New("project_key: required (for example ${env:TRIPSWITCH_API_KEY})"))
	} else if !strings.HasPrefix(string(c.ProjectKey), "eb_pk_") {
		errs = append(errs, errors.New("project_key: not a project key (they start with eb_pk_)"))
	}
	if c.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval: must be positive, got %v", c.CollectionInterval))
	}
	return errors.Join(errs...)
}
