// Package version holds the version of this module, shared by the packages
// that report it (the runtime client's [tripswitch.Version] and the
// management client's User-Agent).
package version

// Version is the version of this module.
const Version = "0.1.0"
